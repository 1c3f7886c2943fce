"""The import graph of headcheck against its intended layers (docs/architecture.md).

Read statically (``ast``, every ``import`` anywhere in a module: top level, inside functions and
under ``TYPE_CHECKING``), so a lazy import that would break a layer counts as much as a top-level one:

    cli  ->  commands  ->  {change, fix, db, summary, github, report, picture}  ->  the static gate

- nothing imports ``headcheck.cli`` but ``__main__``; nothing outside ``commands`` imports a command;
- ``db`` (the proof, a library) imports no command, no CLI, and none of the other features except
  the JSON report format it composes its document with;
- the static gate imports only the static gate;
- no import cycle between modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "headcheck"

ENTRY = frozenset({"headcheck.cli", "headcheck.__main__"})
# above the static gate, below the commands: each reads the gate's result or the proof's
FEATURES = ("headcheck.change", "headcheck.fix", "headcheck.db", "headcheck.summary", "headcheck.github")
RENDERERS = ("headcheck.report", "headcheck.picture")
# what the proof may use besides itself and the static gate: the JSON report it composes with
DB_MAY_USE = frozenset({"headcheck.report.json_report"})
# scan runs opslint's byte scan while it parses, opslint reuses scan's FileIssue and encoding
# reader; a split of scan (the "house" issue, item 3) removes it. Listed so that no other appears.
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The headcheck modules ``name`` imports (``from a.b import c`` is a.b.c when that is a module);
    in a module that uses ``importlib``, every string naming a module too (cli's COMMANDS, FORMATS)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    dynamic = any(
        isinstance(node, ast.Import) and any(alias.name == "importlib" for alias in node.names)
        for node in ast.walk(tree)
    )
    for node in ast.walk(tree):
        if dynamic and isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                module = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in MODULES else module)
    return {module for module in found if module in MODULES and module != name}


GRAPH: dict[str, set[str]] = {name: _imports(name, path) for name, path in MODULES.items()}


def _under(module: str, roots: tuple[str, ...] | frozenset[str]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def layer(module: str) -> str:
    if module in ENTRY:
        return "entry"
    if _under(module, ("headcheck.commands",)):
        return "commands"
    if _under(module, FEATURES) or _under(module, RENDERERS):
        return "feature"
    return "static"


def _edges(graph: Mapping[str, set[str]]) -> Iterator[tuple[str, str]]:
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            yield source, target


def layer_violations(graph: Mapping[str, set[str]]) -> list[str]:
    found = []
    for source, target in _edges(graph):
        src, dst = layer(source), layer(target)
        if target == "headcheck.cli" and source != "headcheck.__main__":
            found.append(f"{source} imports the CLI")
        elif dst == "commands" and src not in ("commands", "entry"):
            found.append(f"{source} ({src}) imports the command {target}")
        elif src == "static" and dst != "static":
            found.append(f"the static gate's {source} imports {target} ({dst})")
        elif (
            _under(source, ("headcheck.db",))
            and dst != "static"
            and not _under(target, ("headcheck.db",))
            and target not in DB_MAY_USE
        ):
            found.append(f"the proof's {source} imports {target} ({dst})")
    return found


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative).
    A module's import of its own package does not count: Python loads the package first anyway
    (``report.text`` uses ``headcheck.report``'s helper, whose FORMATS names ``report.text``)."""
    graph = {
        source: {target for target in targets if not source.startswith(target + ".")}
        for source, targets in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_reader_sees_the_imports_that_matter() -> None:
    """Not vacuous: top-level, lazy (inside a function) and TYPE_CHECKING imports are all read."""
    assert "headcheck.cli" in GRAPH["headcheck.__main__"]  # top level
    assert "headcheck.db.production" in GRAPH["headcheck.commands.db"]  # inside a function
    assert "headcheck.db.proof" in GRAPH["headcheck.summary"]  # under TYPE_CHECKING
    assert "headcheck.db" in GRAPH["headcheck.commands.db"]  # `from headcheck.db import prove`
    assert "headcheck.commands.action" in GRAPH["headcheck.cli"]  # COMMANDS, imported by importlib
    assert "headcheck.report.sarif" in GRAPH["headcheck.report"]  # FORMATS
    assert {layer(m) for m in MODULES} == {"entry", "commands", "feature", "static"}
    assert layer("headcheck.db.runner") == "feature"
    assert layer("headcheck.scan") == "static"


def test_every_module_keeps_to_its_layer() -> None:
    assert layer_violations(GRAPH) == []


def test_no_import_cycles() -> None:
    assert set(cycles(GRAPH)) == KNOWN_CYCLES


@pytest.mark.parametrize(
    ("source", "target", "why"),
    [
        ("headcheck.commands.action", "headcheck.cli", "imports the CLI"),
        ("headcheck.db.proof", "headcheck.commands.db", "imports the command"),
        ("headcheck.db.report", "headcheck.summary", "the proof's headcheck.db.report imports headcheck.summary"),
        ("headcheck.gate", "headcheck.db.proof", "the static gate's headcheck.gate imports"),
        ("headcheck.summary", "headcheck.commands.action", "imports the command"),
    ],
)
def test_a_forbidden_import_is_caught(source: str, target: str, why: str) -> None:
    broken = {name: set(targets) for name, targets in GRAPH.items()}
    broken[source].add(target)
    assert any(why in violation for violation in layer_violations(broken))


def test_a_new_cycle_is_caught() -> None:
    broken = {name: set(targets) for name, targets in GRAPH.items()}
    broken["headcheck.db.trace"].add("headcheck.db.proof")  # proof -> trace already
    assert frozenset({"headcheck.db.trace", "headcheck.db.proof"}) in cycles(broken)
    broken = {name: set(targets) for name, targets in GRAPH.items()}
    broken["headcheck.commands.action"].add("headcheck.cli")  # what `action` calling `main` made
    assert any("headcheck.cli" in cycle for cycle in cycles(broken))

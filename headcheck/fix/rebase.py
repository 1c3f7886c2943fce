"""Keep history linear: put one branch on top of the other head by editing one line.

The root of the moving branch (its first revision after the fork point) gets
``down_revision = '<onto>'`` and its docstring's ``Revises:`` line follows. Only the value's
characters change: the annotation (``down_revision: Union[str, ...] = ...``), the quote style,
comments and line endings stay, so the diff is one or two lines.

Alembic itself only reads ``down_revision`` (the docstring is informational), so after the edit
``alembic heads`` shows one head fewer. Rebasing is for revisions no database has applied yet;
``headcheck check --base REF`` flags re-parenting a revision REF already has (HC503).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import NamedTuple

from headcheck.fix import FixError, heads_to_fix
from headcheck.gate import EnvironmentResult
from headcheck.graph import Graph
from headcheck.source import source_encoding

__all__ = ["RebasePlan", "plan", "rewrite_down_revision"]


class RebasePlan(NamedTuple):
    moving_head: str  # tip of the branch that moves
    onto: str  # the head it goes on top of
    root: str  # the revision whose down_revision changes
    old_down: tuple[str, ...]
    path: Path


def _find(graph: Graph, ref: str, candidates: list[int], what: str) -> int:
    """A node among ``candidates`` by full id or unique prefix."""
    exact = [n for n in candidates if graph.nodes[n].revision == ref]
    if exact:
        return exact[0]
    prefixed = [n for n in candidates if graph.nodes[n].revision.startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    choices = ", ".join(graph.nodes[n].revision for n in candidates)
    if len(prefixed) > 1:
        raise FixError(f"{what} {ref!r} is ambiguous among: {choices}")
    raise FixError(f"{what} {ref!r} is not one of: {choices}")


def _choices(result: EnvironmentResult, heads: list[int]) -> str:
    graph = result.graph
    return "; ".join(
        f"`headcheck rebase {graph.nodes[h].revision}` moves {graph.nodes[h].revision} "
        f"({result.node_files[h].path.name}) on top of "
        f"{' / '.join(graph.nodes[o].revision for o in heads if o != h)}"
        for h in heads
    )


def plan(
    result: EnvironmentResult,
    rev: str | None = None,
    onto: str | None = None,
    base_ids: frozenset[str] | None = None,
) -> RebasePlan:
    """Decide which branch moves and where.

    Which branch moves: the one whose head is not on REF (``base_ids``) when given, else the
    branch of ``rev`` (a head, or any revision only that head's branch holds), else refuse and
    list the choices. ``onto`` defaults to the other head when there are exactly two.
    """
    graph = result.graph
    heads = heads_to_fix(result, "rebase")
    target = _find(graph, onto, heads, "--onto") if onto is not None else None
    mover: int | None = None
    if base_ids is not None:
        mine = [h for h in heads if graph.nodes[h].revision not in base_ids and h != target]
        theirs = [h for h in heads if graph.nodes[h].revision in base_ids]
        if len(mine) == 1:
            mover = mine[0]
            if target is None and len(theirs) == 1:
                target = theirs[0]
        elif rev is None:
            what = "no head" if not mine else f"{len(mine)} heads"
            raise FixError(f"your change has {what} outside the base; choose: {_choices(result, heads)}")
    if mover is None and rev is not None:
        node = _find(graph, rev, list(graph.by_id.values()), "revision")
        owners = [h for h in heads if node in graph.ancestors(h) and h != target]
        if len(owners) != 1:
            raise FixError(
                f"revision {graph.nodes[node].revision} is on {len(owners)} branches; "
                f"name a head: {_choices(result, heads)}"
            )
        mover = owners[0]
    if mover is None:
        raise FixError(f"{len(heads)} heads; say which branch moves: {_choices(result, heads)}")
    if target is None:
        others = [h for h in heads if h != mover]
        if len(others) != 1:
            raise FixError(
                f"{len(heads)} heads; pass --onto with one of: {', '.join(graph.nodes[h].revision for h in others)}"
            )
        target = others[0]
    if target == mover:
        raise FixError("a branch cannot be rebased onto itself")
    below = graph.ancestors(target)
    branch = graph.ancestors(mover) - below
    roots = [n for n in branch if not any(p in branch for p in graph.parents(n))]
    if len(roots) != 1:
        names = ", ".join(sorted(graph.nodes[n].revision for n in roots))
        raise FixError(
            f"the branch of {graph.nodes[mover].revision} starts at {len(roots)} revisions ({names}); "
            "use headcheck merge"
        )
    root = roots[0]
    old_down = graph.nodes[root].down
    if not old_down:
        raise FixError(
            f"{graph.nodes[root].revision} is a base (down_revision = None): the branches share no history; "
            "use headcheck merge"
        )
    if len(set(old_down)) > 1:
        raise FixError(f"{graph.nodes[root].revision} is a merge revision ({', '.join(old_down)}); use headcheck merge")
    return RebasePlan(
        graph.nodes[mover].revision,
        graph.nodes[target].revision,
        graph.nodes[root].revision,
        old_down,
        result.node_files[root].path,
    )


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for match in re.finditer(r"\r\n|\r|\n", text):
        starts.append(match.end())
    return starts


def _offset(text: str, starts: list[int], lineno: int, col: int) -> int:
    """Character offset of ``ast``'s (line, UTF-8 byte column) position."""
    line_start = starts[lineno - 1]
    line_end = starts[lineno] if lineno < len(starts) else len(text)
    line = text[line_start:line_end]
    return line_start + len(line.encode("utf-8")[:col].decode("utf-8", "replace"))


def _last_binding(module: ast.Module, name: str) -> ast.expr | None:
    """The value expression of the last top-level ``name = ...`` (plain, annotated or unpacked)."""
    found: ast.expr | None = None
    for stmt in module.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    found = stmt.value
                elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(stmt.value, (ast.Tuple, ast.List)):
                    for sub_target, sub_value in zip(target.elts, stmt.value.elts, strict=False):
                        if isinstance(sub_target, ast.Name) and sub_target.id == name:
                            found = sub_value
        elif (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.target.id == name
            and stmt.value is not None
        ):
            found = stmt.value
    return found


def _quote(value: ast.expr, module: ast.Module, source: str) -> str:
    """The quote character the file already uses for its revision ids."""
    candidates = [value, _last_binding(module, "revision")]
    for node in candidates:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            segment = ast.get_source_segment(source, node) or ""
            for char in segment:
                if char in "'\"":
                    return char
    return "'"


def rewrite_down_revision(data: bytes, onto: str, old_down: tuple[str, ...]) -> bytes:
    """The file with down_revision set to ``onto`` and the docstring's Revises: line updated."""
    encoding = source_encoding(data)
    try:
        text = data.decode(encoding)
        module = ast.parse(data)
    except (LookupError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        raise FixError(f"cannot parse the file to rewrite it: {exc}") from None
    value = _last_binding(module, "down_revision")
    if value is None or value.end_lineno is None or value.end_col_offset is None:
        raise FixError("no literal down_revision assignment to rewrite")
    try:
        current = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError):
        current = object()
    current_ids = (current,) if isinstance(current, str) else current
    if not isinstance(current_ids, (tuple, list)) or tuple(current_ids) != old_down:
        raise FixError(f"down_revision is no longer {', '.join(old_down)}; run headcheck again")
    starts = _line_starts(text)
    begin = _offset(text, starts, value.lineno, value.col_offset)
    end = _offset(text, starts, value.end_lineno, value.end_col_offset)
    quote = _quote(value, module, text)
    text = f"{text[:begin]}{quote}{onto}{quote}{text[end:]}"
    text = _rewrite_revises(text, module, starts, onto)
    return text.encode(encoding)


def _rewrite_revises(text: str, module: ast.Module, starts: list[int], onto: str) -> str:
    """Change the ids on the docstring's ``Revises:`` line (the docstring precedes the value edit)."""
    if not module.body:
        return text
    first = module.body[0]
    if not (
        isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    ):
        return text
    doc_start = starts[first.lineno - 1]
    doc_end = starts[first.end_lineno] if first.end_lineno is not None and first.end_lineno < len(starts) else len(text)
    pattern = re.compile(r"^([ \t]*Revises:[ \t]*)([^\r\n\"']*?)([ \t]*)(?=[\r\n]|$)", re.MULTILINE)
    match = pattern.search(text, doc_start, doc_end)
    if match is None:
        return text
    return f"{text[: match.start(2)]}{onto}{text[match.end(2) :]}"

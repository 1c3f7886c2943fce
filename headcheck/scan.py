"""Read revision files into records with ``ast``, never importing or executing them.

File selection follows ``alembic.script.base.Script._list_py_dir`` / ``_from_path``: every
version location in order, files in sorted name order, ``.py`` files whose name does not start
with ``__init__`` or ``.#``; subfolders only with ``recursive_version_locations``. Alembic
*executes* each file and reads module attributes; headcheck reads the last top-level literal
binding instead and says "cannot verify statically" for anything else.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.graph import Node

__all__ = [
    "FileIssue",
    "RevisionFile",
    "Scan",
    "Value",
    "list_revision_paths",
    "parse_revision",
    "read_revision",
    "revision_node",
    "scan_locations",
]

CANDIDATE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
LEGACY_HEX_NAME = re.compile(r"([a-f0-9]+)\.py$")
ILLEGAL_CHARS = frozenset("@-+:")
# Names Alembic resolves symbolically before looking at revision ids.
RESERVED_IDS = frozenset({"head", "heads", "base", "current"})
ATTRIBUTES = ("revision", "down_revision", "branch_labels", "depends_on")
_REVISES = re.compile(r"^\s*Revises:[ \t]*(.*)$", re.MULTILINE)
_REVISION_GUESS = re.compile(rb"""^revision\s*(?::[^=\n]*)?=\s*['"]([^'"\n]+)['"]""", re.MULTILINE)
_DYNAMIC = object()


class Value(NamedTuple):
    """The last top-level binding of one attribute."""

    value: Any  # the literal, or None when not literal
    line: int
    literal: bool  # False: computed, imported or conditional; cannot verify statically
    text: str  # source text of the expression


class FileIssue(NamedTuple):
    code: str
    message: str
    line: int | None


class RevisionFile(NamedTuple):
    path: Path
    values: dict[str, Value]
    revises_doc: tuple[str, ...] | None  # ids on the docstring's "Revises:" line
    revises_line: int | None
    has_upgrade: bool
    issues: tuple[FileIssue, ...]  # problems that stop Alembic from loading this file
    guessed_id: str | None  # id recovered by regex from a file that does not parse


class Scan(NamedTuple):
    files: tuple[RevisionFile, ...]
    twice: tuple[tuple[Path, Path], ...]  # (skipped path, first path): Alembic's "loaded twice"
    ignored_dirs: tuple[Path, ...]  # subfolders with .py files skipped (recursion off)
    missing: tuple[Path, ...]  # version locations that do not exist


def list_revision_paths(
    locations: tuple[Path, ...], recursive: bool
) -> tuple[list[Path], list[tuple[Path, Path]], list[Path], list[Path]]:
    """Candidate files in Alembic's load order, plus duplicates, ignored subfolders, missing dirs."""
    paths: list[Path] = []
    seen: dict[str, Path] = {}
    twice: list[tuple[Path, Path]] = []
    ignored: list[Path] = []
    missing: list[Path] = []
    for location in locations:
        if not location.is_dir():
            missing.append(location)
            continue
        # Alembic's os.walk drops a folder it cannot list without a word (an empty graph that
        # passes); headcheck lists the folder as an unreadable "file" so that the gate fails.
        unreadable: list[OSError] = []
        for dirpath, dirnames, entries in _walk(location, unreadable):
            if dirpath.endswith("__pycache__"):
                dirnames[:] = []
                continue
            # Alembic dedupes on Path.resolve(); resolve the folder once and only links per file.
            real_dir = os.path.realpath(dirpath) + os.sep
            for entry in entries:
                filename = entry.name
                # Alembic lists every file, resolves it, and only then matches the *resolved* name:
                # a link "b.py" to "notes.txt" is skipped, a link "x.txt" to "a.py" is loaded.
                link = entry.is_symlink()
                if not link and not CANDIDATE.match(filename):
                    continue
                real = os.path.realpath(entry.path) if link else real_dir + filename
                if link and not CANDIDATE.match(os.path.basename(real)):
                    continue
                path = Path(entry.path)
                if real in seen:
                    twice.append((path, seen[real]))
                    continue
                seen[real] = path
                paths.append(path)
            if not recursive:
                for name in dirnames:
                    sub = Path(dirpath, name)
                    if name.endswith("__pycache__"):
                        continue
                    if _has_py_files(sub):
                        ignored.append(sub)
                break
            dirnames[:] = [d for d in dirnames if not d.endswith("__pycache__")]
        paths.extend(Path(error.filename) for error in unreadable if error.filename)
    return paths, twice, ignored, missing


def _walk(top: Path, errors: list[OSError]) -> Iterator[tuple[str, list[str], list[os.DirEntry[str]]]]:
    """``os.walk`` (top-down, no links followed, sorted) that also yields the file entries.

    The entries carry the file type from the directory listing itself, so telling links from
    files costs no extra system call per file.
    """
    todo = [os.fspath(top)]
    while todo:
        folder = todo.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            errors.append(exc)
            continue
        dirnames: list[str] = []
        files: list[os.DirEntry[str]] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows links, as os.walk's classification does
            except OSError:
                is_dir = False
            if is_dir:
                dirnames.append(entry.name)
            else:
                files.append(entry)
        yield folder, dirnames, files
        for name in reversed(dirnames):
            sub = os.path.join(folder, name)
            if not os.path.islink(sub):  # os.walk(followlinks=False) does not descend into links
                todo.append(sub)


def _has_py_files(folder: Path) -> bool:
    try:
        for _, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.endswith("__pycache__")]
            if any(CANDIDATE.match(name) for name in filenames):
                return True
    except OSError:
        return False
    return False


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _DYNAMIC


def _bind(values: dict[str, Value], target: ast.expr, value: ast.expr | None, source: str, dynamic: bool) -> None:
    """Record ``target = value`` for the attributes we track (tuple unpacking included)."""
    if isinstance(target, ast.Name):
        if target.id not in ATTRIBUTES:
            return
        literal = _DYNAMIC if dynamic or value is None else _literal(value)
        line = value.lineno if value is not None else target.lineno
        if literal is _DYNAMIC:
            # get_source_segment re-splits the whole file: only pay for it when reporting.
            text = (ast.get_source_segment(source, value) or "") if value is not None else ""
            values[target.id] = Value(None, line, False, text)
        else:
            values[target.id] = Value(literal, line, True, repr(literal))
    elif isinstance(target, (ast.Tuple, ast.List)):
        elements = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
        starred = any(isinstance(t, ast.Starred) for t in target.elts)
        if elements is not None and len(elements) == len(target.elts) and not starred:
            for sub_target, sub_value in zip(target.elts, elements):
                _bind(values, sub_target, sub_value, source, dynamic)
        else:
            for sub_target in target.elts:
                inner = sub_target.value if isinstance(sub_target, ast.Starred) else sub_target
                _bind(values, inner, value, source, True)


def _nested_bindings(stmt: ast.stmt) -> list[ast.Name]:
    """Names bound inside compound statements (if/try/with/for/while) at module level."""
    names: list[ast.Name] = []
    for node in ast.walk(stmt):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in ATTRIBUTES:
            names.append(node)
    return names


def _deleted_names(targets: list[ast.expr]) -> list[str]:
    names: list[str] = []
    for target in targets:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            names.extend(_deleted_names(target.elts))
    return names


def _walk_module(module: ast.Module, source: str) -> tuple[dict[str, Value], bool]:
    values: dict[str, Value] = {}
    has_upgrade = False
    for stmt in module.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _bind(values, target, stmt.value, source, False)
        elif isinstance(stmt, ast.AnnAssign):
            # A bare annotation (``down_revision: str``) binds nothing, as at run time.
            if stmt.value is not None:
                _bind(values, stmt.target, stmt.value, source, False)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name == "upgrade":
                has_upgrade = True
            if stmt.name in ATTRIBUTES:
                values[stmt.name] = Value(None, stmt.lineno, False, f"def {stmt.name}")
        elif isinstance(stmt, ast.Delete):
            # ``del revision`` at module level removes the attribute, as if never bound.
            for name in _deleted_names(stmt.targets):
                values.pop(name, None)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound in ATTRIBUTES:
                    values[bound] = Value(None, stmt.lineno, False, f"import {alias.name}")
        else:
            for bound_name in _nested_bindings(stmt):
                segment = ast.get_source_segment(source, stmt) or ""
                values[bound_name.id] = Value(None, bound_name.lineno, False, segment)
    return values, has_upgrade


def _revises_from_docstring(module: ast.Module) -> tuple[tuple[str, ...] | None, int | None]:
    if not module.body:
        return None, None
    first = module.body[0]
    if not (
        isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    ):
        return None, None
    doc = first.value.value
    match = _REVISES.search(doc)
    if match is None:
        return None, None
    ids = tuple(part for part in re.split(r"[\s,]+", match.group(1).strip()) if part and part != "None")
    line = first.lineno + doc.count("\n", 0, match.start(1))
    return ids, line


def read_revision(path: Path) -> RevisionFile:
    """Read and parse one file; a file that cannot be read becomes a record with an issue."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if path.is_dir():
            try:
                os.listdir(path)
            except OSError as listing:
                reason = listing.strerror or type(listing).__name__
            return RevisionFile(
                path, {}, None, None, False, (FileIssue("HC204", f"cannot read folder: {reason}", None),), None
            )
        return RevisionFile(
            path, {}, None, None, False, (FileIssue("HC204", f"cannot read file: {reason}", None),), None
        )
    return parse_revision(path, data)


def parse_revision(path: Path, data: bytes) -> RevisionFile:
    """Parse a revision file's bytes (from disk or from git); PEP 263 cookies are honoured."""
    try:
        module = ast.parse(data, filename=str(path))
    except SyntaxError as exc:
        guess = _REVISION_GUESS.search(data)
        guessed = guess.group(1).decode("ascii", "replace") if guess else None
        detail = exc.msg if exc.msg else "invalid syntax"
        return RevisionFile(
            path, {}, None, None, False, (FileIssue("HC201", f"syntax error: {detail}", exc.lineno),), guessed
        )
    except (ValueError, MemoryError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return RevisionFile(path, {}, None, None, False, (FileIssue("HC201", f"cannot parse: {reason}", None),), None)
    try:
        source = data.decode(source_encoding(data))
    except (LookupError, UnicodeDecodeError):
        source = data.decode("utf-8", "replace")
    values, has_upgrade = _walk_module(module, source)
    revises, revises_line = _revises_from_docstring(module)
    return RevisionFile(path, values, revises, revises_line, has_upgrade, (), None)


def source_encoding(data: bytes) -> str:
    """The encoding Python reads a source file with: a BOM, a PEP 263 cookie, else UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    match = re.search(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", b"\n".join(data.split(b"\n", 2)[:2]), re.MULTILINE)
    return match.group(1).decode("ascii") if match else "utf-8"


def scan_locations(locations: tuple[Path, ...], recursive: bool) -> Scan:
    paths, twice, ignored, missing = list_revision_paths(locations, recursive)
    files = tuple(read_revision(path) for path in paths)
    return Scan(files, tuple(twice), tuple(ignored), tuple(missing))


def _to_tuple(value: Any) -> tuple[Any, ...]:
    """``alembic.util.to_tuple``."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list, set, frozenset, dict)):
        return tuple(value)
    return (value,)


def _as_scalar(value: tuple[Any, ...]) -> Any:
    """``alembic.script.revision.tuple_rev_as_scalar``."""
    if not value:
        return None
    if len(value) == 1:
        return value[0]
    return value


def revision_node(rf: RevisionFile) -> tuple[Node | None, list[FileIssue]]:
    """Turn a parsed file into a graph node as ``Script._from_path`` + ``Revision.__init__`` would.

    Returns ``(None, issues)`` when Alembic could not load the file at all.
    """
    issues = list(rf.issues)
    if issues:
        return None, issues
    values = rf.values
    dynamic = [name for name in ATTRIBUTES if name in values and not values[name].literal]
    for name in dynamic:
        value = values[name]
        issues.append(
            FileIssue("HC205", f"{name} = {value.text or '...'} is not a literal; cannot verify statically", value.line)
        )
    if "revision" in dynamic or "down_revision" in dynamic:
        return None, issues
    rev_value = values.get("revision")
    if rev_value is None:
        # Alembic applies the legacy rule to the resolved file name (a symlink's target).
        name = rf.path.name if not rf.path.is_symlink() else os.path.basename(os.path.realpath(rf.path))
        legacy = LEGACY_HEX_NAME.match(name)
        if legacy is None:
            hint = "" if rf.has_upgrade else " (no upgrade() either: a helper module in versions/?)"
            issues.append(FileIssue("HC202", f"no 'revision' variable and the file name is not a hex id{hint}", 1))
            return None, issues
        revision: Any = legacy.group(1)
        rev_line = 1
    else:
        revision, rev_line = rev_value.value, rev_value.line
    down_value = values.get("down_revision")
    if down_value is None:
        hint = "" if rf.has_upgrade else " (no upgrade() either: a helper module in versions/?)"
        issues.append(FileIssue("HC203", f"no 'down_revision' variable{hint}", 1))
        return None, issues
    if not isinstance(revision, str):
        issues.append(FileIssue("HC206", f"revision must be a string, got {type(revision).__name__}", rev_line))
        return None, issues
    down_raw = down_value.value
    deps_value = values.get("depends_on")
    deps_raw = deps_value.value if deps_value is not None and deps_value.literal else None
    labels_value = values.get("branch_labels")
    labels_raw = labels_value.value if labels_value is not None and labels_value.literal else None
    # Revision.__init__ order: self-loop, dependency self-loop, illegal characters.
    down_tuple = _to_tuple(down_raw)
    if down_raw and revision in down_tuple:
        issues.append(FileIssue("HC108", f"revision {revision} names itself in down_revision", down_value.line))
    if deps_raw is not None and revision in _to_tuple(deps_raw):
        line = deps_value.line if deps_value else None
        issues.append(FileIssue("HC109", f"revision {revision} names itself in depends_on", line))
    bad = sorted(set(revision) & ILLEGAL_CHARS)
    if bad:
        issues.append(
            FileIssue(
                "HC110",
                f"Character(s) '{', '.join(bad)}' not allowed in revision identifier '{revision}'",
                rev_line,
            )
        )
    if revision in RESERVED_IDS:
        issues.append(FileIssue("HC111", f"revision id '{revision}' is a reserved symbolic name", rev_line))
    for name, raw, val in (("down_revision", down_raw, down_value), ("depends_on", deps_raw, deps_value)):
        items = _to_tuple(raw)
        if len(items) > 1 and not all(isinstance(item, str) for item in items):
            issues.append(
                FileIssue(
                    "HC206",
                    f"{name} must hold only strings, got {val.text if val else raw!r}",
                    val.line if val else None,
                )
            )
        elif len(items) == 1 and not isinstance(items[0], str) and items[0] is not None:
            issues.append(
                FileIssue(
                    "HC206",
                    f"{name} must be a string, tuple or None, got {val.text if val else raw!r}",
                    val.line if val else None,
                )
            )
    # Alembic maps whatever hashable values branch_labels holds; a non-string one can never be
    # named by a down_revision or depends_on, so it is left out (Alembic loads such files).
    labels_all = _to_tuple(labels_raw)
    if any(isinstance(label, (list, dict, set)) for label in labels_all):
        line = labels_value.line if labels_value else None
        issues.append(FileIssue("HC206", "branch_labels must be a string or a sequence of strings", line))
    labels = tuple(label for label in labels_all if isinstance(label, str))
    # A non-string inside down_revision/depends_on (HC206) only breaks Alembic when it links the
    # graph, after branch labels are mapped: keep the node, without the bad entries, so label
    # collisions and the rest of the graph are still checked.
    down_scalar = _as_scalar(down_tuple)
    deps_scalar = _as_scalar(_to_tuple(deps_raw))
    self_loop = any(issue.code in ("HC108", "HC109") for issue in issues)
    down = tuple(d for d in _to_tuple(down_scalar) if isinstance(d, str) and not (self_loop and d == revision))
    deps = tuple(d for d in _to_tuple(deps_scalar) if isinstance(d, str) and d != revision)
    node = Node(
        revision=revision,
        down=down,
        is_base=down_scalar is None,
        depends_on=deps if deps_scalar else (),  # Alembic: `if revision.dependencies:`
        has_dependencies=deps_scalar is not None,
        labels=labels,  # duplicates kept: Alembic maps _orig_branch_labels, so ('x', 'x') collides with itself
    )
    from headcheck.opslint import body_issues  # the static twins of the lock rules (HC611-HC613): warnings

    return node, issues + body_issues(rf.path)

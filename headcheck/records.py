"""Revision records: what Alembic's ``Revision`` holds, normalised from a scanned file.

Between ``headcheck.scan`` (which reads files) and ``headcheck.graph`` (which links records and
knows nothing about files). ``revision_node`` does what ``Script._from_path`` and
``Revision.__init__`` do with a module's attributes, and reports what would stop Alembic from
loading the file.
"""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

from headcheck.scan import ATTRIBUTES, RevisionFile
from headcheck.source import FileIssue

__all__ = [
    "ILLEGAL_CHARS",
    "LEGACY_HEX_NAME",
    "RESERVED_IDS",
    "Node",
    "as_scalar",
    "illegal_chars",
    "revision_node",
    "to_tuple",
]

LEGACY_HEX_NAME = re.compile(r"([a-f0-9]+)\.py$")
# ``Revision._revision_illegal_chars``: Alembic refuses a revision id holding any of these.
ILLEGAL_CHARS = frozenset("@-+:")
# Names Alembic resolves symbolically before looking at revision ids.
RESERVED_IDS = frozenset({"head", "heads", "base", "current"})
_new = tuple.__new__


class Node(NamedTuple):
    """One revision, normalised as ``Revision.__init__`` does."""

    revision: str
    down: tuple[str, ...]  # to_tuple(down_revision): () for a base; duplicates kept
    is_base: bool  # down_revision is None after normalisation ('' is not a base)
    depends_on: tuple[str, ...]  # references to resolve (ids or declared labels)
    has_dependencies: bool  # dependencies is not None (depends_on = '' blocks "real base")
    labels: tuple[str, ...]  # declared branch_labels


def illegal_chars(revision: str) -> list[str]:
    """The characters of ``revision`` that ``Revision.__init__`` refuses, sorted."""
    return sorted(set(revision) & ILLEGAL_CHARS)


def to_tuple(value: Any) -> tuple[Any, ...]:
    """``alembic.util.to_tuple``."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list, set, frozenset, dict)):
        return tuple(value)
    return (value,)


def as_scalar(value: tuple[Any, ...]) -> Any:
    """``alembic.script.revision.tuple_rev_as_scalar``."""
    if not value:
        return None
    if len(value) == 1:
        return value[0]
    return value


def _plain_node(values: dict[str, Any]) -> Node | None:
    """The node of the usual file, with none of the checks below firing: a literal non-empty string
    id without illegal characters, down_revision None, another id or a tuple of other ids, no
    labels or dependencies. None for anything else (then the full rules decide)."""
    rev_value = values.get("revision")
    down_value = values.get("down_revision")
    if rev_value is None or down_value is None or not (rev_value.literal and down_value.literal):
        return None
    for name in ("branch_labels", "depends_on"):
        value = values.get(name)
        if value is not None and not (value.literal and value.value is None):
            return None
    revision = rev_value.value
    if type(revision) is not str or not revision or revision in RESERVED_IDS or not ILLEGAL_CHARS.isdisjoint(revision):
        return None
    down = down_value.value
    # (tuple.__new__: the named tuple without its Python-level __new__, for every revision)
    if down is None:
        return _new(Node, (revision, (), True, (), False, ()))
    if type(down) is str:
        down = (down,)
    elif type(down) is not tuple or not down or not all(type(item) is str for item in down):
        return None
    if revision in down:
        return None
    return _new(Node, (revision, down, False, (), False, ()))


def revision_node(rf: RevisionFile) -> tuple[Node | None, list[FileIssue]]:
    """Turn a parsed file into a graph node as ``Script._from_path`` + ``Revision.__init__`` would.

    Returns ``(None, issues)`` when Alembic could not load the file at all.
    """
    if rf.issues:
        return None, list(rf.issues)
    values = rf.values
    plain = _plain_node(values)
    if plain is not None:
        return plain, list(rf.warnings)
    issues: list[FileIssue] = []
    dynamic = [name for name in ATTRIBUTES if name in values and not values[name].literal]
    for name in dynamic:
        value = values[name]
        why = value.ref[1] if isinstance(value.ref, tuple) and value.ref[0] == "why" else None
        if why is not None:
            message = f"{name} = {value.text or '...'} cannot be resolved statically: {why}"
        else:
            message = f"{name} = {value.text or '...'} is not a literal; cannot verify statically"
        issues.append(FileIssue("HC205", message, value.line))
    if "revision" in dynamic or "down_revision" in dynamic:
        return None, issues
    rev_value = values.get("revision")
    if rev_value is None:
        # Alembic applies the legacy rule to the resolved file name (a symlink's target).
        name = rf.path.name if not os.path.islink(rf.path) else os.path.basename(os.path.realpath(rf.path))
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
    down_tuple = to_tuple(down_raw)
    if down_raw and revision in down_tuple:
        issues.append(FileIssue("HC108", f"revision {revision} names itself in down_revision", down_value.line))
    if deps_raw is not None and revision in to_tuple(deps_raw):
        line = deps_value.line if deps_value else None
        issues.append(FileIssue("HC109", f"revision {revision} names itself in depends_on", line))
    bad = illegal_chars(revision)
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
        items = to_tuple(raw)
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
    labels_all = to_tuple(labels_raw)
    if any(isinstance(label, (list, dict, set)) for label in labels_all):
        line = labels_value.line if labels_value else None
        issues.append(FileIssue("HC206", "branch_labels must be a string or a sequence of strings", line))
    labels = tuple(label for label in labels_all if isinstance(label, str))
    # A non-string inside down_revision/depends_on (HC206) only breaks Alembic when it links the
    # graph, after branch labels are mapped: keep the node, without the bad entries, so label
    # collisions and the rest of the graph are still checked.
    down_scalar = as_scalar(down_tuple)
    deps_scalar = as_scalar(to_tuple(deps_raw))
    self_loop = any(issue.code in ("HC108", "HC109") for issue in issues)
    down = tuple(d for d in to_tuple(down_scalar) if isinstance(d, str) and not (self_loop and d == revision))
    deps = tuple(d for d in to_tuple(deps_scalar) if isinstance(d, str) and d != revision)
    node = Node(
        revision=revision,
        down=down,
        is_base=down_scalar is None,
        depends_on=deps if deps_scalar else (),  # Alembic: `if revision.dependencies:`
        has_dependencies=deps_scalar is not None,
        labels=labels,  # duplicates kept: Alembic maps _orig_branch_labels, so ('x', 'x') collides with itself
    )

    return node, issues + list(rf.warnings)

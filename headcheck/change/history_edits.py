"""HC501/HC502/HC503: revisions that exist on REF and that the change edited, deleted or re-parented.

Databases already stamped with such a revision would diverge from the code. An edit that only
touches comments or formatting (the same syntax tree) is not an edit.
"""

from __future__ import annotations

import ast
from pathlib import Path

from headcheck.change.post_merge import FileVersion, down_of, files_by_id, parsed
from headcheck.findings import Finding, relpath
from headcheck.rules import RULES

__all__ = ["first_changed_line", "history_edits", "same_code"]


def history_edits(
    base: dict[str, FileVersion],
    work: dict[str, FileVersion],
    ancestor: dict[str, FileVersion] | None,
    ref: str,
    root: Path,
) -> list[Finding]:
    """HC501/HC502/HC503 for revisions on REF that the change edited, deleted or re-parented."""
    base_ids, work_ids = files_by_id(base), files_by_id(work)
    old_ids = files_by_id(ancestor) if ancestor is not None else None
    found: list[Finding] = []
    for rid, theirs in base_ids.items():
        mine = work_ids.get(rid)
        if mine is None:
            if old_ids is not None and rid in old_ids:
                rule = RULES["HC502"]
                found.append(
                    Finding(
                        "HC502",
                        rule.severity,
                        f"revision {rid} exists on {ref} ({relpath(theirs.path, root)}) and your change deletes it; "
                        "databases already at it can no longer upgrade or downgrade",
                        f"Restore {relpath(theirs.path, root)} from {ref}",
                        theirs.path,
                        None,
                        (rid,),
                    )
                )
            continue
        if same_code(theirs.data, mine.data):
            continue
        if old_ids is not None and rid in old_ids and same_code(old_ids[rid].data, mine.data):
            continue  # REF edited it after the fork; the change did not
        old_down, new_down = down_of(theirs), down_of(mine)
        where = relpath(mine.path, root)
        if old_down is not None and new_down is not None and set(old_down) != set(new_down):
            value = parsed(mine.path, mine.data).values.get("down_revision")
            was = ", ".join(old_down) or "None"
            now = ", ".join(new_down) or "None"
            found.append(
                Finding(
                    "HC503",
                    RULES["HC503"].severity,
                    f"revision {rid} revises {was} on {ref}, but your change re-parents it onto {now}; "
                    "databases already past it would skip or repeat migrations",
                    f"Restore down_revision in {where} and add a new revision (or `headcheck merge`) instead",
                    mine.path,
                    value.line if value is not None else None,
                    (rid,),
                )
            )
            continue
        found.append(
            Finding(
                "HC501",
                RULES["HC501"].severity,
                f"revision {rid} already exists on {ref} and your change edits it; "
                "databases that applied it will never run the new code",
                f"Revert the edit to {where} and put the change in a new revision",
                mine.path,
                first_changed_line(theirs.data, mine.data),
                (rid,),
            )
        )
    return found


def same_code(a: bytes, b: bytes) -> bool:
    """Equal, or equal once comments and formatting are ignored (the same syntax tree)."""
    if a == b:
        return True
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return same_tree(ast.parse(a), ast.parse(b))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False


def same_tree(a: ast.AST, b: ast.AST) -> bool:
    """``ast.dump(a) == ast.dump(b)`` without recursion: a 1,000-term expression is fine."""
    todo: list[tuple[object, object]] = [(a, b)]
    while todo:
        x, y = todo.pop()
        if isinstance(x, ast.AST):
            if type(x) is not type(y):
                return False
            todo.extend((getattr(x, field, None), getattr(y, field, None)) for field in x._fields)
        elif isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                return False
            todo.extend(zip(x, y, strict=True))
        elif type(x) is not type(y) or x != y:
            return False
    return True


def first_changed_line(old: bytes, new: bytes) -> int | None:
    """The first line of ``new`` that differs from ``old`` (1-based; None when equal). Linear."""
    old_lines = old.decode("utf-8", "replace").splitlines()
    new_lines = new.decode("utf-8", "replace").splitlines()
    for number, (was, now) in enumerate(zip(old_lines, new_lines, strict=False), 1):
        if was != now:
            return number
    if len(old_lines) == len(new_lines):
        return None
    # Lines added at the end, or the end removed: point at the first added line or the last one.
    return min(len(old_lines) + 1, max(len(new_lines), 1))

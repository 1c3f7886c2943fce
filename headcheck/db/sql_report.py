"""The SQL each revision executed during the proof, per revision, upgrade and downgrade: the
``revisions`` list of the JSON report and the ``--show-sql`` text. The first upgrade and the first
downgrade of each revision are shown (a re-upgrade repeats the first)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from headcheck.db.locks import mode_name
from headcheck.db.trace import Statement, StepTrace
from headcheck.findings import relpath
from headcheck.logsafe import block, line

__all__ = ["first_steps", "revisions_dict", "sql_lines"]

_DIRECTIONS = {"up": "upgrade", "down": "downgrade"}


def first_steps(traces: Iterable[StepTrace]) -> dict[str, dict[str, StepTrace]]:
    """revision -> {"upgrade": trace, "downgrade": trace}, in the order the revisions first ran."""
    shown: dict[str, dict[str, StepTrace]] = {}
    for trace in traces:
        shown.setdefault(trace.revision, {}).setdefault(_DIRECTIONS[trace.direction], trace)
    return shown


def _path(trace: StepTrace, root: Path | None) -> str | None:
    if trace.path is None:
        return None
    return relpath(Path(trace.path), root) if root is not None else trace.path


def _statement(statement: Statement) -> dict[str, Any]:
    data: dict[str, Any] = {"sql": statement.sql, "seconds": statement.seconds, "line": statement.line}
    if statement.lock_timeout is not None:
        data["lock_timeout"] = statement.lock_timeout
        data["locks"] = [{"relation": name, "kind": kind, "mode": mode} for name, kind, mode in statement.locks]
        data["rewrites"] = [{"relation": name, "kind": kind} for name, kind in statement.rewrites]
    return data


def revisions_dict(traces: Iterable[StepTrace], root: Path | None) -> list[dict[str, Any]]:
    out = []
    for revision, steps in first_steps(traces).items():
        any_step = next(iter(steps.values()))
        entry: dict[str, Any] = {"revision": revision, "file": _path(any_step, root)}
        for direction in ("upgrade", "downgrade"):
            if direction in steps:
                entry[direction] = [_statement(s) for s in steps[direction].statements]
        out.append(entry)
    return out


def sql_lines(traces: Iterable[StepTrace], root: Path | None) -> list[str]:
    out: list[str] = []
    for revision, steps in first_steps(traces).items():
        any_step = next(iter(steps.values()))
        out.append(line(f"  SQL of {revision} ({_path(any_step, root) or 'no file'})"))
        for direction in ("upgrade", "downgrade"):
            if direction not in steps:
                continue
            statements = steps[direction].statements
            out.append(f"    {direction}: {len(statements)} statement(s)")
            for statement in statements:
                where = f"line {statement.line}" if statement.line is not None else "outside the revision file"
                locks = ", ".join(f"{mode_name(mode)} on {name}" for name, _, mode in statement.locks)
                rewrites = ", ".join(f"rewrites {name}" for name, _ in statement.rewrites)
                notes = "; ".join(part for part in (locks, rewrites) if part)
                out.append(line(f"      {where}, {statement.seconds:.4f} s{': ' + notes if notes else ''}"))
                out.append(block(statement.sql, indent="        "))
    return out

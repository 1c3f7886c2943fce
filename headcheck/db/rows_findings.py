"""What the generated rows showed (headcheck.db.rows, in the migration child) as findings.

HC630: a step failed with rows in the tables and passed on the same tables emptied: it fails on
deploy wherever the tables hold such rows. HC631: a checked downgrade dropped a column or table
holding values that existed before the upgrade, and found nowhere after it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.findings import Finding
from headcheck.inline_ignore import Ignores, read_ignores
from headcheck.rules import RULES

__all__ = ["RowsObservation", "rows_findings", "rows_notice", "rows_observations"]

ERROR_CHARS = 400
STATEMENT_CHARS = 300


class RowsObservation(NamedTuple):
    kind: str  # "failure" (HC630), "loss" (HC631) or "stopped" (headcheck's own rows SQL failed: no more rows)
    direction: str  # "up" or "down"
    revision: str
    path: str | None  # the revision file
    seed: int  # of the rows: --seed reproduces them
    data: Mapping[str, Any]  # the child's description (headcheck.db.rows.Failure, or one loss)


def rows_observations(
    direction: str, revision: str, path: str | None, seed: int, event: Mapping[str, Any]
) -> list[RowsObservation]:
    """The observations of one step event of the child."""
    found = []
    failure = event.get("rows_failure")
    if isinstance(failure, dict):
        found.append(RowsObservation("failure", direction, revision, path, seed, failure))
    for loss in event.get("rows_lost") or ():
        if isinstance(loss, dict):
            found.append(RowsObservation("loss", direction, revision, path, seed, loss))
    stopped = event.get("rows_broken")
    if isinstance(stopped, str):
        found.append(RowsObservation("stopped", direction, revision, path, seed, {"error": stopped}))
    return found


def rows_notice(observations: Iterable[RowsObservation]) -> str | None:
    """Why the rows stopped (the first step after headcheck's own rows SQL failed: the proof went
    on without rows from there), or None."""
    for obs in observations:
        if obs.kind == "stopped":
            what = "upgrade" if obs.direction == "up" else "downgrade"
            error = _cut(str(obs.data.get("error") or ""), ERROR_CHARS)
            return f"stopped at the {what} of {obs.revision} (the proof went on without rows): {error}"
    return None


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def rows_findings(
    observations: Iterable[RowsObservation], ignore: Collection[str] = (), keep: Collection[str] | None = None
) -> list[Finding]:
    """HC630 and HC631 findings, one per (code, step direction, revision, table/column).
    ``keep``: only these revisions (``--base``: the history before them is what production has)."""
    found: list[Finding] = []
    seen: set[tuple[str, ...]] = set()
    comments: dict[str, Ignores] = {}
    for obs in observations:
        if keep is not None and obs.revision not in keep:
            continue
        data = obs.data
        path = Path(obs.path) if obs.path else None
        line = data.get("line") if isinstance(data.get("line"), int) else None
        if obs.kind == "stopped":
            continue  # not a finding: the report says it (rows_notice)
        if obs.kind == "failure":
            code = "HC630"
            key = (code, obs.direction, obs.revision)
            what = "upgrade" if obs.direction == "up" else "downgrade"
            table = data.get("table")
            parts = [
                f"{what} of {obs.revision} fails on a table with rows"
                + (f" ({table})" if table else "")
                + " and passes on empty tables: "
                + _cut(str(data.get("error") or ""), ERROR_CHARS)
            ]
            if data.get("statement"):
                parts.append("statement: " + _cut(str(data["statement"]), STATEMENT_CHARS))
            if data.get("sample"):
                parts.append("a row: " + _cut(str(data["sample"]), STATEMENT_CHARS))
            message = "; ".join(parts)
        else:
            code = "HC631"
            table, column = str(data.get("table")), data.get("column")
            what = f"column {table}.{column}" if column else f"table {table}"
            key = (code, obs.revision, what)
            sources = [str(s) for s in data.get("from") or ()]
            message = (
                f"downgrade of {obs.revision} drops {what} holding {data.get('lost')} value(s) that existed before "
                f"the upgrade" + (f" (in {', '.join(sources)})" if sources else "") + ": they are lost"
            )
        if code in ignore or key in seen:
            continue
        if obs.path:
            if obs.path not in comments:
                comments[obs.path] = read_ignores(obs.path)
            if comments[obs.path].ignored(code, line):
                continue
        seen.add(key)
        fix = f"{RULES[code].fix} (rows from --seed {obs.seed}; --no-rows runs without them)"
        found.append(Finding(code, RULES[code].severity, message, fix, path, line, (obs.revision,)))
    return found

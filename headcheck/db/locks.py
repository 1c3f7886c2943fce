"""Findings from what the proof observed (headcheck.db.trace): the locks each revision's first
upgrade takes on tables that existed before it, the relations it rewrites, and how long those
locks stay held. Every finding sits at the line of the ``op.*`` call that emitted the statement.

Only relations that existed when the revision started count: a table the revision creates
itself is empty, and locking it blocks nobody. headcheck cannot know table sizes, so these are
warnings (``--strict`` or ``[tool.headcheck] strict = true`` makes them fail the gate).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from headcheck.db.trace import DANGEROUS, Statement, StepTrace
from headcheck.findings import Finding
from headcheck.inline_ignore import Ignores, read_ignores
from headcheck.rules import RULES

__all__ = ["lock_findings", "mode_name"]

_TABLE_KINDS = ("r", "p", "m")
_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)", re.I | re.M)
_DROP_INDEX = re.compile(r"^\s*DROP\s+INDEX\b(?!\s+CONCURRENTLY)", re.I | re.M)
_VALIDATED = re.compile(r"\bADD\s+(CONSTRAINT\s+\S+\s+)?(FOREIGN\s+KEY|CHECK)\b", re.I)
_NOT_VALID = re.compile(r"\bNOT\s+VALID\b", re.I)
_SET_NOT_NULL = re.compile(r"\bSET\s+NOT\s+NULL\b", re.I)
_NO_TIMEOUT = ("0", "0ms", "0s")


def mode_name(mode: str) -> str:
    """``AccessExclusiveLock`` -> ``ACCESS EXCLUSIVE`` (as the PostgreSQL docs name them)."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", mode.removesuffix("Lock")).upper()


def _what(mode: str) -> str:
    """``an ACCESS EXCLUSIVE lock (blocks reads and writes)``."""
    name = mode_name(mode)
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name} lock (blocks {DANGEROUS[mode]})"


def _verb(sql: str) -> str:
    words = sql.split()
    return " ".join(words[:2]).upper() if words else "the statement"


class _Collector:
    def __init__(self, trace: StepTrace, ignore: frozenset[str]) -> None:
        self.trace = trace
        self.ignore = ignore
        self.path = Path(trace.path) if trace.path else None
        self.comments: Ignores | None = None  # (read at the first finding: most revisions have none)
        self.found: list[Finding] = []

    def add(self, code: str, statement: Statement, message: str, fix: str | None = None) -> None:
        if code in self.ignore:
            return
        if self.comments is None:
            self.comments = read_ignores(self.trace.path)
        if self.comments.ignored(code, statement.line):
            return
        rule = RULES[code]
        self.found.append(
            Finding(
                code,
                rule.severity,
                f"revision {self.trace.revision}: {message}",
                fix or rule.fix,
                self.path,
                statement.line,
                (self.trace.revision,),
            )
        )


def _statement_findings(out: _Collector, statement: Statement, timeout_reported: list[bool]) -> None:
    sql = statement.sql
    tables = [(name, mode) for name, kind, mode in statement.locks if kind in _TABLE_KINDS and mode in DANGEROUS]
    rewritten_tables = [name for name, kind in statement.rewrites if kind in _TABLE_KINDS]
    explained: set[str] = set()  # tables a more specific rule already reported for this statement
    for name in rewritten_tables:
        out.add(
            "HC602",
            statement,
            f"{_verb(sql)} rewrites table {name}, which existed before this revision: the whole table is "
            "copied while an ACCESS EXCLUSIVE lock blocks reads and writes",
        )
        explained.add(name)
    if not rewritten_tables:
        for name, kind in statement.rewrites:
            if kind in ("i", "I"):
                out.add("HC602", statement, f"{_verb(sql)} rebuilds index {name}, which existed before this revision")
    for name, mode in tables:
        if name in explained:
            continue
        if _CREATE_INDEX.search(sql) or _DROP_INDEX.search(sql):
            action = "creates an index on" if _CREATE_INDEX.search(sql) else "drops an index of"
            out.add(
                "HC603",
                statement,
                f"{_verb(sql)} {action} table {name} without CONCURRENTLY: {_what(mode)} is held for the whole build",
            )
        elif _VALIDATED.search(sql) and not _NOT_VALID.search(sql):
            out.add(
                "HC604",
                statement,
                f"{_verb(sql)} adds a constraint and validates it at once: table {name} is scanned under {_what(mode)}",
            )
        elif _SET_NOT_NULL.search(sql) and statement.proven_not_null:
            pass  # a validated CHECK (col IS NOT NULL) proves it: no scan, the lock is brief
        elif _SET_NOT_NULL.search(sql):
            out.add(
                "HC605",
                statement,
                f"SET NOT NULL scans table {name} under {_what(mode)} to check every row",
            )
        else:
            out.add("HC601", statement, f"{_verb(sql)} takes {_what(mode)} on table {name}, which existed before")
        explained.add(name)
    if tables and statement.lock_timeout in _NO_TIMEOUT and not timeout_reported[0]:
        timeout_reported[0] = True
        name, mode = tables[0]
        out.add(
            "HC606",
            statement,
            f"{_verb(sql)} takes {_what(mode)} on table {name} with no lock_timeout: while it waits behind "
            "a long query, every other query on the table queues behind it",
        )


def _held_after(traces: Sequence[StepTrace], position: int, index: int, lock: tuple[str, str]) -> tuple[int, list[str]]:
    """How many statements after ``traces[position].statements[index]`` run while ``lock`` is held,
    and the later revisions among them. Within a revision, a statement that was not observed (it
    could not touch an existing table) runs under the lock the last observation showed; a later
    revision counts when its start still shows the lock (one transaction for several revisions)."""
    later = 0
    revisions: list[str] = []
    for t_index in range(position, len(traces)):
        trace = traces[t_index]
        if t_index == position:
            statements = trace.statements[index + 1 :]
        elif lock in trace.held_at_start:
            statements = trace.statements
        else:
            break
        for statement in statements:
            if statement.lock_timeout is not None and lock not in statement.held:
                return later, revisions
            later += 1
            if t_index != position and trace.revision not in revisions:
                revisions.append(trace.revision)
    return later, revisions


def _held_findings(out: _Collector, traces: Sequence[StepTrace], position: int) -> None:
    """A dangerous lock taken by ``traces[position]`` and still held while later statements run."""
    trace = traces[position]
    reported: set[str] = set()
    for k, statement in enumerate(trace.statements):
        for name, kind, mode in statement.locks:
            if kind not in _TABLE_KINDS or mode not in DANGEROUS or name in reported:
                continue
            later, revisions = _held_after(traces, position, k, (name, mode))
            if later:
                reported.add(name)
                also = f", including revision(s) {', '.join(revisions)}" if revisions else ""
                out.add(
                    "HC607",
                    statement,
                    f"the {mode_name(mode)} lock on table {name} taken here stays held while {later} later "
                    f"statement(s) run in the same transaction{also}",
                )


def lock_findings(traces: Iterable[StepTrace], ignore: frozenset[str] = frozenset()) -> list[Finding]:
    """Findings for every revision's first upgrade (the traces that observed locks)."""
    observed = [t for t in traces if t.observed]
    found: list[Finding] = []
    for position, trace in enumerate(observed):
        out = _Collector(trace, ignore)
        timeout_reported = [False]
        for statement in trace.statements:
            _statement_findings(out, statement, timeout_reported)
        _held_findings(out, observed, position)
        found += out.found
    return found

"""What each revision does to the database, observed in the migration child (see headcheck.db.runner).

Every statement the migration connection executes (a SQLAlchemy ``before/after_cursor_execute``
listener on that one connection: the snapshot and guard queries go through the DB-API cursor and
are not seen) is recorded with its duration and the innermost stack frame in the revision file,
i.e. the line of the ``op.*`` call or ``op.execute`` that emitted it.

During a revision's first upgrade (what a deploy runs), after every statement one query on the
same connection reads ``pg_locks`` for the migration's own backend (the approach of eugene), the
``relfilenode`` of the locked relations and ``lock_timeout``. Compared with the relations that
existed when the revision started (one query per revision), that yields the locks taken on
existing relations, the relations rewritten (a new ``relfilenode``) and the dangerous locks still
held. headcheck.db.locks turns these facts into findings in the parent.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from headcheck.db.kept import FORGETS, Kept, Query, read

__all__ = ["DANGEROUS", "KEPT", "Statement", "StepTrace", "Tracer", "step_trace"]

# lock modes that block other sessions' reads or writes of the table (PostgreSQL docs, 13.3.1)
DANGEROUS = {
    "AccessExclusiveLock": "reads and writes",
    "ExclusiveLock": "writes",
    "ShareRowExclusiveLock": "writes",
    "ShareLock": "writes",
}
SQL_LIMIT = 20_000  # characters of one statement kept (a bulk insert can be huge)

_SKIP_SCHEMAS = "('pg_catalog', 'information_schema')"
# the locks this backend holds on relations, each with the relation's storage now
_HELD = """
coalesce((SELECT json_agg(json_build_array(l.relation::bigint, l.mode, c.relfilenode::bigint))
          FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
          WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())), '[]')::text
"""
# at the start of a revision, one round trip: the relations of the database's own schemas with
# what identifies their storage, the locks held, and lock_timeout (every relation created after
# initdb has an OID of at least 16384, FirstNormalObjectId: read through the OID index, the
# catalogs' own hundreds of rows are skipped)
_BEGIN = Query(
    f"""
SELECT coalesce((SELECT json_agg(json_build_array(c.oid::bigint, n.nspname || '.' || c.relname, c.relkind::text,
                                                   c.relfilenode::bigint))
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'm', 'i', 'I') AND n.nspname NOT IN {_SKIP_SCHEMAS}
                   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'), '[]')::text,
       coalesce((SELECT json_agg(json_build_array(l.relation::bigint, l.mode)) FROM pg_locks l
                 WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'), '[]')::text,
       current_setting('lock_timeout')
""",
    "hc_relations text, hc_locks text, hc_timeout text",
)
# once per run: did the project set lock_timeout? (headcheck's own throwaway server sets one on its
# command line, a safety net that counts as none)
_TIMEOUT_SOURCE = "SELECT source NOT IN ('default', 'command line') FROM pg_settings WHERE name = 'lock_timeout'"
# after a statement: lock_timeout and the locks
_AFTER = Query(f"SELECT current_setting('lock_timeout'), {_HELD}", "hc_timeout text, hc_locks text")
KEPT = (_BEGIN, _AFTER)  # (headcheck.db.kept: the queries asked at every revision and statement)
# A statement that names no relation existing before the revision and is one of these cannot lock
# or rewrite one (pg_locks is read only after the others: with hundreds of locks held in one
# transaction, each read costs milliseconds)
# SET NOT NULL skips its full-table scan when a validated CHECK (col IS NOT NULL) already proves it
# (PostgreSQL 12+, "ALTER TABLE ... SET NOT NULL"): the recipe squawk and strong_migrations teach
_SET_NOT_NULL = re.compile(r"\bALTER\s+COLUMN\s+(\"(?:[^\"]|\"\")+\"|[\w$]+)\s+SET\s+NOT\s+NULL\b", re.I)
_PROVEN_NOT_NULL = """
SELECT a.attname FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
WHERE k.conrelid = %s::oid AND k.contype = 'c' AND k.convalidated AND cardinality(k.conkey) = 1
  AND upper(regexp_replace(pg_get_constraintdef(k.oid), '[()\\s"]', '', 'g'))
    = upper('CHECK' || regexp_replace(a.attname, '[()\\s"]', '', 'g') || 'ISNOTNULL')
"""
_HARMLESS = re.compile(r"^\s*CREATE\s+(TABLE|(UNIQUE\s+)?INDEX|SEQUENCE|TYPE|SCHEMA)\b", re.I)
_WORD = re.compile(r"[A-Za-z_][\w$]*")


class Statement(NamedTuple):
    sql: str
    seconds: float
    line: int | None  # in the revision file: the op.* call that emitted it
    lock_timeout: str | None = None  # None: not observed
    locks: tuple[tuple[str, str, str], ...] = ()  # (relation, relkind, mode) newly taken on existing relations
    rewrites: tuple[tuple[str, str], ...] = ()  # (relation, relkind) whose storage was replaced
    held: tuple[tuple[str, str], ...] = ()  # (table, mode): dangerous locks held on existing tables afterwards
    proven_not_null: bool = False  # every column it SETs NOT NULL has a validated CHECK (col IS NOT NULL)


class StepTrace(NamedTuple):
    """The statements of one migration step (an upgrade or downgrade of one revision)."""

    direction: str  # "up" or "down"
    revision: str
    path: str | None  # the revision file
    observed: bool  # locks were read after each statement (the revision's first upgrade)
    statements: tuple[Statement, ...]
    held_at_start: tuple[tuple[str, str], ...] = ()  # (table, mode) dangerous locks already held


def step_trace(direction: str, revision: str, path: str | None, data: dict[str, Any]) -> StepTrace:
    """The parent's record of the child's ``trace`` event data."""
    statements = tuple(
        Statement(
            str(s["sql"]),
            float(s["seconds"]),
            s.get("line"),
            s.get("lock_timeout"),
            tuple(tuple(x) for x in s.get("locks", ())),
            tuple(tuple(x) for x in s.get("rewrites", ())),
            tuple(tuple(x) for x in s.get("held", ())),
            bool(s.get("proven_not_null")),
        )
        for s in data.get("statements", ())
    )
    held = tuple((str(name), str(mode)) for name, mode in data.get("held", ()))
    return StepTrace(direction, revision, path, bool(data.get("observed")), statements, held)


# When an earlier revision in the same transaction already holds a lock on a relation, pg_locks
# cannot show what this revision's statement needs: the mode is inferred from the statement
# (PostgreSQL docs, "Table-Level Locks"), for the relations the statement names.
_INFER = (
    (re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b", re.I), "ShareUpdateExclusiveLock"),
    (re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.I), "ShareLock"),
    (re.compile(r"^\s*ALTER\s+TABLE\b.*\bVALIDATE\s+CONSTRAINT\b", re.I | re.S), "ShareUpdateExclusiveLock"),
    (re.compile(r"^\s*ALTER\s+TABLE\b.*\bFOREIGN\s+KEY\b", re.I | re.S), "ShareRowExclusiveLock"),
    (re.compile(r"^\s*(ALTER|DROP|TRUNCATE)\s+TABLE\b", re.I), "AccessExclusiveLock"),
    (re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?(CONSTRAINT\s+)?TRIGGER\b", re.I), "ShareRowExclusiveLock"),
    (re.compile(r"^\s*CREATE\s+TABLE\b.*\bREFERENCES\b", re.I | re.S), "ShareRowExclusiveLock"),
)


_TARGET = re.compile(
    r"^\s*(?:ALTER\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?|DROP\s+TABLE(?:\s+IF\s+EXISTS)?|TRUNCATE(?:\s+TABLE)?"
    r"|CREATE\s+(?:UNIQUE\s+)?INDEX\b.*?\bON(?:\s+ONLY)?|CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\b.*?\bON)"
    r"\s+([\w.\"$]+)",
    re.I | re.S,
)
_REFERENCES = re.compile(r"\bREFERENCES\s+([\w.\"$]+)", re.I)


def inferred_locks(sql: str) -> list[tuple[str, str]]:
    """(relation as written, lock mode) the statement needs, as far as its text tells."""
    found: list[tuple[str, str]] = []
    target = _TARGET.search(sql)
    if target is not None:
        mode = next((mode for pattern, mode in _INFER if pattern.search(sql)), None)
        if mode is not None:
            found.append((target.group(1).replace('"', ""), mode))
    found += [(m.group(1).replace('"', ""), "ShareRowExclusiveLock") for m in _REFERENCES.finditer(sql)]
    return found


def _same(written: str, name: str) -> bool:
    """Does ``written`` (``rel`` or ``schema.rel``) name the relation ``schema.rel``?"""
    return written == name or ("." not in written and written == name.split(".", 1)[-1])


def _unquote(identifier: str) -> str:
    """``"My Col"`` -> ``My Col``; ``email`` -> ``email`` (PostgreSQL folds unquoted names to lower case)."""
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.lower()


def _unquote_name(written: str) -> str:
    """A possibly schema-qualified, possibly quoted relation name as pg_class spells it."""
    return ".".join(_unquote(part) for part in re.findall(r'"(?:[^"]|"")+"|[^.]+', written))


def _dispatch_before(conn: Any, *args: Any) -> None:
    tracer = conn.info.get("headcheck.tracer")
    if tracer is not None:
        tracer.before_cursor_execute(conn, *args)


def _dispatch_after(conn: Any, *args: Any) -> None:
    tracer = conn.info.get("headcheck.tracer")
    if tracer is not None:
        tracer.after_cursor_execute(conn, *args)


def _dispatch_rollback(conn: Any) -> None:
    tracer = conn.info.get("headcheck.tracer")
    if tracer is not None and tracer.kept is not None:
        tracer.kept.forget()  # (its functions may be gone with the transaction)


def _rows(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


class Tracer:
    """Listens on the migration connection; ``begin``/``end`` frame one migration step."""

    def __init__(self, execute: Callable[[str], Any], version_table: str, kept: Kept | None = None) -> None:
        self.execute = execute
        self.kept = kept  # runs :data:`KEPT` (plain SQL without it)
        self.version_table = version_table
        self.path: str | None = None
        self.observe = False
        self.statements: list[dict[str, Any]] = []
        self.existing: dict[int, tuple[str, str, int]] = {}  # oid -> (name, relkind, relfilenode)
        self.seen: set[tuple[int, str]] = set()  # (oid, mode) held after the previous statement
        self.started = 0.0
        self.broken: str | None = None  # the lock query failed once: observe no more
        self.names: set[str] = set()  # bare names of the existing relations
        self.timeout = ("0", False)  # lock_timeout when the revision started, and whether the project set it
        self.first = True
        self.held_at_start: list[list[str]] = []

    def install(self, connection: Any) -> None:
        """Listen on ``connection``; a connection that a previous run already listens on (an env.py
        keeping its connection between runs) gets this tracer instead, never a second listener."""
        from sqlalchemy import event

        connection.info["headcheck.tracer"] = self
        if not connection.info.get("headcheck.listening"):
            connection.info["headcheck.listening"] = True
            event.listen(connection, "before_cursor_execute", _dispatch_before)
            event.listen(connection, "after_cursor_execute", _dispatch_after)
            event.listen(connection, "rollback", _dispatch_rollback)  # (Connection.rollback(): no SQL seen)

    def begin(self, path: str | None, observe: bool) -> None:
        """A step of the revision in file ``path`` starts; ``observe``: read locks after each statement."""
        self.path = path
        self.statements = []
        self.observe = observe and self.broken is None
        if self.observe:
            try:
                relations, locks, timeout = read(self.execute, _BEGIN, self.kept)[0]
                if str(timeout) != self.timeout[0] or self.first:
                    self.first = False
                    self.timeout = (str(timeout), bool(self.execute(_TIMEOUT_SOURCE)[0][0]))
                self.existing = {int(oid): (name, kind, int(node)) for oid, name, kind, node in _rows(relations)}
                self.names = {name.split(".", 1)[-1] for name, _, _ in self.existing.values()}
                self.seen = {(int(oid), str(mode)) for oid, mode in _rows(locks)}
                self.held_at_start = self._dangerous(self.seen)
            except Exception as exc:  # observing must never break the user's migration
                self.broken = f"{type(exc).__name__}: {exc}"
                self.observe = False

    def end(self) -> dict[str, Any]:
        trace: dict[str, Any] = {"statements": self.statements, "path": self.path}
        if self.observe:
            trace["observed"] = True
            trace["held"] = self.held_at_start
        self.path = None
        self.statements = []
        self.observe = False
        return trace

    def _held(self) -> tuple[str, set[tuple[int, str]], dict[int, int]]:
        value, locks = read(self.execute, _AFTER, self.kept)[0]
        held = {(int(oid), str(mode)) for oid, mode, _ in _rows(locks)}
        nodes = {int(oid): int(node) for oid, _, node in _rows(locks) if node is not None}
        # a value changed since the revision started was SET by the migration itself
        timeout = str(value) if str(value) != self.timeout[0] or self.timeout[1] else "0"
        return timeout, held, nodes

    def _dangerous(self, held: set[tuple[int, str]]) -> list[list[str]]:
        """(table, mode) of the locks in ``held`` that block reads or writes of an existing table."""
        existing = self.existing
        return sorted(
            [existing[oid][0], mode]
            for oid, mode in held
            if oid in existing and mode in DANGEROUS and existing[oid][1] in ("r", "p", "m")
        )

    def _may_touch_existing(self, sql: str) -> bool:
        return not _HARMLESS.match(sql) or not self.names.isdisjoint(_WORD.findall(sql))

    def _line(self) -> int | None:
        """The line of the innermost frame running the revision file."""
        frame = sys._getframe(2)  # noqa: SLF001 -- sys._getframe is CPython's documented frame access
        while frame is not None:
            if frame.f_code.co_filename == self.path:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None

    def before_cursor_execute(
        self, _conn: Any, _cursor: Any, _statement: str, _parameters: Any, _context: Any, _many: bool
    ) -> None:
        if self.path is not None:
            self.started = time.perf_counter()

    def after_cursor_execute(
        self, _conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool
    ) -> None:
        if self.path is None:
            return
        seconds = time.perf_counter() - self.started
        line = self._line()
        if line is None and self.version_table and self.version_table in statement:
            return  # Alembic's own bookkeeping, not the revision's
        record: dict[str, Any] = {"sql": statement[:SQL_LIMIT].strip(), "seconds": round(seconds, 6), "line": line}
        if self.kept is not None and FORGETS.match(statement):
            self.kept.forget()  # (its functions may be gone with the transaction)
        if self.observe and self._may_touch_existing(record["sql"]):
            try:
                self._observe(record)
            except Exception as exc:
                self.broken = f"{type(exc).__name__}: {exc}"
                self.observe = False
        self.statements.append(record)

    def _observe(self, record: dict[str, Any]) -> None:
        timeout, held, nodes = self._held()
        existing = self.existing
        new = held - self.seen
        # relations this session had locked before the statement (by an earlier statement or
        # revision of the same transaction): what the statement needs there is inferred
        locked_before = {oid for oid, _ in self.seen if oid in existing} - {oid for oid, _ in new}
        if locked_before:
            for written, mode in inferred_locks(record["sql"]):
                for oid in locked_before:
                    if _same(written, existing[oid][0]) and (oid, mode) not in new:
                        new.add((oid, mode))
                        record["inferred"] = True
        taken = [
            [existing[oid][0], existing[oid][1], mode]
            for oid, mode in sorted(new)
            if oid in existing and existing[oid][0].split(".", 1)[-1] != self.version_table
        ]
        rewritten = sorted(
            [existing[oid][0], existing[oid][1]]
            for oid, node in nodes.items()
            if oid in existing and node != existing[oid][2]
        )
        for oid, node in nodes.items():  # a relation rewritten twice is reported once
            if oid in existing:
                name, kind, _ = existing[oid]
                existing[oid] = (name, kind, node)
        dangerous = self._dangerous(held)
        record["lock_timeout"] = timeout
        if taken:
            record["locks"] = taken
        if rewritten:
            record["rewrites"] = rewritten
        if dangerous:
            record["held"] = dangerous
        columns = [_unquote(c) for c in _SET_NOT_NULL.findall(record["sql"])]
        target = _TARGET.match(record["sql"])
        if columns and target:
            oids = [oid for oid, (name, _, _) in existing.items() if _same(_unquote_name(target.group(1)), name)]
            if len(oids) == 1:
                proven = {str(row[0]) for row in self.execute(_PROVEN_NOT_NULL.replace("%s", str(oids[0])))}
                if proven.issuperset(columns):
                    record["proven_not_null"] = True
        self.seen = held

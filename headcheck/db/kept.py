"""Catalog queries asked again and again on the migration connection, run through temporary
PL/pgSQL functions so that PostgreSQL plans each once per session (PostgreSQL only).

The lock trace (headcheck.db.trace) reads the relations at the start of every revision and the
locks after every statement; the generated rows (headcheck.db.rows) read the tables before every
judged revision. The executor sends them as plain text (the simple query protocol: psycopg
prepares nothing there, and drops what it prepared after every DROP or ROLLBACK), so PostgreSQL
parsed and planned each call anew: in a 200-revision stairway, about 0.2 s of the server's CPU for
a few milliseconds of work. A PL/pgSQL function keeps its plan for the session (as the snapshot
functions do, headcheck.db.snapshot).

The functions live in the session's ``pg_temp`` schema (left out of every snapshot and of the
lock trace), are created in a subtransaction that swallows any error (no TEMP privilege: the
query then runs as before), and go with the connection. Creating one is transactional, so a
rolled-back transaction takes it away: :class:`Kept` checks that they exist once per connection
until told to :meth:`~Kept.forget`: by any ROLLBACK (of the transaction or of a savepoint) or
DISCARD, whether the migration sends it or headcheck does, and by a rollback of the connection.
A missing function is never called (that error would abort the migration's transaction).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["CAN_CREATE", "FORGETS", "Kept", "Query", "read"]

Execute = Callable[[str], Any]
# statements after which the session's temporary objects may be gone (a rolled-back transaction
# takes the ones it created; DISCARD drops them all)
FORGETS = re.compile(r"\s*(DISCARD|ROLLBACK|ABORT)\b", re.I)
# may this session make PL/pgSQL functions in pg_temp? (a DO block itself fails, aborting the
# transaction, without PL/pgSQL)
CAN_CREATE = (
    "has_database_privilege(current_database(), 'TEMPORARY')"
    " AND EXISTS (SELECT 1 FROM pg_language WHERE lanname = 'plpgsql')"
)


class Query:
    """``sql``: one SELECT; ``returns``: its columns as the function returns them (``hc_... type``,
    exactly the types the SELECT yields); ``argument``: the one argument the SELECT may use, as
    ``hc_arg TYPE`` (the plain query gets it as a literal in a FROM item of its own)."""

    __slots__ = ("argument", "name", "returns", "signature", "sql")

    def __init__(self, sql: str, returns: str, argument: str = "") -> None:
        self.sql, self.returns, self.argument = sql, returns, argument
        self.name = "headcheck_kept_" + hashlib.sha256(repr((sql, returns, argument)).encode()).hexdigest()[:16]
        # (the function as ``to_regprocedure`` names it)
        self.signature = f"pg_temp.{self.name}({argument.split(' ', 1)[1] if argument else ''})"

    def create(self) -> str:
        return (
            f"CREATE FUNCTION pg_temp.{self.name}({self.argument}) RETURNS TABLE ({self.returns}) LANGUAGE plpgsql"
            " SET plan_cache_mode = force_generic_plan SET jit = off"
            f" AS $body$ BEGIN RETURN QUERY {self.sql}; END $body$"
        )

    def call(self, literal: str) -> str:
        return f"SELECT * FROM pg_temp.{self.name}({literal if self.argument else ''})"

    def plain(self, literal: str) -> str:
        if not self.argument:
            return self.sql
        kind = self.argument.split(" ", 1)[1]
        return f"SELECT q.* FROM (SELECT CAST({literal} AS {kind}) AS hc_arg) p CROSS JOIN LATERAL ({self.sql}) q"


class Kept:
    """The :class:`Query` objects of one migration run, through their functions where they exist.
    ``session``: identifies the DB-API connection (a new one is checked again)."""

    def __init__(self, queries: Iterable[Query], session: Callable[[], object]) -> None:
        self.queries = tuple(queries)
        self.session = session
        self.known: object = None  # the connection on which ``ready`` was checked
        self.ready: frozenset[str] = frozenset()  # names of the functions there
        self.creations = 0  # (for tests and measurements)
        self._possible = False  # the role may create them here (TEMP privilege, PL/pgSQL)

    def forget(self) -> None:
        """The session's temporary objects may be gone: check again before the next call."""
        self.known = None

    def watching(self, execute: Execute) -> Execute:
        """``execute`` that forgets (:meth:`forget`) after each rollback it sends (ours: the rows'
        savepoints), keeping its attributes (``several``, headcheck.db.runner._executor)."""

        def run(sql: str) -> Any:
            try:
                return execute(sql)
            finally:
                if FORGETS.match(sql):
                    self.forget()

        run.__dict__.update(getattr(execute, "__dict__", {}))
        return run

    def run(self, execute: Execute, query: Query, literal: str = "NULL") -> Any:
        """``query``'s rows, through its function when it exists. ``literal``: the argument, as SQL."""
        current = self.session()
        if current is None or current is not self.known:
            self._prepare(execute)
            self.known = current
        if query.name in self.ready:
            return execute(query.call(literal))
        return execute(query.plain(literal))

    def _prepare(self, execute: Execute) -> None:
        self.ready = self._existing(execute)
        missing = [q for q in self.queries if q.name not in self.ready]
        if not missing or not self._possible:
            return
        self.creations += 1
        # (each in a subtransaction of its own: an error never aborts the migration's transaction)
        blocks = " ".join(f"BEGIN {q.create()}; EXCEPTION WHEN OTHERS THEN NULL; END;" for q in missing)
        execute(f"DO $headcheck$ BEGIN {blocks} END $headcheck$")
        self.ready = self._existing(execute)

    def _existing(self, execute: Execute) -> frozenset[str]:
        checks = ", ".join(f"to_regprocedure('{q.signature}') IS NOT NULL" for q in self.queries)
        row = list(next(iter(execute(f"SELECT {checks}, {CAN_CREATE}"))))
        self._possible = bool(row[-1])
        return frozenset(q.name for q, found in zip(self.queries, row, strict=False) if found)


def read(execute: Execute, query: Query, kept: Kept | None, literal: str = "NULL") -> Any:
    """``query``'s rows: through ``kept`` (the run's kept plans) when there is one, else plain."""
    return kept.run(execute, query, literal) if kept is not None else execute(query.plain(literal))

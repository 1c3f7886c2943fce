"""Inside the migration child: every connection the project makes goes to headcheck's server.

Two layers, installed before env.py runs:

1. **Redirect** (SQLAlchemy's ``do_connect`` event on every Engine, so ``create_engine``,
   ``engine_from_config``, ``async_engine_from_config``, ``AsyncEngine(...)`` and Flask-SQLAlchemy's
   engines alike): the host, port, user, password and database are replaced by the throwaway
   server's, the dialect's driver and its other options are kept. Each other database the project
   names gets a database of its own on the same server (the first one: the proof's database).
   Another dialect is refused before it connects.
2. **Guard** (the pool's ``connect`` event, which also sees engines built with ``creator=``, and
   :meth:`Guard.check` before every migration step): the connection proves it is on the expected
   server (``system_identifier`` and start time) or the run stops.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["Guard", "NotOurServer", "install"]

# keys of DB-API connect() arguments that say where to connect (replaced) or that would fail
# against the throwaway server (dropped); everything else the project passes is kept
_WHERE = {
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "database",
    "dsn",
    "service",
    "passfile",
    "unix_sock",
}


class NotOurServer(Exception):
    """A connection that is not on headcheck's server."""


class Guard:
    """``query`` returns one text value; on the expected server it equals ``expected``."""

    def __init__(self, query: str, expected: str) -> None:
        self.query = query
        self.expected = expected

    def check(self, execute: Any, where: str) -> None:
        try:
            rows = list(execute(self.query))
        except Exception as exc:
            raise NotOurServer(
                f"{where}: the connection is not on headcheck's database server ({type(exc).__name__}); "
                "headcheck runs migrations only there"
            ) from None
        found = str(rows[0][0]) if rows else None
        if found != self.expected:
            raise NotOurServer(
                f"{where}: the connection is not on headcheck's database server (it answered {found!r}, "
                f"expected {self.expected!r}); headcheck runs migrations only there"
            )


class _Redirect:
    def __init__(self, target: str, create_databases: bool) -> None:
        from sqlalchemy.engine import make_url

        self.target = make_url(target)
        self.main = str(self.target.database)
        self.create_databases = create_databases
        self.mapping: dict[tuple[str, str, str], str] = {}

    def database_for(self, key: tuple[str, str, str]) -> str:
        """The throwaway database standing in for the project's database ``key`` (host, port, name)."""
        own = (str(self.target.host), str(self.target.port), self.main)
        if key == own:
            return self.main
        if key not in self.mapping:
            if not self.mapping or not self.create_databases:
                self.mapping[key] = self.main
            else:
                name = f"{self.main}_{len(self.mapping) + 1}"
                self._create(name)
                self.mapping[key] = name
        return self.mapping[key]

    def _create(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        t = self.target
        with psycopg.connect(
            host=t.host, port=t.port, user=t.username, password=t.password, dbname=self.main, autocommit=True
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def do_connect(self, dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if dialect.name != "postgresql":
            raise NotOurServer(
                f"env.py (or the project) opens a {dialect.name} database; headcheck proves migrations on "
                "PostgreSQL only and connects nowhere else"
            )
        host = str(cparams.get("host") or "")
        port = str(cparams.get("port") or "5432")
        name = str(cparams.get("dbname") or cparams.get("database") or "")
        if cargs and isinstance(cargs[0], str):  # a DSN string: where it points does not matter any more
            host, name = cargs[0], ""
        key = (host, port, name)
        url = self.target.set(database=self.database_for(key))
        new_cargs, new_cparams = dialect.create_connect_args(url)
        kept = {k: v for k, v in cparams.items() if k not in _WHERE and not k.startswith("ssl")}
        cargs[:] = list(new_cargs)
        cparams.clear()
        cparams.update({**kept, **new_cparams})


def install(target: str, guard: Guard, *, create_databases: bool) -> None:
    """Point every SQLAlchemy connection of this process at ``target``'s server and guard it."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    redirect = _Redirect(target, create_databases)
    event.listen(Engine, "do_connect", redirect.do_connect)

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        def execute(sql: str) -> Any:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(sql)
                return cursor.fetchall()
            finally:
                cursor.close()

        try:
            guard.check(execute, "a new database connection")
        finally:
            with contextlib.suppress(Exception):
                dbapi_connection.rollback()

    event.listen(Pool, "connect", on_connect)

"""Inside the migration child: every connection the project makes goes to headcheck's server.

Two layers, installed before env.py runs:

1. **Redirect** (SQLAlchemy's ``do_connect`` event on every Engine, so ``create_engine``,
   ``engine_from_config``, ``async_engine_from_config``, ``AsyncEngine(...)`` and Flask-SQLAlchemy's
   engines alike): the host, port, user, password and database are replaced by the throwaway
   server's, the dialect's driver and its other options are kept. Each other database the project
   names gets a database of its own on the same server (the first one: the proof's database;
   with ``--database-url`` a second one is refused).
   Another dialect than the backend's is refused before it connects.
2. **Guard** (the pool's ``connect`` event, which also sees engines built with ``creator=``, and
   :meth:`Guard.check` before the first migration step on each DB-API connection): the connection
   proves it is on the expected server (``system_identifier`` and start time) or the run stops.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, Any

from headcheck.db.urls import redact

if TYPE_CHECKING:
    from headcheck.db.backends import Backend

__all__ = ["Guard", "NotOurServer", "dispose_all", "install"]

_ENGINES: weakref.WeakSet[Any] = weakref.WeakSet()  # every engine that connected, to close their pools

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
    "unix_socket",  # PyMySQL, mysqlclient: would win over host and port
    "read_default_file",  # mysqlclient, PyMySQL: an option file naming another server
    "read_default_group",
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
    def __init__(self, target: str, create_databases: bool, backend: Backend) -> None:
        from sqlalchemy.engine import make_url

        self.target = make_url(target)
        self.backend = backend
        self.main = str(self.target.database)
        self.create_databases = create_databases
        self.mapping: dict[tuple[str, str, str], Any] = {}  # -> the sqlalchemy URL standing in for it

    def url_for(self, key: tuple[str, str, str]) -> Any:
        """The throwaway database standing in for the project's database ``key`` (host, port, name):
        the first one the proof's, each other one a new database of its own (on ``--database-url``:
        refused, see below)."""
        from sqlalchemy.engine import make_url

        own = (str(self.target.host), str(self.target.port), self.main)
        if key == own:
            return self.target
        if key not in self.mapping:
            if self.mapping and not self.create_databases:
                # both would be the one database --database-url gives: two migration transactions
                # creating the same version table there wait on each other until --timeout
                raise NotOurServer(
                    f"env.py (or the project) opens a second database ({redact(key[2] or key[0])}) and "
                    "--database-url gives the proof one database: run without --database-url, and each "
                    "database gets one of its own on headcheck's server"
                )
            if not self.mapping:
                self.mapping[key] = self.target
            else:
                url = self.backend.create_extra_database(
                    self.target.render_as_string(hide_password=False), len(self.mapping) + 1
                )
                self.mapping[key] = make_url(url).set(drivername=self.target.drivername)
        return self.mapping[key]

    def do_connect(self, dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if dialect.name not in self.backend.dialects:
            where = str(cargs[0]) if cargs else " ".join(f"{k}={v}" for k, v in cparams.items() if k in _WHERE)
            raise NotOurServer(
                f"env.py (or the project) opens a {dialect.name} database ({redact(where)}); headcheck proves "
                f"these migrations on {self.backend.label} (--backend {self.backend.name}) and connects nowhere else"
            )
        host = str(cparams.get("host") or "")
        port = str(cparams.get("port") or "5432")
        name = str(cparams.get("dbname") or cparams.get("database") or "")
        if cargs and isinstance(cargs[0], str):  # a DSN string: where it points does not matter any more
            host, name = cargs[0], ""
        key = (host, port, name)
        url = self.url_for(key)
        new_cargs, new_cparams = dialect.create_connect_args(url)
        kept = {k: v for k, v in cparams.items() if k not in _WHERE and not k.startswith("ssl")}
        cargs[:] = list(new_cargs)
        cparams.clear()
        cparams.update({**kept, **new_cparams})


def install(target: str, guard: Guard, *, create_databases: bool, backend: Backend | None = None) -> None:
    """Point every SQLAlchemy connection of this process at ``target``'s server (a database of
    ``backend``, PostgreSQL by default) and guard it."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    from headcheck.db import backends

    redirect = _Redirect(target, create_databases, backend or backends.get(backends.DEFAULT))
    event.listen(Engine, "do_connect", redirect.do_connect)
    event.listen(Engine, "engine_connect", lambda connection: _ENGINES.add(connection.engine))

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
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


def dispose_all() -> None:
    """Close the pooled connections of every engine the project made (before its database is rebuilt)."""
    for engine in list(_ENGINES):
        with contextlib.suppress(Exception):
            engine.dispose()

"""Database backends: one module per database, one small interface.

A backend is a module ``headcheck/db/backends/<name>.py`` that defines ``BACKEND``, an instance of
a :class:`Backend` subclass. ``--backend NAME`` picks the module by its file name; without it the
backend is the one whose :attr:`Backend.dialects` hold the dialect of the project's
``sqlalchemy.url`` (read statically from the config, never by importing the project), PostgreSQL
when that says nothing (:func:`choose`). Adding a backend means adding a module: nothing here
lists them.

What the proof asks of a backend (parent process: the ``db`` command and ``headcheck.db.proof``):

- :meth:`Backend.throwaway`: a private server as a context manager, always stopped and its files
  removed on leaving the block (success, failure, timeout, Ctrl-C, SIGTERM); ``--pg-bin`` or
  ``--mysql-bin`` arrives as ``ServerOptions.bin_dir``.
- :meth:`Backend.create_database` / :meth:`Backend.recreate_databases`: the proof's databases.
- :meth:`Backend.guard`: a query and the answer it gives on *this* server only; the child runs it
  on every connection the project opens and before every step (``headcheck.db.redirect.Guard``).
- :meth:`Backend.refuse_nonempty` for ``--database-url``; :meth:`Backend.load_schema` for
  ``--from-schema`` (optional: :attr:`Backend.schema_format` None means not supported).

What the migration child asks (``headcheck.db.runner``, told the backend's name in its ``load``
command): :meth:`Backend.snapshot` on the migration's own connection, :meth:`Backend.guard`'s
query through the redirect, :meth:`Backend.create_extra_database` for a project's second database,
:attr:`Backend.lock_trace` (the lock trace of ``headcheck.db.trace`` is PostgreSQL's).

Backend modules import only the standard library at module level (their driver and SQLAlchemy
inside the functions that need them): choosing a backend and building the CLI stay cheap, and this
package is stdlib-only for the same reason.
"""

from __future__ import annotations

import abc
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from headcheck.dialects import dialect_of, driver_of, with_driver

__all__ = [
    "DEFAULT",
    "Backend",
    "BackendError",
    "Execute",
    "GuardSpec",
    "Server",
    "ServerError",
    "ServerOptions",
    "Snapshot",
    "choose",
    "dialect_of",
    "driver_of",
    "for_dialect",
    "get",
    "names",
    "project_driver",
    "sqlalchemy_url",
    "with_driver",
]

DEFAULT = "postgres"  # when neither --backend nor the project's sqlalchemy.url says otherwise

# A schema snapshot: category ("tables", "columns", "constraints", "indexes", ...) -> the sorted lines
# describing every object of the user's schema (see headcheck.db.snapshot, the PostgreSQL one). Two
# schemas are equal when their snapshots are; headcheck.db.snapshot.diff/diff_lines compare and show
# any two snapshots, whatever their categories.
Snapshot = dict[str, tuple[str, ...]]
Execute = Callable[[str], Iterable[Sequence[Any]]]  # SQL -> rows, on one DB-API connection


class BackendError(Exception):
    """An unknown ``--backend`` or a URL no backend serves (the CLI exits 2 with this one line)."""


class ServerError(Exception):
    """The throwaway server cannot be found or started (the CLI exits 2 with this one line)."""


class ServerOptions(NamedTuple):
    bin_dir: Path | None = None  # --pg-bin / --mysql-bin: the folder holding the server's programs
    statement_timeout: float | None = None  # seconds; the server cancels longer statements, if it can


class GuardSpec(NamedTuple):
    """``query`` returns one row with one value; on headcheck's server its text equals ``expected``."""

    query: str
    expected: str


class Server(Protocol):
    """A running throwaway server (for SQLite: the folder its database files live in)."""

    @property
    def version(self) -> str:
        """The server's version as it reports it (shown in the report)."""

    @property
    def startup_seconds(self) -> float:
        """From nothing to accepting connections (initialise + start)."""

    @property
    def tempdir(self) -> Path:
        """headcheck's own temp dir of this server (0700/0711, removed with it); the proof writes
        the migration log there."""

    @property
    def bin_dir(self) -> Path | None:
        """Where the server's programs were found (passed to :meth:`Backend.load_schema`)."""

    def url(self, dbname: str, driver: str | None = None) -> str:
        """SQLAlchemy URL of database ``dbname`` on this server, with SQLAlchemy driver ``driver``
        (None: the backend's :attr:`Backend.default_driver`), password included."""


class Backend(abc.ABC):
    """One database. Subclass it in ``headcheck/db/backends/<name>.py`` and set ``BACKEND``."""

    name: str  # the module's name, what --backend takes: "postgres", "mariadb", "sqlite"
    label: str  # for messages: "PostgreSQL", "MariaDB", "SQLite"
    dialects: tuple[str, ...]  # SQLAlchemy dialect names (URL schemes) served: ("postgresql", "postgres")
    drivers: Mapping[str, str]  # SQLAlchemy driver name -> the module it imports ({"psycopg": "psycopg", ...})
    implied_driver: str  # what SQLAlchemy uses for a URL naming no driver (postgresql:// -> psycopg2)
    default_driver: str  # headcheck's own driver (installed with ``extra``): used when the project's is absent
    async_drivers: frozenset[str] = frozenset()  # drivers needing greenlet (SQLAlchemy's asyncio)
    extra: str | None = None  # the pip extra bringing the default driver (headcheck.extras), None: stdlib
    lock_trace: bool = False  # the child records locks and rewrites per step (headcheck.db.trace)
    transactional_ddl: bool = True  # False (MySQL): a failed step may leave a revision half-applied
    schema_format: str | None = None  # what --from-schema loads ("pg_dump --schema-only"); None: unsupported

    # --- parent: the throwaway server and its databases ---------------------------------------------
    @abc.abstractmethod
    def throwaway(self, options: ServerOptions) -> AbstractContextManager[Server]:
        """Start a private server; leaving the block any way at all stops it and removes its files.
        It runs as an unprivileged OS user (never root), listens on 127.0.0.1 and a socket in a 0700
        folder, and requires a random password. Raises :class:`ServerError` (one line, naming what
        to install or pass) when it cannot be found or started."""

    def starts_quickly(self, bin_dir: Path | None) -> bool:  # noqa: ARG002 -- the Backend hook's signature
        """The throwaway server will start with little work of its own (PostgreSQL: from a kept data
        folder, headcheck.db.template, not initdb): the proof may start more processes meanwhile."""
        return False

    @abc.abstractmethod
    def create_database(self, server: Server, dbname: str) -> str:
        """Create the empty database ``dbname`` on ``server``; return its URL (default driver)."""

    @abc.abstractmethod
    def recreate_databases(self, url: str) -> str | None:
        """Drop ``url``'s database and the extra ones made for it (:meth:`create_extra_database`)
        and create them again, empty (the stairway rebuilds a state this way; throwaway server
        only). An error message, or None."""

    @abc.abstractmethod
    def guard(self, url: str) -> GuardSpec:
        """What proves a connection is on ``url``'s server: asked in the parent, checked in the child.
        Raises an exception with a one-line message when the server cannot be asked."""

    @abc.abstractmethod
    def refuse_nonempty(self, url: str) -> str | None:
        """Why ``url`` (a ``--database-url``) is not an empty database, or None when it is. May raise
        the driver's error when it cannot connect (the CLI shows it in one line)."""

    def load_schema(self, path: Path, url: str, bin_dir: Path | None) -> str | None:  # noqa: ARG002 -- the Backend hook's signature; the default only refuses
        """Load the schema dump ``path`` (:attr:`schema_format`) into ``url``'s database. An error
        message, or None."""
        return f"--from-schema is not supported with --backend {self.name}"

    # --- child: inside the project's environment -------------------------------------------------
    @abc.abstractmethod
    def snapshot(
        self, execute: Execute, version_table: str = "alembic_version", *, keep_plan: bool = False
    ) -> Snapshot:
        """Read the schema through ``execute`` (the migration's own connection: its uncommitted DDL
        is seen) in the :data:`Snapshot` format, leaving out Alembic's ``version_table``.
        ``keep_plan``: many snapshots follow on this connection (a backend may cache a plan)."""

    def snapshots(
        self,
        version_table: str,
        connection: Callable[[], object],  # noqa: ARG002 -- the Backend hook's signature; the default ignores it
        *,
        many: bool,  # noqa: ARG002 -- the Backend hook's signature; the default ignores it
    ) -> tuple[Callable[[Execute], Snapshot], Callable[[], None]]:
        """Snapshots for one migration run on one connection: (take: executor -> snapshot, forget:
        the connection's session state may be gone, e.g. after ``DISCARD``). ``connection``
        identifies the DB-API connection; ``many``: the plan takes more than a few snapshots (a
        backend may then keep state between them). The default: :meth:`snapshot` each time."""

        def take(execute: Execute) -> Snapshot:
            return self.snapshot(execute, version_table, keep_plan=True)

        return take, lambda: None

    @abc.abstractmethod
    def create_extra_database(self, url: str, number: int) -> str:
        """Create the ``number``-th (1, 2, ...) extra database beside ``url``'s, for a project that
        opens more than one database, and return its URL. Called in the child by the redirect."""

    def __repr__(self) -> str:
        return f"<backend {self.name}>"


def names() -> tuple[str, ...]:
    """Every backend module's name, without importing any."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


def get(name: str) -> Backend:
    """The backend ``name`` (a module of this package). Raises :class:`BackendError`."""
    if name not in names():
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    backend = getattr(module, "BACKEND", None)
    if not isinstance(backend, Backend):
        raise BackendError(f"headcheck.db.backends.{name} defines no BACKEND")
    return backend


def for_dialect(dialect: str | None) -> Backend | None:
    """The backend serving SQLAlchemy dialect ``dialect``, or None."""
    if not dialect:
        return None
    for name in names():
        backend = get(name)
        if dialect.lower() in backend.dialects:
            return backend
    return None


def choose(name: str | None, project_urls: Iterable[str | None] = ()) -> Backend:
    """``--backend NAME`` when given; else the backend of the projects' ``sqlalchemy.url`` dialect
    (the environments must agree); else PostgreSQL. Raises :class:`BackendError`."""
    if name:
        return get(name)
    found = {b.name: b for b in (for_dialect(dialect_of(url)) for url in project_urls if url) if b is not None}
    if len(found) > 1:
        raise BackendError(
            f"the environments' sqlalchemy.url name different databases ({', '.join(sorted(found))}): "
            "pass --backend or --config/--name"
        )
    return next(iter(found.values())) if found else get(DEFAULT)


def sqlalchemy_url(backend: Backend, url: str) -> str:
    """``url`` naming a driver headcheck has: a URL without one gets :attr:`Backend.default_driver`
    (for ``postgresql://`` SQLAlchemy would pick psycopg2)."""
    return url if driver_of(url) else with_driver(url, backend.default_driver)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def project_driver(backend: Backend, project_url: str | None) -> str:
    """The driver the child connects with: the project's own (its ``sqlalchemy.url``'s, or what a
    URL without one implies) when it is one of this backend's and importable, else the backend's
    default. Raises RuntimeError when the project's async driver lacks greenlet."""
    if not project_url or dialect_of(project_url) not in backend.dialects:
        return backend.default_driver
    driver = driver_of(project_url) or backend.implied_driver
    if not _importable(backend.drivers.get(driver, driver)):
        return backend.default_driver
    if driver in backend.async_drivers and not _importable("greenlet"):
        extra = f"pip install 'headcheck[{backend.extra}]' (or pip install greenlet)" if backend.extra else ""
        raise RuntimeError(
            f"the project's driver {driver} needs greenlet for SQLAlchemy's asyncio support: "
            + (extra or "pip install greenlet")
        )
    return driver

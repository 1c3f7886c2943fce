"""SQLite: the proof's database is a file in headcheck's temp dir; there is no server.

The "server" (:func:`throwaway_server`) is a 0700 temp dir that holds the database files and is
removed on leaving the block (a ``kill -9``'s leftovers are swept like PostgreSQL's). The guard
asks the connection which file it writes to (``pragma_database_list``): the child stops a
project that opens a file outside that folder (or, with ``--database-url``, any other file). Snapshots come from ``sqlite_master`` and the pragmas
(``table_info``, ``index_list``/``index_xinfo``, ``foreign_key_list``) in the format of
``headcheck.db.snapshot`` (categories ``tables``, ``columns``, ``constraints``, ``indexes``,
``triggers``), so differences read the same as PostgreSQL's. CHECK constraints exist only in the
``CREATE TABLE`` text, which Alembic's batch mode writes anew: they are read from its tokens
(:func:`checks`), so spacing and where the CHECK stands (column or table) do not count. Not in a
snapshot: column collations.

Alembic changes most SQLite tables in batch mode (``render_as_batch=True`` in env.py: copy the
table, drop it, rename the copy); such migrations run here like any other. ``headcheck current``
opens a project's SQLite file read-only: :func:`readonly_uri`, :func:`connect_readonly`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.db import launch
from headcheck.db.backends import Backend, Execute, GuardSpec, ServerOptions, Snapshot

__all__ = [
    "BACKEND",
    "Server",
    "SqliteBackend",
    "connect_readonly",
    "database_path",
    "readonly_uri",
    "throwaway_server",
]

TEMP_PREFIX = "headcheck-sqlite-"
SUFFIX = ".db"
GUARD_QUERY = "SELECT file FROM pragma_database_list WHERE name = 'main'"
# the folder of that file, with its trailing "/" (rtrim drops every character but "/" from the right)
GUARD_FOLDER_QUERY = "SELECT rtrim(file, replace(file, '/', '')) FROM pragma_database_list WHERE name = 'main'"
_ORDER = ("tables", "columns", "constraints", "indexes", "triggers")


class Server(NamedTuple):
    tempdir: Path  # the database files live here
    version: str  # "SQLite 3.40.1": the library's version, named (reports show it as the server's)
    startup_seconds: float

    @property
    def bin_dir(self) -> None:
        return None

    def path(self, dbname: str) -> Path:
        return self.tempdir / f"{dbname}{SUFFIX}"

    def url(self, dbname: str, driver: str | None = None) -> str:
        return f"sqlite+{driver or 'pysqlite'}:///{self.path(dbname)}"


def sweep_stale(tmp: Path | None = None) -> list[Path]:
    """The temp dirs of killed headcheck runs (nothing to stop: no server)."""
    return launch.sweep_stale(TEMP_PREFIX, lambda _tempdir: None, tmp)


@contextlib.contextmanager
def throwaway_server() -> Iterator[Server]:
    """A private folder for the proof's database files, removed on leaving the block (any way)."""
    sweep_stale()
    started = time.perf_counter()
    tempdir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))  # 0700, ours (no server user to let in)
    try:
        (tempdir / launch.OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        yield Server(tempdir, f"SQLite {sqlite3.sqlite_version}", time.perf_counter() - started)
    finally:
        launch.remove(tempdir)


def database_path(url: str) -> Path:
    """The file of a ``sqlite:///path`` URL. Raises ValueError for an in-memory database."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise ValueError(f"{url}: not a SQLite database file (in-memory and URI filenames are not supported)")
    return Path(name)


def readonly_uri(path: Path) -> str:
    """``file:...?mode=ro``: SQLite opens the file for reading only and never creates it."""
    return f"file:{urllib.parse.quote(str(path.absolute()))}?mode=ro"


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing SQLite file (sqlite3.OperationalError when absent)."""
    return sqlite3.connect(readonly_uri(path), uri=True)


def _connect(url: str) -> sqlite3.Connection:
    return sqlite3.connect(database_path(url), isolation_level=None)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_TOKEN = re.compile(
    r"""\s+|--[^\n]*|/\*.*?(?:\*/|\Z)"""  # skipped: whitespace, comments
    r"""|(?P<tok>'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?"""  # strings, quoted names
    r"""|[\w$.]+|[<>=!|+\-*/%&~^]+|.)""",
    re.DOTALL,
)


def _tokens(sql: str) -> list[str]:
    return [m.group("tok") for m in _TOKEN.finditer(sql) if m.group("tok") is not None]


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] + name[-1] in ('""', "''", "``", "[]"):
        return name[1:-1].replace(name[0] * 2, name[0]) if name[0] != "[" else name[1:-1]
    return name


def checks(create_table: str | None) -> list[str]:
    """Every CHECK constraint of a ``CREATE TABLE`` text as ``"name (expression)"`` (``"(expression)"``
    when unnamed), its tokens joined by single spaces: the same however the text was spaced,
    commented or where the constraint stood (a column's or the table's)."""
    tokens = _tokens(create_table or "")
    found = []
    for k, token in enumerate(tokens):
        if token.upper() != "CHECK" or k + 1 >= len(tokens) or tokens[k + 1] != "(":
            continue
        depth, end = 0, k + 1
        for end in range(k + 1, len(tokens)):
            depth += {"(": 1, ")": -1}.get(tokens[end], 0)
            if depth == 0:
                break
        expression = " ".join(tokens[k + 2 : end])
        named = k >= 2 and tokens[k - 2].upper() == "CONSTRAINT"
        found.append((f"{_unquote(tokens[k - 1])} " if named else "") + f"({expression})")
    return found


def _md5(text: str | None) -> str:
    return hashlib.md5(" ".join((text or "").split()).encode(), usedforsecurity=False).hexdigest()


def take(execute: Execute, version_table: str = "alembic_version") -> Snapshot:
    """The schema of the ``main`` database through ``execute`` (see the module docstring)."""
    lines: dict[str, list[str]] = {name: [] for name in _ORDER}
    objects = list(
        execute("SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
    )
    tables = sorted(str(name) for kind, name, _, _ in objects if kind == "table" and name != version_table)
    for kind, name, table, sql in objects:
        if kind == "view":
            lines["tables"].append(f"view main.{name} {_md5(sql)}")
        elif kind == "trigger":
            lines["triggers"].append(f"trigger {name} ON main.{table} {_md5(sql)}")
    index_sql = {str(name): sql for kind, name, _, sql in objects if kind == "index"}
    table_sql = {str(name): sql for kind, name, _, sql in objects if kind == "table"}
    for table in tables:
        lines["tables"].append(f"table main.{table}")
        lines["constraints"] += [f"main.{table} CHECK {check}" for check in checks(table_sql.get(table))]
        primary: list[tuple[int, str]] = []
        for _, column, type_, notnull, default, pk in execute(f"PRAGMA main.table_info({_quote(table)})"):
            line = f"main.{table}.{column} {str(type_).upper() or 'ANY'}"
            line += " NOT NULL" if notnull else ""
            line += f" DEFAULT {default}" if default is not None else ""
            lines["columns"].append(line)
            if pk:
                primary.append((int(pk), str(column)))
        if primary:
            lines["constraints"].append(f"main.{table} PRIMARY KEY ({', '.join(c for _, c in sorted(primary))})")
        keys: dict[int, list[Any]] = {}
        for row in execute(f"PRAGMA main.foreign_key_list({_quote(table)})"):
            keys.setdefault(int(row[0]), []).append(row)
        for rows in keys.values():
            rows.sort(key=lambda r: int(r[1]))
            _, _, parent, _, _, on_update, on_delete, _ = rows[0]
            source = ", ".join(str(r[3]) for r in rows)
            target = ", ".join(str(r[4]) if r[4] is not None else "" for r in rows)
            lines["constraints"].append(
                f"main.{table} FOREIGN KEY ({source}) REFERENCES {parent}({target})"
                f" ON UPDATE {on_update} ON DELETE {on_delete}"
            )
        for _, index, unique, origin, partial in execute(f"PRAGMA main.index_list({_quote(table)})"):
            if origin == "pk":
                continue
            columns = [
                (str(name) if name is not None else "<expression>") + (" DESC" if desc else "")
                for _, _, name, desc, _, key in execute(f"PRAGMA main.index_xinfo({_quote(str(index))})")
                if key
            ]
            if origin == "u":  # a UNIQUE constraint: its index's name is SQLite's own (sqlite_autoindex_...)
                lines["constraints"].append(f"main.{table} UNIQUE ({', '.join(columns)})")
                continue
            where = f" WHERE {_md5(index_sql.get(str(index)))}" if partial else ""
            kind = "UNIQUE INDEX" if unique else "INDEX"
            lines["indexes"].append(f"CREATE {kind} {index} ON main.{table} ({', '.join(columns)}){where}")
    return {name: tuple(sorted(lines[name])) for name in _ORDER}


def guard(url: str) -> GuardSpec:
    """The file the connection writes to, by its real path: in headcheck's temp dir any file there
    (a project with several databases gets a file each), else (``--database-url``) that file."""
    query = GUARD_FOLDER_QUERY if database_path(url).parent.name.startswith(TEMP_PREFIX) else GUARD_QUERY
    with contextlib.closing(_connect(url)) as conn:
        row = conn.execute(query).fetchone()
    if not row or not row[0]:
        raise RuntimeError(f"cannot identify the SQLite database file of {url}")
    return GuardSpec(query, str(row[0]))


def _family(url: str) -> list[Path]:
    """``url``'s file and the extra databases made beside it (``<name>_N.db``)."""
    path = database_path(url)
    extra = sorted(p for p in path.parent.glob(f"{path.stem}_*{path.suffix}") if p.stem[len(path.stem) + 1 :].isdigit())
    return [path, *extra]


def recreate_databases(url: str) -> str | None:
    """Delete the proof's database files (and their journals) and create them again, empty."""
    try:
        for path in _family(url):
            for leftover in (path, *(path.with_name(path.name + end) for end in ("-journal", "-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
            sqlite3.connect(path).close()
    except (OSError, sqlite3.Error) as exc:
        return f"cannot rebuild the database: {exc}"
    return None


def refuse_nonempty(url: str) -> str | None:
    """Why the file is not an empty database (any table, view, index or trigger, an
    alembic_version included), or None when empty or absent. Raises ValueError for a relative path."""
    path = database_path(url)
    if not path.is_absolute():  # the migrations run in the project's folder, headcheck maybe elsewhere
        raise ValueError(f"name the file by its absolute path: sqlite:///{path.absolute()}")
    if not path.exists():
        return None
    with contextlib.closing(connect_readonly(path)) as conn:
        snap = take(lambda sql: conn.execute(sql).fetchall(), version_table="")
    found = [line for category in ("tables", "indexes", "triggers") for line in snap[category]]
    if found:
        shown = ", ".join(line[:60] for line in found[:5])
        return f"the database is not empty ({len(found)} objects: {shown}{', ...' if len(found) > 5 else ''})"
    return None


def load_schema(path: Path, url: str) -> str | None:
    """Run an SQL script (``sqlite3 FILE .schema`` output) in the database."""
    try:
        script = path.read_text(encoding="utf-8")
        with contextlib.closing(_connect(url)) as conn:
            conn.executescript(script)
    except (OSError, UnicodeDecodeError, sqlite3.Error) as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def create_extra_database(url: str, number: int) -> str:
    """``<name>_<number>.db`` beside ``url``'s file; its URL."""
    from sqlalchemy.engine import make_url

    path = database_path(url)
    extra = path.with_name(f"{path.stem}_{number}{path.suffix}")
    sqlite3.connect(extra).close()
    return make_url(url).set(database=str(extra)).render_as_string(hide_password=False)


class SqliteBackend(Backend):
    name = "sqlite"
    label = "SQLite"
    dialects = ("sqlite",)
    drivers = {"pysqlite": "sqlite3", "aiosqlite": "aiosqlite", "pysqlcipher": "sqlcipher3"}  # noqa: RUF012
    implied_driver = "pysqlite"
    default_driver = "pysqlite"
    async_drivers = frozenset({"aiosqlite"})
    extra = None
    transactional_ddl = False  # the pysqlite driver commits before DDL unless env.py says otherwise
    schema_format = "an SQL script (sqlite3 FILE .schema)"

    def throwaway(self, options: ServerOptions) -> contextlib.AbstractContextManager[Server]:  # noqa: ARG002 -- Backend interface: SQLite needs no server options
        return throwaway_server()

    def create_database(self, server: Any, dbname: str) -> str:
        sqlite3.connect(server.path(dbname)).close()
        return str(server.url(dbname))

    def recreate_databases(self, url: str) -> str | None:
        return recreate_databases(url)

    def guard(self, url: str) -> GuardSpec:
        return guard(url)

    def refuse_nonempty(self, url: str) -> str | None:
        return refuse_nonempty(url)

    def load_schema(self, path: Path, url: str, bin_dir: Path | None) -> str | None:  # noqa: ARG002 -- Backend interface: SQLite needs no client binaries
        return load_schema(path, url)

    def snapshot(
        self,
        execute: Execute,
        version_table: str = "alembic_version",
        *,
        keep_plan: bool = False,  # noqa: ARG002 -- Backend interface (keep_plan is passed by keyword): PostgreSQL only
    ) -> Snapshot:
        return take(execute, version_table)

    def create_extra_database(self, url: str, number: int) -> str:
        return create_extra_database(url, number)


BACKEND = SqliteBackend()

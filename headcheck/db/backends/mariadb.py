"""A private, throwaway MariaDB (or MySQL-compatible ``mysqld``) for the database proof.

Debian's ``mariadb-server`` binaries: ``mariadbd --bootstrap`` builds the system tables from the
installation's own SQL (what ``mariadb-install-db`` feeds it, minus the help tables and the sys
schema; ``mariadb-install-db`` itself when that SQL is not found), then ``mariadbd`` serves them.
Neither runs as root: when headcheck is root (a GitHub Docker action) both are exec'ed through a
small wrapper in the temp dir that drops to the ``mysql`` user (else ``nobody``) with ``setpriv``
(headcheck.db.launch), as for PostgreSQL. The server listens on 127.0.0.1 and a unix socket inside
a 0700 folder, with durability off (it is thrown away).

Nobody logs in without the password: the bootstrap replaces every account the system tables'
SQL makes (password-less ``root``, anonymous users) with ``root`` on 127.0.0.1 and on the socket,
both with a random password only this process knows, sent through the bootstrap's stdin before
the server listens anywhere (with ``mariadb-install-db``: a 0600 file of the server's user, deleted
right after). The temp dir belongs to headcheck's user (0711 when root) and holds the wrappers
root runs; everything the server writes (data, socket, logs) lives in ``my/`` (0700, the server's
user), so the server's user cannot replace anything headcheck executes. :func:`throwaway_server`
stops the server and removes the temp dir on every exit path; :func:`sweep_stale` collects what a
``kill -9`` left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.db import launch
from headcheck.db.backends import Backend, Execute, GuardSpec, ServerError, ServerOptions, Snapshot

__all__ = [
    "BACKEND",
    "MariaDB",
    "MariaDBBackend",
    "ServerError",
    "create_database",
    "find_mysql_bin",
    "guard",
    "load_schema",
    "sweep_stale",
    "throwaway_server",
]

TEMP_PREFIX = "headcheck-my-"
OWNER_FILE = launch.OWNER_FILE
SERVER_DIR = "my"  # inside the temp dir: what the server's user may write (data, socket, logs)
SERVER_USERS = ("mysql", "nobody")  # the OS user the server runs as when headcheck is root
INSTALL_TIMEOUT = 120.0  # seconds for mariadb-install-db (0.6 s on an idle machine)
USER = "root"  # the database account headcheck connects as (not the OS user)
SERVERS = ("mariadbd", "mysqld")
INSTALLERS = ("mariadb-install-db", "mysql_install_db")
INSTALL_HINT = (
    "install the MariaDB server (Debian/Ubuntu: apt-get install mariadb-server, its service need not run; "
    "macOS: brew install mariadb) or pass --mysql-bin DIR (the folder holding mariadbd and mariadb-install-db)"
)
# Every privilege: the value mariadb-install-db itself writes for root (see mysql_system_tables_data.sql).
_ALL_PRIVILEGES = 18446744073709551615


class Binaries(NamedTuple):
    server: Path  # mariadbd / mysqld
    install_db: Path  # mariadb-install-db / mysql_install_db


class MariaDB(NamedTuple):
    host: str
    port: int
    user: str  # database account
    password: str  # random, per server
    os_user: str  # who mariadbd runs as
    version: str  # ``SELECT VERSION()``
    init_seconds: float  # mariadb-install-db
    startup_seconds: float  # init + start, until it accepts connections
    tempdir: Path
    binaries: Binaries

    @property
    def bin_dir(self) -> Path:
        return self.binaries.server.parent

    @property
    def datadir(self) -> Path:
        return self.tempdir / SERVER_DIR / "data"

    @property
    def socket(self) -> Path:
        return self.tempdir / SERVER_DIR / "sock" / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.tempdir / SERVER_DIR / "mariadbd.pid"

    @property
    def logfile(self) -> Path:
        return self.tempdir / SERVER_DIR / "mariadbd.log"

    def url(self, dbname: str, driver: str | None = None) -> str:
        """SQLAlchemy URL of a database on this server (``mysql+pymysql`` unless told otherwise)."""
        return f"mysql+{driver or 'pymysql'}://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str | None = None, **kwargs: Any) -> Any:
        """A PyMySQL connection (autocommit) to this server."""
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=dbname,
            autocommit=True,
            **kwargs,
        )


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        try:
            if (folder / name).is_file() and os.access(folder / name, os.X_OK):
                return folder / name
        except OSError:  # a PATH entry this user may not look into
            continue
    return None


def find_mysql_bin(mysql_bin: Path | None = None) -> Binaries:
    """``mariadbd``/``mysqld`` and ``mariadb-install-db``/``mysql_install_db``: from ``--mysql-bin``
    (a folder holding both, or its ``bin``/``sbin``/``scripts`` neighbours), else ``PATH``, else
    ``/usr/sbin`` and ``/usr/bin``. Raises ServerError naming what to install."""
    if mysql_bin is not None:
        folders = [mysql_bin, mysql_bin.parent / "sbin", mysql_bin.parent / "bin", mysql_bin.parent / "scripts"]
        server = next((found for f in folders if (found := _first(f, SERVERS))), None)
        installer = next((found for f in folders if (found := _first(f, INSTALLERS))), None)
        if server is None or installer is None:
            missing = " and ".join(n for n, p in (("mariadbd", server), ("mariadb-install-db", installer)) if p is None)
            raise ServerError(f"--mysql-bin {mysql_bin}: no {missing} there; {INSTALL_HINT}")
        return Binaries(server, installer)
    folders = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    folders += [Path("/usr/sbin"), Path("/usr/bin"), Path("/usr/local/sbin"), Path("/usr/local/bin")]
    server = next((found for f in folders if (found := _first(f, SERVERS))), None)
    installer = next((found for f in folders if (found := _first(f, INSTALLERS))), None)
    if server is None or installer is None:
        missing = ", ".join(n for n, p in (("mariadbd", server), ("mariadb-install-db", installer)) if p is None)
        raise ServerError(f"no MariaDB server found (missing: {missing}); {INSTALL_HINT}")
    return Binaries(server, installer)


def _native_password_hash(password: str) -> str:
    """What ``PASSWORD('...')`` stores for mysql_native_password: ``*`` + SHA1(SHA1(password))."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def _accounts_sql(password: str) -> str:
    """Run by ``mariadb-install-db --extra-file`` during bootstrap (grant tables are plain tables
    then): every account it made goes (password-less root, anonymous users, the socket-auth
    ``mysql`` user) except the locked ``mariadb.sys`` definer; ``root`` with our password comes
    back on 127.0.0.1 (TCP) and localhost (the socket)."""
    priv = (
        f'{{"access":{_ALL_PRIVILEGES},"plugin":"mysql_native_password",'
        f'"authentication_string":"{_native_password_hash(password)}"}}'
    )
    rows = ", ".join(f"('{host}', '{USER}', '{priv}')" for host in ("127.0.0.1", "localhost"))
    return (
        "DELETE FROM mysql.global_priv WHERE User <> 'mariadb.sys';\n"
        "DELETE FROM mysql.proxies_priv WHERE User <> '' OR Host <> '';\n"
        f"INSERT INTO mysql.global_priv (Host, User, Priv) VALUES {rows};\n"
    )


def _server_options(serverdir: Path, port: int, statement_timeout: float | None) -> list[str]:
    options = [
        f"--datadir={serverdir / 'data'}",
        f"--socket={serverdir / 'sock' / 'mysqld.sock'}",
        f"--pid-file={serverdir / 'mariadbd.pid'}",
        f"--log-error={serverdir / 'mariadbd.log'}",
        f"--tmpdir={serverdir / 'tmp'}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        "--skip-networking=0",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--skip-slave-start",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--sync-binlog=0",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
        "--performance-schema=OFF",
        "--skip-innodb-adaptive-hash-index",
        "--max-connections=30",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_general_ci",
        "--explicit-defaults-for-timestamp=ON",
        "--loose-mysqlx=OFF",
    ]
    if statement_timeout:
        seconds = max(1, int(statement_timeout))
        options += [
            f"--max-statement-time={statement_timeout:g}",
            f"--lock-wait-timeout={seconds}",
            f"--innodb-lock-wait-timeout={seconds}",
        ]
    return options


def _stop(process: subprocess.Popen[bytes], wait: float = 10.0) -> None:
    """SIGTERM (a clean, fast shutdown: nothing is flushed to disk), then SIGKILL; reaped."""
    for sig, limit in ((signal.SIGTERM, wait), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=limit)


def _kill_stale(tempdir: Path) -> None:
    """The server a killed headcheck left in ``tempdir`` (its pid file, checked against /proc)."""
    serverdir = tempdir / SERVER_DIR
    try:
        pid = int((serverdir / "mariadbd.pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return
    launch.kill(pid, serverdir / "data", first=signal.SIGTERM)


def sweep_stale(tmp: Path | None = None) -> list[Path]:
    """Remove temp dirs (and servers) of headcheck processes that no longer exist, e.g. after
    ``kill -9``, which no process can clean up after itself. Returns the removed dirs."""
    return launch.sweep_stale(TEMP_PREFIX, _kill_stale, tmp)


def _log_tail(path: Path, lines: int = 3) -> str:
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    wanted = [t for t in text if "[ERROR]" in t] or text
    return "; ".join(t.strip() for t in wanted[-lines:])


def _wait_ready(process: subprocess.Popen[bytes], port: int, password: str, logfile: Path, limit: float) -> str:
    """Poll a login with the password until it works (the server is then up, grants loaded).
    Returns ``SELECT VERSION()``."""
    import pymysql

    deadline = time.monotonic() + limit
    while True:
        if process.poll() is not None:
            detail = _log_tail(logfile) or f"exit code {process.returncode}"
            raise ServerError(f"MariaDB did not start: {detail}")
        try:
            conn = pymysql.connect(host="127.0.0.1", port=port, user=USER, password=password, connect_timeout=2)
        except pymysql.err.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ServerError(f"MariaDB does not accept connections within {limit:g} s: {exc}") from exc
            time.sleep(0.01)
            continue
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                row = cursor.fetchone()
        finally:
            conn.close()
        return str(row[0]) if row else "unknown"


# What mariadb-install-db feeds ``mariadbd --bootstrap``, minus the help tables (2.4 MB of INSERTs)
# and the sys schema (600 kB of views and procedures) that no migration needs: 2-3x faster.
SYSTEM_SQL = (
    "mysql_system_tables.sql",
    "mysql_performance_tables.sql",
    "mysql_system_tables_data.sql",
    "maria_add_gis_sp_bootstrap.sql",
)


def _system_sql(server: Path) -> list[Path] | None:
    """The system tables' SQL of this server's installation (``<prefix>/share/mariadb`` or
    ``share/mysql``), or None when not all of it is there (then mariadb-install-db does it all)."""
    for share in (server.parent.parent / "share" / "mariadb", server.parent.parent / "share" / "mysql"):
        files = [share / name for name in SYSTEM_SQL]
        if all(f.is_file() for f in files):
            return files
    return None


def _run_bootstrap(command: list[str], script: bytes, limit: float, what: str, log: Path) -> None:
    """``command`` in its own process group fed ``script``; killed on a timeout or Ctrl-C."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=log.parent,
        start_new_session=True,  # its own process group: Ctrl-C reaches headcheck, which kills it
    )
    try:
        output, _ = process.communicate(script, timeout=limit)
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"{what} did not finish within {limit:g} s") from exc
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    if process.returncode != 0:
        lines = output.decode(errors="replace").strip().splitlines()
        detail = _log_tail(log) or "; ".join(lines[-3:]) or f"exit code {process.returncode}"
        raise ServerError(f"{what} failed: {detail}")


def _bootstrap(mariadbd: Path, system_sql: list[Path], layout: launch.Layout, password: str, limit: float) -> None:
    """What mariadb-install-db does (``mariadbd --bootstrap`` fed the system tables' SQL), with our
    accounts; the password reaches the server through the pipe only, never a file or command line."""
    serverdir = layout.serverdir
    layout.server_subdir("data")
    script = b"CREATE DATABASE IF NOT EXISTS mysql;\nUSE mysql;\nSET @auth_root_socket=NULL;\n"
    script += b"".join(path.read_bytes() + b"\n" for path in system_sql)
    script += _accounts_sql(password).encode()
    command = [
        str(mariadbd),
        "--no-defaults",
        "--bootstrap",
        f"--datadir={serverdir / 'data'}",
        f"--tmpdir={serverdir / 'tmp'}",  # not TMPDIR: the server's user may not write there
        f"--log-error={serverdir / 'install.log'}",
        "--log-warnings=0",
        "--enforce-storage-engine=",
        "--max-allowed-packet=8M",
        "--net-buffer-length=16K",
        "--innodb-log-file-size=16M",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--skip-log-bin",
    ]
    _run_bootstrap(command, script, limit, "mariadbd --bootstrap", serverdir / "install.log")


def _initialise(command: list[str], layout: launch.Layout, password: str, limit: float) -> None:
    """``mariadb-install-db`` without the test database, our accounts instead of its own. Its
    process group is killed on a timeout or Ctrl-C (it runs ``mariadbd --bootstrap``)."""
    serverdir = layout.serverdir
    extra = serverdir / "accounts.sql"
    launch.write_private(extra, _accounts_sql(password), layout.uid, layout.gid)
    process = subprocess.Popen(
        [
            *command,
            "--no-defaults",
            f"--datadir={serverdir / 'data'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            f"--extra-file={extra}",
            f"--log-error={serverdir / 'install.log'}",
            f"--tmpdir={serverdir / 'tmp'}",  # not TMPDIR: the server's user may not write there
            "--innodb-log-file-size=16M",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--skip-log-bin",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=serverdir,
        start_new_session=True,  # its own process group: Ctrl-C reaches headcheck, which kills it
    )
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"mariadb-install-db did not finish within {limit:g} s") from exc
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        extra.unlink(missing_ok=True)
    if process.returncode != 0:
        lines = output.decode(errors="replace").strip().splitlines()
        detail = _log_tail(serverdir / "install.log") or "; ".join(lines[-3:]) or f"exit code {process.returncode}"
        raise ServerError(f"mariadb-install-db failed: {detail}")


@contextlib.contextmanager
def throwaway_server(
    mysql_bin: Path | None = None, *, statement_timeout: float | None = None, start_timeout: float = 60.0
) -> Iterator[MariaDB]:
    """Start a private MariaDB; on leaving the block (any way at all) stop it and delete its files.

    Raises ServerError when no server binaries are found or the server does not start.
    """
    binaries = find_mysql_bin(mysql_bin)
    sweep_stale()
    started = time.perf_counter()
    with launch.throwaway_dir(TEMP_PREFIX, SERVER_USERS, "MariaDB", SERVER_DIR) as layout:
        serverdir = layout.serverdir
        password = secrets.token_urlsafe(24)  # URL-safe characters
        layout.server_subdir("sock")
        layout.server_subdir("tmp")
        layout.on_exit(lambda: _kill_stale(layout.tempdir))  # a bootstrap server that outlived its installer
        mariadbd = launch.run_as_wrapper(layout.tempdir, binaries.server, layout.os_user)
        system_sql = _system_sql(binaries.server)
        if system_sql is not None:
            _bootstrap(mariadbd, system_sql, layout, password, INSTALL_TIMEOUT)
        else:
            install_db = launch.run_as_wrapper(layout.tempdir, binaries.install_db, layout.os_user)
            _initialise([str(install_db)], layout, password, INSTALL_TIMEOUT)
        init_seconds = time.perf_counter() - started
        port = launch.free_port()
        process = subprocess.Popen(
            [str(mariadbd), "--no-defaults", *_server_options(serverdir, port, statement_timeout)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=serverdir,
            start_new_session=True,  # Ctrl-C reaches headcheck only, which stops the server itself
        )
        layout.on_exit(lambda: _stop(process))
        version = _wait_ready(process, port, password, serverdir / "mariadbd.log", start_timeout)
        startup = time.perf_counter() - started
        yield MariaDB(
            "127.0.0.1",
            port,
            USER,
            password,
            layout.server_user,
            version,
            init_seconds,
            startup,
            layout.tempdir,
            binaries,
        )


def create_database(server: MariaDB, dbname: str) -> None:
    """CREATE DATABASE (dropped with the server)."""
    conn = server.connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {_quote(dbname)}")
    finally:
        conn.close()


# --- the proof's MySQL/MariaDB-specific parts -------------------------------------------------------


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def connect(url: str, database: str | None = "", **kwargs: Any) -> Any:
    """A PyMySQL connection (autocommit) to the database of the SQLAlchemy URL ``url`` (whatever
    its driver: headcheck asks with its own), or to ``database`` when given (None: no database)."""
    import pymysql
    from sqlalchemy.engine import make_url

    target = make_url(url)
    query = {k: v if isinstance(v, str) else v[-1] for k, v in target.query.items()}
    if query.get("unix_socket"):
        kwargs.setdefault("unix_socket", query["unix_socket"])
    if query.get("charset"):
        kwargs.setdefault("charset", query["charset"])
    return pymysql.connect(
        host=target.host or "localhost",
        port=target.port or 3306,
        user=target.username or "",
        password=target.password or "",
        database=(target.database or None) if database == "" else database,
        autocommit=True,
        connect_timeout=10,
        **kwargs,
    )


def _rows(conn: Any, sql: str) -> list[Any]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall()) if cursor.description is not None else []


# its host name, port, socket and pid file: for the throwaway server the last two are in our temp dir
GUARD_QUERY = "SELECT CONCAT_WS(' ', @@hostname, @@port, @@socket, @@pid_file)"


def guard(url: str) -> GuardSpec:
    """What proves a connection is on ``url``'s server: a query and its answer here."""
    conn = connect(url)
    try:
        rows = _rows(conn, GUARD_QUERY)
    finally:
        conn.close()
    if not rows or rows[0][0] is None:
        raise RuntimeError("cannot identify the database server")
    return GuardSpec(GUARD_QUERY, str(rows[0][0]))


def _extra_names(main: str, names: list[str]) -> list[str]:
    pattern = re.compile(re.escape(main) + r"_[0-9]+")
    return [name for name in names if name == main or pattern.fullmatch(name)]


def recreate_databases(url: str) -> str | None:
    """Drop ``url``'s database and the ones made for the project's other databases (``<name>_N``),
    and create them again, empty. An error message or None."""
    import pymysql
    from sqlalchemy.engine import make_url

    main = str(make_url(url).database)
    try:
        conn = connect(url, database=None)
        try:
            names = [str(row[0]) for row in _rows(conn, "SHOW DATABASES")]
            for name in _extra_names(main, names):
                _rows(conn, f"DROP DATABASE {_quote(name)}")
                _rows(conn, f"CREATE DATABASE {_quote(name)}")
        finally:
            conn.close()
    except pymysql.err.MySQLError as exc:
        return f"cannot rebuild the database: {exc}"
    return None


def snapshot_of(url: str, version_table: str = "alembic_version") -> Snapshot:
    """The schema of ``url``'s database, on a connection of its own."""
    from headcheck.db.backends import _mysql_snapshot

    conn = connect(url)
    try:
        return _mysql_snapshot.take(lambda sql: _rows(conn, sql), version_table)
    finally:
        conn.close()


def refuse_nonempty(url: str) -> str | None:
    """Why ``url`` is not an empty database (any table, view, routine or trigger of its own, an
    alembic_version included), or None when empty."""
    snap = snapshot_of(url, version_table="")
    found = [
        (category, line)
        for category, lines in snap.items()
        if category not in ("columns", "constraints", "indexes")  # (they belong to a table)
        for line in lines
    ]
    if found:
        shown = ", ".join(
            (line if category in ("tables", "triggers") else f"{category[:-1]} {line}")[:60]
            for category, line in found[:5]
        )
        return f"the database is not empty ({len(found)} objects: {shown}{', ...' if len(found) > 5 else ''})"
    return None


CLIENTS = ("mariadb", "mysql")


def _client(bin_dir: Path | None) -> Path | None:
    """The command-line client: beside the server's programs (or in their ``bin`` neighbour), else on PATH."""
    import shutil

    folders = [bin_dir, bin_dir.parent / "bin"] if bin_dir is not None else []
    for folder in folders:
        if folder is not None and (found := _first(folder, CLIENTS)):
            return found
    for name in CLIENTS:
        if on_path := shutil.which(name):
            return Path(on_path)
    return None


def _option_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_schema(path: Path, url: str, bin_dir: Path | None) -> str | None:
    """Load a ``mariadb-dump --no-data`` / ``mysqldump --no-data`` file with the ``mariadb`` (or
    ``mysql``) client, which understands its ``DELIMITER`` lines. The password goes through an
    option file in a private temp folder (a command line is readable by every local user).
    Returns an error message or None."""
    import tempfile

    from sqlalchemy.engine import make_url

    client = _client(bin_dir)
    if client is None:
        return "--from-schema needs the mariadb (or mysql) command-line client: apt-get install mariadb-client"
    target = make_url(url)
    with tempfile.TemporaryDirectory(prefix="headcheck-my-client-") as folder:
        options = Path(folder) / "client.cnf"
        lines = ["[client]", f"host={target.host or 'localhost'}", f"port={target.port or 3306}"]
        lines += [f"user={_option_value(target.username or '')}", f"password={_option_value(target.password or '')}"]
        launch.write_private(options, "\n".join(lines) + "\n", os.geteuid(), os.getegid())
        try:
            with path.open("rb") as dump:
                done = subprocess.run(
                    [
                        str(client),
                        f"--defaults-extra-file={options}",
                        "--protocol=TCP",
                        "--batch",
                        str(target.database),
                    ],
                    stdin=dump,
                    capture_output=True,
                    timeout=600,
                    check=False,
                )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"cannot load {path.name}: {exc}"
    if done.returncode != 0:
        return (done.stderr or done.stdout).decode(
            errors="replace"
        ).strip() or f"{client.name} exited {done.returncode}"
    return None


def create_extra_database(url: str, number: int) -> str:
    """CREATE DATABASE ``<name>_<number>`` on ``url``'s server; its URL."""
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = f"{target.database}_{number}"
    conn = connect(url)
    try:
        _rows(conn, f"CREATE DATABASE {_quote(name)}")
    finally:
        conn.close()
    return target.set(database=name).render_as_string(hide_password=False)


class MariaDBBackend(Backend):
    name = "mariadb"
    label = "MariaDB"
    dialects = ("mysql", "mariadb")
    drivers = {  # noqa: RUF012 (read-only by convention, as every Backend attribute)
        "pymysql": "pymysql",
        "mysqldb": "MySQLdb",
        "mariadbconnector": "mariadb",
        "mysqlconnector": "mysql.connector",
        "aiomysql": "aiomysql",
        "asyncmy": "asyncmy",
    }
    implied_driver = "mysqldb"  # what SQLAlchemy uses for mysql:// (mysqlclient)
    default_driver = "pymysql"
    async_drivers = frozenset({"aiomysql", "asyncmy"})
    extra = "mysql"
    transactional_ddl = False
    schema_format = "mariadb-dump --no-data (or mysqldump --no-data)"

    def throwaway(self, options: ServerOptions) -> contextlib.AbstractContextManager[MariaDB]:
        return throwaway_server(options.bin_dir, statement_timeout=options.statement_timeout)

    def create_database(self, server: Any, dbname: str) -> str:
        create_database(server, dbname)
        return str(server.url(dbname))

    def recreate_databases(self, url: str) -> str | None:
        return recreate_databases(url)

    def guard(self, url: str) -> GuardSpec:
        return guard(url)

    def refuse_nonempty(self, url: str) -> str | None:
        return refuse_nonempty(url)

    def load_schema(self, path: Path, url: str, bin_dir: Path | None) -> str | None:
        return load_schema(path, url, bin_dir)

    def snapshot(
        self, execute: Execute, version_table: str = "alembic_version", *, keep_plan: bool = False
    ) -> Snapshot:
        from headcheck.db.backends import _mysql_snapshot

        return _mysql_snapshot.take(execute, version_table, keep_plan=keep_plan)

    def create_extra_database(self, url: str, number: int) -> str:
        return create_extra_database(url, number)


BACKEND = MariaDBBackend()

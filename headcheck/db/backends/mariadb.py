"""A private, throwaway MariaDB (or MySQL-compatible ``mysqld``) for the database proof.

Debian's ``mariadb-server`` binaries: ``mariadb-install-db`` builds the system tables, ``mariadbd``
serves them. Neither runs as root: when headcheck is root (a GitHub Docker action) both are
exec'ed through a small wrapper in the temp dir that drops to the ``mysql`` user (else ``nobody``)
with ``setpriv``, the way the throwaway PostgreSQL does. The server listens on 127.0.0.1 and a
unix socket inside a 0700 folder, with durability off (it is thrown away).

Nobody logs in without the password: the initialisation replaces every account
``mariadb-install-db`` makes (password-less ``root``, anonymous users) with ``root`` on
127.0.0.1 and on the socket, both with a random password only this process knows; the SQL doing
that is read during bootstrap, before the server listens anywhere, and deleted right after. The temp dir
belongs to headcheck's user (0711 when root) and holds the wrappers root runs; everything the
server writes (data, socket, logs) lives in ``my/`` (0700, the server's user), so the server's user
cannot replace anything headcheck executes. :func:`throwaway_server` stops the server and removes
the temp dir on every exit path; :func:`sweep_stale` collects what a ``kill -9`` left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "MariaDB",
    "ServerError",
    "find_mysql_bin",
    "server_guard",
    "sweep_stale",
    "throwaway_server",
]

TEMP_PREFIX = "headcheck-my-"
OWNER_FILE = "headcheck.pid"  # pid of the headcheck process owning a temp dir
SERVER_DIR = "my"  # inside the temp dir: what the server's user may write (data, socket, logs)
USER = "root"  # the database account headcheck connects as (not the OS user)
SERVERS = ("mariadbd", "mysqld")
INSTALLERS = ("mariadb-install-db", "mysql_install_db")
INSTALL_HINT = (
    "install the MariaDB server (Debian/Ubuntu: apt-get install mariadb-server, its service need not run; "
    "macOS: brew install mariadb) or pass --mysql-bin DIR (the folder holding mariadbd and mariadb-install-db)"
)
# A server listening on a socket path longer than this fails to start (sun_path is 108 bytes).
_SOCKET_MAX = 100
# Every privilege: the value mariadb-install-db itself writes for root (see mysql_system_tables_data.sql).
_ALL_PRIVILEGES = 18446744073709551615


class ServerError(Exception):
    """The server cannot be found or started (the CLI exits 2 with this one line)."""


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

    def url(self, dbname: str, driver: str = "pymysql") -> str:
        """SQLAlchemy URL of a database on this server (``mysql+pymysql`` unless told otherwise;
        ``mariadbconnector`` is a driver of SQLAlchemy's ``mariadb`` dialect)."""
        dialect = "mariadb" if driver == "mariadbconnector" else "mysql"
        return f"{dialect}+{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

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


def _temp_parent() -> str:
    """The temp folder, unless the server's user could not reach into it (a private TMPDIR such as
    /root/tmp, when root) or the socket path would be too long (macOS): then /tmp."""
    parent = tempfile.gettempdir()
    if len(parent) + len(TEMP_PREFIX) + 40 > _SOCKET_MAX:
        return "/tmp"
    if os.geteuid() != 0:
        return parent
    path = Path(parent).resolve()
    for folder in (path, *path.parents):
        if not folder.stat().st_mode & 0o001:
            return "/tmp"
    return parent


def _unprivileged_user() -> tuple[str, int, int]:
    import pwd

    for name in ("mysql", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, entry.pw_uid, entry.pw_gid
    raise ServerError("running as root and neither a 'mysql' nor a 'nobody' user exists to run MariaDB as")


def _wrapper(tempdir: Path, program: Path, os_user: str | None) -> list[str]:
    """The command running ``program`` as ``os_user`` (when root): a script in the temp dir (root's,
    0700) that drops privileges and execs the real binary; the real binary itself when not root."""
    if os_user is None:
        return [str(program)]
    wrapper = tempdir / f"as-{os_user}-{program.name}"
    if shutil.which("setpriv"):
        drop = f"setpriv --reuid={shlex.quote(os_user)} --regid={shlex.quote(os_user)} --init-groups --"
        wrapper.write_text(f'#!/bin/sh\nexec {drop} {shlex.quote(str(program))} "$@"\n', encoding="utf-8")
    else:  # no util-linux: drop privileges from Python (same interpreter, stdlib only)
        wrapper.write_text(
            f"#!{sys.executable}\n"
            "import os, pwd, sys\n"
            f"u = pwd.getpwnam({os_user!r})\n"
            "os.initgroups(u.pw_name, u.pw_gid); os.setgid(u.pw_gid); os.setuid(u.pw_uid)\n"
            f"os.execv({str(program)!r}, [{str(program)!r}, *sys.argv[1:]])\n",
            encoding="utf-8",
        )
    wrapper.chmod(0o700)
    return [str(wrapper)]


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runs_on(pid: int, datadir: Path) -> bool:
    """Is ``pid`` really the server of ``datadir`` (not a reused pid, not another user's process)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        owner = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return not Path("/proc/self").exists()  # no procfs (macOS): trust the pid file
    with contextlib.suppress(OSError):
        if owner != datadir.stat().st_uid:
            return False
    return f"--datadir={datadir}".encode() in cmdline


def _kill_server(serverdir: Path, process: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM (a clean, fast shutdown: nothing is flushed to disk), then SIGKILL."""
    pid: int | None = process.pid if process is not None else None
    if pid is None:
        try:
            pid = int((serverdir / "mariadbd.pid").read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return
        if not _alive(pid) or not _runs_on(pid, serverdir / "data"):
            return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if process is not None and process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process is not None:
                if process.poll() is not None:
                    return
            elif not _alive(pid):
                return
            else:
                _reap_if_init()
            time.sleep(0.01)


def _reap_if_init() -> None:
    """As PID 1 (a Docker action) we inherit the orphans of a killed headcheck: reap them."""
    if os.getpid() != 1:
        return
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _remove(tempdir: Path) -> None:
    shutil.rmtree(tempdir, ignore_errors=True)
    if tempdir.exists():  # a file appeared while removing (a late log line): try once more
        time.sleep(0.05)
        shutil.rmtree(tempdir, ignore_errors=True)


def sweep_stale(tmp: Path | None = None) -> list[Path]:
    """Remove temp dirs (and servers) of headcheck processes that no longer exist, e.g. after
    ``kill -9``, which no process can clean up after itself. Returns the removed dirs."""
    removed = []
    parents = {Path(tmp)} if tmp else {Path(tempfile.gettempdir()), Path(_temp_parent())}
    for tempdir in (found for parent in parents for found in parent.glob(f"{TEMP_PREFIX}*")):
        try:
            if tempdir.is_symlink() or tempdir.stat().st_uid != os.geteuid():
                continue  # another user's (or a planted) folder: not ours to sweep
            owner = int((tempdir / OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        _kill_server(tempdir / SERVER_DIR)
        _remove(tempdir)
        removed.append(tempdir)
    return removed


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def _initialise(
    command: list[str], serverdir: Path, password: str, owner: tuple[int, int] | None, limit: float
) -> None:
    """``mariadb-install-db`` without the test database, our accounts instead of its own."""
    extra = serverdir / "accounts.sql"
    fd = os.open(extra, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(_accounts_sql(password))
    if owner is not None:
        os.chown(extra, *owner)
    try:
        done = subprocess.run(
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
            capture_output=True,
            timeout=limit,
            check=False,
            cwd=serverdir,
            start_new_session=True,  # Ctrl-C reaches headcheck only, which removes everything
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"mariadb-install-db did not finish within {limit:g} s") from exc
    finally:
        extra.unlink(missing_ok=True)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        detail = _log_tail(serverdir / "install.log") or "; ".join(output[-3:]) or f"exit code {done.returncode}"
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
    tempdir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=_temp_parent()))  # 0700, ours
    serverdir = tempdir / SERVER_DIR
    process: subprocess.Popen[bytes] | None = None
    try:
        (tempdir / OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        import pwd

        os_user: str | None = None  # set when root: the user mariadbd runs as
        own_name = pwd.getpwuid(os.geteuid()).pw_name
        password = secrets.token_urlsafe(24)  # URL-safe characters
        serverdir.mkdir(mode=0o700)
        for sub in ("sock", "tmp"):
            (serverdir / sub).mkdir(mode=0o700)
        owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            os_user, uid, gid = _unprivileged_user()
            owner = (uid, gid)
            tempdir.chmod(0o711)  # the server's user may pass through to my/, not list or write
            for path in (serverdir, serverdir / "sock", serverdir / "tmp"):
                os.chown(path, uid, gid)
        install_db = _wrapper(tempdir, binaries.install_db, os_user)
        mariadbd = _wrapper(tempdir, binaries.server, os_user)
        _initialise(install_db, serverdir, password, owner, start_timeout)
        init_seconds = time.perf_counter() - started
        port = _free_port()
        process = subprocess.Popen(
            [*mariadbd, "--no-defaults", *_server_options(serverdir, port, statement_timeout)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=serverdir,
            start_new_session=True,  # Ctrl-C reaches headcheck only, which stops the server itself
        )
        version = _wait_ready(process, port, password, serverdir / "mariadbd.log", start_timeout)
        startup = time.perf_counter() - started
        yield MariaDB(
            "127.0.0.1",
            port,
            USER,
            password,
            os_user or own_name,
            version,
            init_seconds,
            startup,
            tempdir,
            binaries,
        )
    finally:
        # Block SIGINT/SIGTERM while stopping: a second Ctrl-C must not leave a server behind.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            if process is not None:
                _kill_server(serverdir, process)
            _kill_server(serverdir)  # one started by mariadb-install-db that outlived it
            _reap_if_init()
            _remove(tempdir)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


GUARD_QUERY = "SELECT CONCAT_WS(' ', @@hostname, @@port, @@socket, @@pid_file)"


def server_guard(connect: Any) -> dict[str, str]:
    """What proves a connection is on this server: a query and its answer here (its host name,
    port, socket and pid file: the last two are inside our temp dir for the throwaway server).
    ``connect``: a callable returning a DB-API connection to it."""
    conn = connect()
    try:
        cursor = conn.cursor()
        cursor.execute(GUARD_QUERY)
        row = cursor.fetchone()
        cursor.close()
    finally:
        conn.close()
    if not row or row[0] is None:
        raise RuntimeError("cannot identify the database server")
    return {"query": GUARD_QUERY, "expected": str(row[0])}


def create_database(server: MariaDB, dbname: str) -> None:
    """CREATE DATABASE (dropped with the server)."""
    conn = server.connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{dbname.replace('`', '``')}`")
    finally:
        conn.close()

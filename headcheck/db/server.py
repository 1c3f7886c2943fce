"""A private, throwaway PostgreSQL built on pytest-postgresql's ``PostgreSQLExecutor``.

PostgreSQL refuses to run as root (``pg_ctl: cannot be run as root``), and headcheck runs as
root inside a GitHub Docker action. So every ``pg_ctl`` call goes through a small wrapper in the
server's temp dir that drops to an unprivileged user (``postgres``, else ``nobody``) with
``setpriv`` before exec'ing the real ``pg_ctl``; Python itself stays root and keeps access to
the workspace. The server listens on 127.0.0.1 and a unix socket inside the temp dir, with
durability turned off (it is thrown away).

Other local users share the machine, so nobody logs in without the password: the cluster is
initialised with scram-sha-256 for every connection (TCP and socket) and a random password that
only this process knows; it reaches the migrations only inside the URL. The temp dir belongs to
headcheck's user (0711 when root, 0700 otherwise) and holds the ``pg_ctl`` wrapper root runs;
everything the server writes (data, socket, log) lives in ``pg/`` (0700, the server's user), so
the server's user cannot replace anything headcheck executes. :func:`throwaway_server` stops the server and removes
the temp dir on every exit path; :func:`sweep_stale` collects what a ``kill -9`` left behind.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["Server", "ServerError", "find_pg_bin", "sweep_stale", "throwaway_server"]

TEMP_PREFIX = "headcheck-pg-"
OWNER_FILE = "headcheck.pid"  # pid of the headcheck process owning a temp dir
SERVER_DIR = "pg"  # inside the temp dir: what the server's user may write (data, socket, log)
SUPERUSER = "postgres"  # the database role initdb creates (not the OS user)
INSTALL_HINT = (
    "install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql; "
    "macOS: brew install postgresql) or pass --pg-bin DIR (the folder holding pg_ctl)"
)


class ServerError(Exception):
    """The server cannot be found or started (the CLI exits 2 with this one line)."""


class Server(NamedTuple):
    host: str
    port: int
    user: str  # database superuser
    password: str  # random, per server; scram-sha-256 for every connection
    os_user: str  # who the postmaster runs as
    version: str  # ``SHOW server_version``
    startup_seconds: float  # initdb + start, until it accepts connections
    tempdir: Path
    pg_bin: Path

    @property
    def datadir(self) -> Path:
        return self.tempdir / SERVER_DIR / "data"

    @property
    def logfile(self) -> Path:
        return self.tempdir / SERVER_DIR / "postgres.log"

    def url(self, dbname: str, driver: str = "psycopg") -> str:
        """SQLAlchemy URL of a database on this server (psycopg 3 driver unless told otherwise)."""
        return f"postgresql+{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str) -> str:
        """libpq connection string of a database on this server."""
        return f"host={self.host} port={self.port} user={self.user} password={self.password} dbname={dbname}"


def _version_key(path: str) -> tuple[int, ...]:
    name = Path(path).parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def find_pg_bin(pg_bin: Path | None = None) -> Path:
    """The folder holding ``pg_ctl``: ``--pg-bin``, ``pg_config --bindir``, the newest
    ``/usr/lib/postgresql/*/bin``, then ``PATH``. Raises ServerError naming what to install."""
    if pg_bin is not None:
        if (pg_bin / "pg_ctl").is_file():
            return pg_bin
        raise ServerError(f"--pg-bin {pg_bin}: no pg_ctl there; {INSTALL_HINT}")
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
    candidates += [
        Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version_key, reverse=True)
    ]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "pg_ctl").is_file() and (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    raise ServerError(f"no PostgreSQL server found (pg_ctl, initdb, postgres); {INSTALL_HINT}")


def _temp_parent() -> str:
    """The temp folder, unless we are root and the server's user could not reach into it
    (a private TMPDIR such as /root/tmp): then /tmp."""
    parent = tempfile.gettempdir()
    if os.geteuid() != 0:
        return parent
    path = Path(parent).resolve()
    for folder in (path, *path.parents):
        if not folder.stat().st_mode & 0o001:
            return "/tmp"
    return parent


def _unprivileged_user() -> tuple[str, int, int]:
    import pwd

    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, entry.pw_uid, entry.pw_gid
    raise ServerError("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as")


def _write_pg_ctl_wrapper(tempdir: Path, pg_ctl: Path, os_user: str | None) -> Path:
    """``pg_ctl`` as the unprivileged user (when root), else the real one called directly."""
    wrapper = tempdir / "pg_ctl"
    if os_user is None:
        return pg_ctl
    if shutil.which("setpriv"):
        drop = f"setpriv --reuid={shlex.quote(os_user)} --regid={shlex.quote(os_user)} --init-groups --"
        wrapper.write_text(f'#!/bin/sh\nexec {drop} {shlex.quote(str(pg_ctl))} "$@"\n', encoding="utf-8")
    else:  # no util-linux: drop privileges from Python (same interpreter, stdlib only)
        wrapper.write_text(
            f"#!{sys.executable}\n"
            "import os, pwd, sys\n"
            f"u = pwd.getpwnam({os_user!r})\n"
            "os.initgroups(u.pw_name, u.pw_gid); os.setgid(u.pw_gid); os.setuid(u.pw_uid)\n"
            f"os.execv({str(pg_ctl)!r}, [{str(pg_ctl)!r}, *sys.argv[1:]])\n",
            encoding="utf-8",
        )
    wrapper.chmod(0o700)
    return wrapper


def _executor_class(pwfile: Path) -> Any:
    from pytest_postgresql.executors import PostgreSQLExecutor

    class ThrowawayExecutor(PostgreSQLExecutor):
        """initdb without fsync (``--no-sync``), UTF8 and the C locale: faster, and the same everywhere.
        Authentication: scram-sha-256 everywhere with the password in ``pwfile`` (the last ``--auth``
        wins over pytest-postgresql's own). Its ``password=`` would write the file as root in
        TMPDIR, where the server's user cannot read it."""

        def _format_initdb_options(self, initdb_options: list[str]) -> str:
            extra = ["--no-sync", "--encoding=UTF8", "--locale=C", "--auth=scram-sha-256", f"--pwfile={pwfile}"]
            return str(super()._format_initdb_options([*initdb_options, *extra]))

    return ThrowawayExecutor


def _server_options(statement_timeout: float | None) -> str:
    options = [
        "listen_addresses=127.0.0.1",
        "fsync=off",
        "full_page_writes=off",
        "synchronous_commit=off",
        "wal_level=minimal",
        "max_wal_senders=0",
        "archive_mode=off",
        "autovacuum=off",
        "max_connections=30",
    ]
    if statement_timeout:
        ms = max(1, int(statement_timeout * 1000))
        options += [f"statement_timeout={ms}", f"lock_timeout={ms}"]
    return " ".join(f"-c {o}" for o in options)


def _postmaster_pid(datadir: Path) -> int | None:
    try:
        return int((datadir / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runs_on(pid: int, datadir: Path) -> bool:
    """Is ``pid`` really the postmaster of ``datadir`` (not a reused pid, not another pid namespace,
    not a process of another user who wrote the pid there)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        owner = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return not Path("/proc/self").exists()  # no procfs (macOS): trust postmaster.pid
    with contextlib.suppress(OSError):
        if owner != datadir.stat().st_uid:
            return False
    return str(datadir).encode() in cmdline


def _kill_postmaster(datadir: Path) -> None:
    """Last resort after ``pg_ctl stop``: immediate shutdown (SIGQUIT), then SIGKILL."""
    pid = _postmaster_pid(datadir)
    if pid is None or not _alive(pid) or not _runs_on(pid, datadir):
        return
    for sig, wait in ((signal.SIGQUIT, 3.0), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(pid):
            _reap_if_init()
            time.sleep(0.02)
        if not _alive(pid):
            return


def _reap_if_init() -> None:
    """pg_ctl daemonizes the postmaster; as PID 1 (a Docker action) we inherit it when it exits."""
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
        _kill_postmaster(tempdir / SERVER_DIR / "data")
        _remove(tempdir)
        removed.append(tempdir)
    return removed


def _wait_ready(executor: Any, port: int, password: str) -> str:
    """mirakuru is satisfied once the port accepts TCP, which is before PostgreSQL accepts
    sessions ("the database system is starting up"): wait for ``pg_ctl start -w`` to return,
    then for a session. Returns ``SHOW server_version``."""
    import psycopg

    launcher = getattr(executor, "process", None)
    if launcher is not None:
        try:
            code = launcher.wait(timeout=60)
        except subprocess.TimeoutExpired as exc:
            raise ServerError("PostgreSQL did not become ready within 60 s") from exc
        if code != 0:
            raise ServerError(f"pg_ctl start exited with code {code}")
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=SUPERUSER, password=password, dbname="postgres", autocommit=True
            ) as conn:
                row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "unknown"
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ServerError(f"PostgreSQL does not accept connections: {str(exc).strip()}") from exc
            time.sleep(0.02)


@contextlib.contextmanager
def throwaway_server(pg_bin: Path | None = None, *, statement_timeout: float | None = None) -> Iterator[Server]:
    """Start a private PostgreSQL; on leaving the block (any way at all) stop it and delete its files.

    Raises ServerError when no server binaries are found or the server does not start.
    """
    bindir = find_pg_bin(pg_bin)
    sweep_stale()
    started = time.perf_counter()
    tempdir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=_temp_parent()))  # 0700, ours
    serverdir = tempdir / SERVER_DIR
    executor: Any = None
    running = False
    try:
        (tempdir / OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        import pwd

        os_user: str | None = None  # set when root: the user the postmaster runs as
        os_user_name = pwd.getpwuid(os.geteuid()).pw_name
        password = secrets.token_urlsafe(24)  # URL- and conninfo-safe characters
        serverdir.mkdir(mode=0o700)
        socket_dir = serverdir / "sock"
        socket_dir.mkdir(mode=0o700)
        pwfile = serverdir / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        if os.geteuid() == 0:
            os_user, uid, gid = _unprivileged_user()
            tempdir.chmod(0o711)  # the server's user may pass through to pg/, not list or write
            for path in (serverdir, socket_dir, pwfile):
                os.chown(path, uid, gid)
        pg_ctl = _write_pg_ctl_wrapper(tempdir, bindir / "pg_ctl", os_user)
        import port_for

        free_port = port_for.get_port(None)
        if free_port is None:
            raise ServerError("no free TCP port on 127.0.0.1")
        port = int(free_port)
        executor = _executor_class(pwfile)(
            executable=str(pg_ctl),
            host="127.0.0.1",
            port=port,
            datadir=str(serverdir / "data"),
            unixsocketdir=str(socket_dir),
            logfile=str(serverdir / "postgres.log"),
            startparams="-w",
            dbname="postgres",
            user=SUPERUSER,
            timeout=60,
            sleep=0.02,
            postgres_options=_server_options(statement_timeout),
        )
        try:
            executor.start()
        except Exception as exc:
            log = serverdir / "postgres.log"
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:] if log.exists() else []
            detail = "; ".join(tail) or str(exc).strip().splitlines()[-1]
            raise ServerError(f"PostgreSQL did not start ({bindir}/pg_ctl): {detail}") from exc
        finally:
            pwfile.unlink(missing_ok=True)
        running = True
        version = _wait_ready(executor, port, password)
        startup = time.perf_counter() - started
        yield Server("127.0.0.1", port, SUPERUSER, password, os_user or os_user_name, version, startup, tempdir, bindir)
    finally:
        # Block SIGINT/SIGTERM while stopping: a second Ctrl-C must not leave a server behind.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            if executor is not None and running:
                with contextlib.suppress(Exception):  # let ``pg_ctl start -w`` finish its own wait first
                    executor.process.wait(timeout=5)
                with contextlib.suppress(Exception):
                    executor.stop()
            _kill_postmaster(serverdir / "data")
            _reap_if_init()
            if executor is not None:
                executor._directory_initialised = False  # our rmtree below; its __del__ has nothing to do
            _remove(tempdir)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def create_database(server: Server, dbname: str) -> None:
    """CREATE DATABASE through pytest-postgresql's DatabaseJanitor (dropped with the server)."""
    from pytest_postgresql.janitor import DatabaseJanitor

    DatabaseJanitor(
        user=server.user, host=server.host, port=server.port, dbname=dbname, password=server.password
    ).init()

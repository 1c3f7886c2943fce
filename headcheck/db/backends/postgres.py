"""PostgreSQL: a private, throwaway server, and the proof's PostgreSQL-specific parts (guard,
schema snapshot, ``--from-schema``, ``--database-url`` checks).

The server (:func:`throwaway_server`) is the machine's ``postgres`` program, started by headcheck
itself: no ``pg_ctl``, no shell wrapper. Around it, ``headcheck.db.launch`` does what is not
PostgreSQL's business: the temp dir layout, the sweep of a killed run's leftovers. As root, every
server program (``initdb``, ``postgres --single``, the postmaster) runs as an unprivileged user
(``subprocess``'s ``user``/``group``/``extra_groups``: no supplementary groups); Python stays
root. The postmaster is headcheck's own child: it is stopped (an immediate shutdown) and reaped
by headcheck, never by init. The server listens on 127.0.0.1 and a unix socket in a 0700 folder,
durability off (it is thrown away). Every connection, TCP and socket, authenticates with
scram-sha-256 and a random password only this process knows; the authentication rules come from
our own ``hba_file`` (a server setting). Its log is a file headcheck creates (never one that is
there) and hands to the server's user; headcheck reads it only through that descriptor.

The data folder: initdb (``--no-sync``, UTF8, the C locale; the password through a file only the
server's user can read, removed once initdb ran) is most of a first start, and its output is the
same every time: the first server keeps a copy of the folder it made (headcheck.db.template, in
headcheck's cache dir), and later ones start from a copy of that, their own password set in
single-user mode; about 0.08 s instead of 0.4 s here. ``HEADCHECK_NO_CACHE`` turns it off. The
driver (psycopg) is imported in a thread while the server starts.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.db import launch, template
from headcheck.db.backends import Backend, Execute, GuardSpec, ServerError, ServerOptions, Snapshot

__all__ = [
    "BACKEND",
    "PostgresBackend",
    "Server",
    "ServerError",
    "create_database",
    "find_pg_bin",
    "guard",
    "load_schema",
    "recreate_databases",
    "refuse_nonempty",
    "sweep_stale",
    "throwaway_server",
]

TEMP_PREFIX = "headcheck-pg-"
OWNER_FILE = launch.OWNER_FILE
SERVER_DIR = "pg"  # inside the temp dir: what the server's user may write (data, socket, log)
SERVER_USERS = ("postgres", "nobody")  # the OS user the server runs as when headcheck is root
SUPERUSER = "postgres"  # the database role initdb creates (not the OS user)
PWFILE = "pwfile"  # in SERVER_DIR: the password for initdb, readable by the server's user only (removed once it ran)
INSTALL_HINT = (
    "install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql; "
    "macOS: brew install postgresql) or pass --pg-bin DIR (the folder holding pg_ctl)"
)
# every connection with the password, never without: our pg_hba.conf (initdb's is not used)
HBA = "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"


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
    def bin_dir(self) -> Path:
        return self.pg_bin

    @property
    def datadir(self) -> Path:
        return self.tempdir / SERVER_DIR / "data"

    @property
    def logfile(self) -> Path:
        return self.tempdir / SERVER_DIR / "postgres.log"

    def url(self, dbname: str, driver: str | None = "psycopg") -> str:
        """SQLAlchemy URL of a database on this server (psycopg 3 driver unless told otherwise)."""
        return f"postgresql+{driver or 'psycopg'}://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

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
        candidates += _pg_config_bindir(pg_config)
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


_BINDIRS: dict[str, list[Path]] = {}


def _pg_config_bindir(pg_config: str) -> list[Path]:
    """``pg_config --bindir`` (Debian's is a shell script listing folders: about 15 ms), asked once
    per process and program: the proof looks for the server twice (its template, its start)."""
    if pg_config not in _BINDIRS:
        found: list[Path] = []
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False)
            if out.returncode == 0 and out.stdout.strip():
                found.append(Path(out.stdout.strip()))
        _BINDIRS[pg_config] = found
    return list(_BINDIRS[pg_config])


# initdb without fsync (the cluster is thrown away: about 1 s less per run), UTF8 and the C locale
# (the same everywhere, whatever the machine's locale)
INITDB_OPTIONS = ("--no-sync", "--encoding=UTF8", "--locale=C")
READY_WAIT = 60.0  # seconds the server may take to accept a session
# what shapes the files initdb writes, besides the server's build: bump to drop every template
_TEMPLATE_FORMAT = 2


def _template(bindir: Path) -> Path | None:
    """Where the data folder template for the server in ``bindir`` lives (headcheck.db.template),
    or None (no cache). Its name changes with what shapes initdb's files: the server's build (the
    ``postgres`` program's identity), :data:`INITDB_OPTIONS`, the superuser's name and the time
    zone initdb writes into postgresql.conf."""
    from headcheck.result_cache import digest

    try:
        program = (bindir / "postgres").stat()
    except OSError:
        return None
    # (the folder's name below, the program's size and time; not its inode: a container's differs)
    build = (program.st_size, program.st_mtime_ns)
    shape = (
        _TEMPLATE_FORMAT,
        build,
        INITDB_OPTIONS,
        SUPERUSER,
        os.environ.get("TZ"),
        os.path.realpath("/etc/localtime"),
    )
    family = f"postgres-{digest(str(bindir.resolve()).encode('utf-8', 'surrogateescape'))[:12]}-"
    return template.folder(family + digest(repr(shape).encode("utf-8", "surrogateescape"))[:16])


def _as_server_user(layout: launch.Layout) -> dict[str, Any]:
    """``subprocess`` arguments that run a program as the server's user (when root: its uid and
    gid, no supplementary groups); none otherwise."""
    if layout.os_user is None:
        return {}
    return {"user": layout.uid, "group": layout.gid, "extra_groups": []}


def _data_folder(bindir: Path, layout: launch.Layout, datadir: Path, password: str) -> None:
    """Make the cluster in ``datadir``, its superuser's password ``password``. With a template
    (headcheck.db.template): a copy of it (made in headcheck's own folder, handed to the server's
    user), the password set by the server in single-user mode. Without one, or when that fails
    (the template is then dropped): initdb, whose fresh folder becomes the template. Raises
    ServerError when initdb fails."""
    kept = _template(bindir)
    owner = (layout.uid, layout.gid) if layout.os_user is not None else None
    if kept is not None and kept.exists():
        if template.use(kept, datadir, layout.tempdir, owner) and _set_password(bindir, datadir, password, layout):
            return
        # a template that cannot be copied or started from: initdb makes the folder, and a new template
        shutil.rmtree(datadir, ignore_errors=True)
        template.discard(kept)
    pwfile = layout.serverdir / PWFILE  # (the server's user reads it; nobody else can)
    launch.write_private(pwfile, password, layout.uid, layout.gid)
    argv = [str(bindir / "initdb"), "--pgdata", str(datadir), f"--username={SUPERUSER}", f"--pwfile={pwfile}"]
    argv += ["--auth=scram-sha-256", *INITDB_OPTIONS]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", check=False, **_as_server_user(layout)
        )
    except OSError as exc:
        raise ServerError(f"PostgreSQL's initdb did not run ({bindir}/initdb): {exc}") from exc
    finally:
        pwfile.unlink(missing_ok=True)
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise ServerError(f"PostgreSQL's initdb failed ({bindir}/initdb): {tail[0]}")
    if kept is not None:
        template.keep(datadir, kept, kept.name[: kept.name.rindex("-") + 1])


def _set_password(bindir: Path, datadir: Path, password: str, layout: launch.Layout) -> bool:
    """Give :data:`SUPERUSER` of the (stopped) cluster in ``datadir`` the ``password``, with the
    server in single-user mode as the server's user (scram-sha-256, as every connection
    authenticates; the password on its standard input, never in its arguments)."""
    if not password or any(c in password for c in "\0\r\n\\"):
        return False
    literal = "'" + password.replace("'", "''") + "'"
    command = f'ALTER ROLE "{SUPERUSER}" PASSWORD {literal}\n'
    settings = ("password_encryption=scram-sha-256", "fsync=off", "dynamic_shared_memory_type=mmap")
    argv = [str(bindir / "postgres"), "--single", "-D", str(datadir)]
    for setting in settings:
        argv += ["-c", setting]
    argv.append("postgres")
    try:
        done = subprocess.run(
            argv, input=command, capture_output=True, text=True, timeout=60, check=False, **_as_server_user(layout)
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "ERROR" not in done.stdout + done.stderr


def _server_options(statement_timeout: float | None, hba_file: Path) -> list[str]:
    """The server's settings, as ``postgres -c`` takes them."""
    options = [
        "listen_addresses=127.0.0.1",
        f"hba_file={hba_file}",
        "fsync=off",
        "full_page_writes=off",
        "synchronous_commit=off",
        "wal_level=minimal",
        "max_wal_senders=0",
        "archive_mode=off",
        "autovacuum=off",
        "max_connections=30",
        # catalog queries over a schema with hundreds of tables are estimated expensive enough for
        # JIT compilation: hundreds of milliseconds of compiling for a query that runs in one or two
        "jit=off",
        # dynamic shared memory as files in the data folder, which goes with the server whatever
        # happens: the default (POSIX shared memory, in /dev/shm) outlives a postmaster killed
        # outright (headcheck killed, a server that would not stop) until the machine reboots
        "dynamic_shared_memory_type=mmap",
    ]
    if statement_timeout:
        ms = max(1, int(statement_timeout * 1000))
        options += [f"statement_timeout={ms}", f"lock_timeout={ms}"]
    return options


def _postmaster_pid(datadir: Path) -> int | None:
    try:
        return int((datadir / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _kill_postmaster(datadir: Path) -> None:
    """Immediate shutdown (SIGQUIT), then SIGKILL, of the server of ``datadir`` (launch.kill)."""
    launch.kill(_postmaster_pid(datadir), datadir)


def sweep_stale(tmp: Path | None = None) -> list[Path]:
    """Remove temp dirs (and servers) of headcheck processes that no longer exist, e.g. after
    ``kill -9``, which no process can clean up after itself. Returns the removed dirs."""
    return launch.sweep_stale(TEMP_PREFIX, lambda tempdir: _kill_postmaster(tempdir / SERVER_DIR / "data"), tmp)


def _import_driver(done: list[BaseException | None]) -> None:
    try:
        import psycopg  # noqa: F401 -- (imported while the server starts)

        done.append(None)
    except BaseException as exc:  # (re-raised by the waiting thread)
        done.append(exc)


def _wait_ready(process: Any, port: int, password: str, log: int, seconds: float = READY_WAIT) -> str:
    """Wait until the server takes a session (a session is tried every 10 ms): it listens before
    it accepts sessions ("the database system is starting up"). The server's process ending
    ends the wait (ServerError with the last lines of its log, read through ``log``, the file
    headcheck opened for it). Returns ``SHOW server_version``."""
    import psycopg

    def version() -> str:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=SUPERUSER, password=password, dbname="postgres", autocommit=True
        ) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise ServerError(f"PostgreSQL did not start: {_log_tail(log) or f'exit code {process.returncode}'}")
        try:
            return version()
        except psycopg.Error as exc:
            if time.monotonic() > deadline:
                detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ServerError(f"PostgreSQL did not become ready within {seconds:.0f} s: {detail}") from exc
        time.sleep(0.01)


def _log_tail(log: int, lines: int = 3) -> str:
    """The last ``lines`` lines of the server's log, through the descriptor headcheck opened it
    with (never by its name, in a folder the server's user may write), on one line."""
    try:
        size = os.fstat(log).st_size
        text = os.pread(log, 8192, max(0, size - 8192)).decode("utf-8", "replace")
    except OSError:
        return ""
    return "; ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _open_log(layout: launch.Layout) -> int:
    """The server's log file, created (never one that is there: O_EXCL, no symlink followed) and
    handed to the server's user; returns the descriptor the server writes to."""
    path = layout.serverdir / "postgres.log"
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    if os.geteuid() == 0:
        os.fchown(fd, layout.uid, layout.gid)
    return fd


@contextlib.contextmanager
def throwaway_server(pg_bin: Path | None = None, *, statement_timeout: float | None = None) -> Iterator[Server]:
    """Start a private PostgreSQL; on leaving the block (any way at all) stop it and delete its files.

    Raises ServerError when no server binaries are found or the server does not start.
    """
    bindir = find_pg_bin(pg_bin)
    sweep_stale()
    started = time.perf_counter()
    with launch.throwaway_dir(TEMP_PREFIX, SERVER_USERS, "PostgreSQL", SERVER_DIR) as layout:
        serverdir = layout.serverdir
        datadir = serverdir / "data"
        password = secrets.token_urlsafe(24)  # URL- and conninfo-safe characters
        socket_dir = layout.server_subdir("sock")
        hba_file = serverdir / "pg_hba.conf"
        launch.write_private(hba_file, HBA, layout.uid, layout.gid)
        port = launch.free_port()
        try:
            log = _open_log(layout)
        except OSError as exc:
            raise ServerError(f"cannot create the server's log in {serverdir}: {exc.strerror}") from exc
        layout.on_exit(lambda: os.close(log))
        _data_folder(bindir, layout, datadir, password)
        # the driver is imported while the server starts (about 0.1 s of the parent's CPU)
        imported: list[BaseException | None] = []
        importer = threading.Thread(target=_import_driver, args=(imported,), name="headcheck-import", daemon=True)
        importer.start()
        argv = [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port), "-k", str(socket_dir)]
        for option in _server_options(statement_timeout, hba_file):
            argv += ["-c", option]
        try:
            # (the postmaster itself, as the server's user: no pg_ctl, no wrapper, and it is our
            # child, reaped by us, never by init)
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # (Ctrl-C reaches headcheck only: it stops the server itself)
                **_as_server_user(layout),
            )
        except OSError as exc:
            importer.join()
            raise ServerError(f"PostgreSQL did not start ({bindir}/postgres): {exc}") from exc

        def stop() -> None:
            # an immediate shutdown (SIGQUIT): the cluster is thrown away, so no shutdown checkpoint
            launch.kill(process.pid, datadir)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)

        layout.on_exit(stop)
        importer.join()
        if imported and imported[0] is not None:
            raise imported[0]
        version = _wait_ready(process, port, password, log)
        startup = time.perf_counter() - started
        yield Server(
            "127.0.0.1", port, SUPERUSER, password, layout.server_user, version, startup, layout.tempdir, bindir
        )


def create_database(server: Server, dbname: str) -> None:
    """CREATE DATABASE (dropped with the server)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


# --- the proof's PostgreSQL-specific parts ---------------------------------------------------------

# a connection whose answer to the first query that works here equals the parent's is on the same
# server: system_identifier needs privileges a --database-url role may lack; the start time does not
_GUARD_QUERIES = (
    "SELECT (SELECT system_identifier FROM pg_control_system())::text || ' '"
    " || extract(epoch FROM pg_postmaster_start_time())::text",
    "SELECT current_setting('port') || ' ' || extract(epoch FROM pg_postmaster_start_time())::text",
)


def guard(url: str) -> GuardSpec:
    """What proves a connection is on ``url``'s server: a query and its answer here."""
    import psycopg

    from headcheck.db.urls import libpq_url

    last: Exception | None = None
    for query in _GUARD_QUERIES:
        try:
            with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                row = conn.execute(query.encode()).fetchone()
        except psycopg.Error as exc:
            last = exc
            continue
        if row and row[0] is not None:
            return GuardSpec(query, str(row[0]))
    raise RuntimeError(f"cannot identify the database server: {last}")


def load_schema(path: Path, url: str, pg_bin: Path | None) -> str | None:
    """Load a ``pg_dump --schema-only`` file with psql (it may hold psql meta-commands such as
    ``\\restrict``); without psql, run it through psycopg minus the meta-command lines.
    Returns an error message or None."""
    from headcheck.db.urls import libpq_url, split_password

    conninfo_url = libpq_url(url)
    psql = (pg_bin / "psql") if pg_bin is not None and (pg_bin / "psql").is_file() else shutil.which("psql")
    if psql:
        # the password through the environment: a command line is readable by every local user
        public_url, password = split_password(conninfo_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if password is not None:
            env["PGPASSWORD"] = password
        done = subprocess.run(
            [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", public_url, "-f", str(path)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if done.returncode != 0:
            return (done.stderr or done.stdout).strip() or f"psql exited with code {done.returncode}"
        return None
    import psycopg

    sql = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("\\"))
    try:
        with psycopg.connect(conninfo_url, autocommit=True) as conn:
            conn.execute(sql.encode())
    except psycopg.Error as exc:
        return str(exc).strip()
    return None


# what a new database holds before anyone uses it
_EMPTY = {"schemas": {"public"}, "extensions": {"plpgsql"}}


def recreate_databases(url: str) -> str | None:
    """Drop ``url``'s database and the ones made for the project's other databases (``<name>_N``),
    and create them again, empty. An error message or None."""
    import psycopg
    from psycopg import sql

    from headcheck.db.urls import libpq_url

    main = str(psycopg.conninfo.conninfo_to_dict(libpq_url(url)).get("dbname"))
    admin = psycopg.conninfo.make_conninfo(libpq_url(url), dbname="postgres")
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname = %s OR datname ~ %s",
                [main, "^" + re.escape(main) + "_[0-9]+$"],
            ).fetchall()
            for (name,) in rows:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        return f"cannot rebuild the database: {str(exc).strip()}"
    return None


def refuse_nonempty(url: str) -> str | None:
    """Why ``url`` is not an empty database (any table, view, type, sequence, function, schema or
    extension of its own, an alembic_version included), or None when empty."""
    import psycopg

    from headcheck.db import snapshot
    from headcheck.db.urls import libpq_url

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        snap = snapshot.take(lambda sql: conn.execute(sql.encode()).fetchall(), version_table="")
    found = [
        (category, line)
        for category, lines in snap.items()
        if category not in ("columns", "constraints", "indexes", "triggers")  # (they belong to a table)
        for line in lines
        if line not in _EMPTY.get(category, set())
    ]
    if found:
        shown = ", ".join(
            (line if category == "tables" else f"{category[:-1]} {line}")[:60] for category, line in found[:5]
        )
        return f"the database is not empty ({len(found)} objects: {shown}{', ...' if len(found) > 5 else ''})"
    return None


def create_extra_database(url: str, number: int) -> str:
    """CREATE DATABASE ``<name>_<number>`` on ``url``'s server; its URL."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = f"{target.database}_{number}"
    with psycopg.connect(
        host=target.host,
        port=target.port,
        user=target.username,
        password=target.password,
        dbname=target.database,
        autocommit=True,
    ) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return target.set(database=name).render_as_string(hide_password=False)


class PostgresBackend(Backend):
    name = "postgres"
    label = "PostgreSQL"
    dialects = ("postgresql", "postgres")
    drivers = {  # noqa: RUF012 (read-only by convention, as every Backend attribute)
        "psycopg": "psycopg",
        "psycopg_async": "psycopg",
        "psycopg2": "psycopg2",
        "psycopg2cffi": "psycopg2cffi",
        "asyncpg": "asyncpg",
        "pg8000": "pg8000",
    }
    implied_driver = "psycopg2"
    default_driver = "psycopg"
    async_drivers = frozenset({"asyncpg", "psycopg_async"})
    extra = "postgres"
    lock_trace = True
    schema_format = "pg_dump --schema-only"

    def throwaway(self, options: ServerOptions) -> contextlib.AbstractContextManager[Server]:
        return throwaway_server(options.bin_dir, statement_timeout=options.statement_timeout)

    def starts_quickly(self, bin_dir: Path | None) -> bool:
        try:
            kept = _template(find_pg_bin(bin_dir))
        except ServerError:
            return False
        return kept is not None and template.usable(kept)

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
        from headcheck.db import snapshot

        return snapshot.take(execute, version_table, keep_plan=keep_plan)

    def snapshots(
        self, version_table: str, connection: Callable[[], object], *, many: bool
    ) -> tuple[Callable[[Execute], Snapshot], Callable[[], None]]:
        """Incremental snapshots from a DDL log where the role may log DDL and the plan takes many
        (headcheck.db.snapshot.Session; for a few, logging every DDL command costs more than it
        saves): else full ones through the kept plan."""
        from headcheck.db import snapshot

        session = snapshot.Session(version_table, connection, verify=os.environ.get(snapshot.VERIFY), incremental=many)
        return session.take, session.forget

    def create_extra_database(self, url: str, number: int) -> str:
        return create_extra_database(url, number)


BACKEND = PostgresBackend()

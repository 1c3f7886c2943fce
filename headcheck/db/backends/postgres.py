"""PostgreSQL: a private, throwaway server on pytest-postgresql's public API, and the proof's
PostgreSQL-specific parts (guard, schema snapshot, ``--from-schema``, ``--database-url`` checks).

The server (:func:`throwaway_server`) is pytest-postgresql's ``PostgreSQLExecutor`` used through
its constructor, ``start()`` and ``stop()`` only, with ``password=`` for authentication. Around it,
``headcheck.db.launch`` does what is not PostgreSQL's business: the temp dir layout, the drop to an
unprivileged user (every ``pg_ctl`` call goes through a wrapper), the sweep of a killed run's
leftovers. The server listens on 127.0.0.1 and a unix socket in a 0700 folder, durability off (it
is thrown away). Every connection, TCP and socket, authenticates with scram-sha-256 and a random
password only this process knows: pytest-postgresql's ``password=`` sets it at initdb; the
authentication rules come from our own ``hba_file`` (a server setting, passed with the public
``postgres_options``), because its ``--auth=password`` would send the password in clear.

pytest-postgresql's public API cannot do two things headcheck needs, so one workaround, isolated in
:func:`_pg_ctl` (our ``pg_ctl`` wrapper, acting on ``pg_ctl initdb`` only) and pinned by
``tests/db/test_db_server.py`` (``test_pytest_postgresql_writes_a_password_file_only_its_creator_can_read``,
``test_initdb_gets_our_options_and_a_readable_password_file``), adjusts initdb's options:

- it takes no initdb options: ``--no-sync`` (about 1 s per run), UTF8 and the C locale are added;
- as root, ``password=`` cannot work as it is: pytest-postgresql writes the password with
  ``tempfile.NamedTemporaryFile`` (mode 0600, owned by the caller, in TMPDIR) and passes
  ``--pwfile=`` to initdb, which runs as the server's user and cannot read a root-owned 0600 file.
  The wrapper (still root) copies it into the server's folder, owned by the server's user, before
  dropping privileges. Not root, the server runs as the caller and reads it as it is;
- initdb is most of a start, and its output is the same every time: the first server keeps a copy
  of the folder it made (headcheck.db.template, in headcheck's cache dir), and later ones start
  from a copy of that, their own password set in single-user mode (:func:`_initdb`); about 0.45 s
  instead of 1.3 s. ``HEADCHECK_NO_CACHE`` turns it off.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
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
PWFILE = "pwfile"  # in SERVER_DIR: the password handed over to initdb (removed once it ran)
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


def _hand_over_pwfile(argv: list[str], pwfile: Path, uid: int, gid: int) -> list[str]:
    """As root, in ``pg_ctl initdb ... -o "... --pwfile=F"``: copy ``F`` (pytest-postgresql's
    root-owned 0600 file in TMPDIR) to ``pwfile``, owned by the server's ``uid``/``gid``, and point
    initdb there. ``F`` must be a regular file of ours (not a symlink, not a file another user
    planted in TMPDIR). Other commands and options pass unchanged."""
    if argv[:1] != ["initdb"] or "-o" not in argv[:-1]:
        return argv
    at = argv.index("-o") + 1
    options = shlex.split(argv[at])
    for k, option in enumerate(options):
        if option.startswith("--pwfile="):
            launch.write_private(pwfile, _read_secret(option.removeprefix("--pwfile=")), uid, gid)
            options[k] = f"--pwfile={pwfile}"
    return [*argv[:at], " ".join(shlex.quote(o) for o in options), *argv[at + 1 :]]


def _read_secret(path: str) -> str:
    """The password in pytest-postgresql's password file: a regular file of ours (not a symlink,
    not a file another user planted in TMPDIR), else SystemExit."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise SystemExit("headcheck: refusing a password file not created by headcheck")
        return os.read(fd, 65536).decode("utf-8")
    finally:
        os.close(fd)


def _pwfile_option(argv: list[str]) -> str | None:
    """The ``--pwfile=`` of ``pg_ctl initdb ... -o "OPTIONS"``."""
    options = shlex.split(argv[argv.index("-o") + 1]) if "-o" in argv[:-1] else []
    return next((o.removeprefix("--pwfile=") for o in options if o.startswith("--pwfile=")), None)


def _pg_ctl(layout: launch.Layout, bindir: Path) -> Path:
    """THE workaround (see the module docstring): the ``pg_ctl`` pytest-postgresql runs is a shell
    wrapper in headcheck's own folder. For ``initdb`` it appends :data:`INITDB_OPTIONS` to the
    ``-o`` options and hands the command to :func:`_initdb` (a Python step, still root when
    headcheck is: the password file hand-over, the data folder template); every other command
    goes to the real ``pg_ctl``, as the server's user when root (``launch.run_as_wrapper``)."""
    pg_ctl = launch.run_as_wrapper(layout.tempdir, bindir / "pg_ctl", layout.os_user)
    postgres = launch.run_as_wrapper(layout.tempdir, bindir / "postgres", layout.os_user)
    kept = _template(bindir)
    owner = (layout.uid, layout.gid) if layout.os_user is not None else None
    root = str(Path(__file__).resolve().parents[3])
    step = (
        "import os, sys\n"
        f"sys.path.insert(0, {root!r})\n"
        "from pathlib import Path\n"
        "from headcheck.db.backends.postgres import _initdb\n"
        f"sys.exit(_initdb(sys.argv[1:], Path({str(pg_ctl)!r}), Path({str(postgres)!r}), "
        f"Path({str(layout.serverdir / PWFILE)!r}), {owner!r}, "
        f"{str(kept) if kept else None!r}, Path({str(layout.tempdir)!r})))\n"
    )
    python = shlex.quote(sys.executable)
    # (an interpreter this user cannot run, as when a test drops root: initdb itself, no template)
    run = f'[ -x {python} ] && exec {python} -I -c {shlex.quote(step)} "$@"\n    exec {shlex.quote(str(pg_ctl))} "$@"'
    extra = shlex.quote(" " + " ".join(INITDB_OPTIONS))
    wrapper = layout.tempdir / "pg_ctl-headcheck"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = initdb ]; then\n'
        "    previous=\n"
        '    for arg in "$@"; do\n'
        "        shift\n"
        f'        [ "$previous" = -o ] && arg="$arg"{extra}\n'
        '        set -- "$@" "$arg"\n'
        '        previous="$arg"\n'
        "    done\n"
        f"    {run}\n"
        "fi\n"
        f'exec {shlex.quote(str(pg_ctl))} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o700)
    return wrapper


# what shapes the files initdb writes, besides the server's build: bump to drop every template
_TEMPLATE_FORMAT = 1


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


def _initdb(
    argv: list[str],
    pg_ctl: Path,
    postgres: Path,
    pwfile: Path,
    owner: tuple[int, int] | None,
    kept: str | None,
    staging: Path,
) -> int:
    """``pg_ctl initdb ...`` as the wrapper of :func:`_pg_ctl` received it (our options appended):
    as root, the password file handed over to the server's user first (:func:`_hand_over_pwfile`,
    ``owner``: its uid and gid). Then, with a template (``kept``, headcheck.db.template): the data
    folder is a copy of it (made in ``staging``, headcheck's own folder), and the superuser gets
    the password of pytest-postgresql's password file, set by the server in single-user mode (as
    the server's user, through ``postgres``; the password on its standard input, never in its
    arguments). Without a template, or when that fails (the template is then dropped): ``pg_ctl
    initdb`` (through ``pg_ctl``), and its fresh folder becomes the template. Returns the exit
    code for ``pg_ctl initdb``."""
    given = _pwfile_option(argv)
    secret = _read_secret(given) if given is not None else None
    if owner is not None:
        argv = _hand_over_pwfile(argv, pwfile, *owner)
    target = Path(argv[argv.index("--pgdata") + 1]) if "--pgdata" in argv[:-1] else None
    place = Path(kept) if kept else None
    if place is not None and target is not None and secret is not None and place.exists():
        if template.use(place, target, staging, owner) and _set_password(postgres, target, secret):
            return 0
        # a template that cannot be copied or started from: initdb makes the folder, and a new template
        shutil.rmtree(target, ignore_errors=True)
        template.discard(place)
    code = subprocess.run([str(pg_ctl), *argv], check=False).returncode
    if code == 0 and place is not None and target is not None:
        template.keep(target, place, place.name[: place.name.rindex("-") + 1])
    return code


def _set_password(postgres: Path, datadir: Path, password: str) -> bool:
    """Give :data:`SUPERUSER` of the (stopped) cluster in ``datadir`` the ``password``, with the
    server in single-user mode (scram-sha-256, as every connection authenticates)."""
    if not password or any(c in password for c in "\0\r\n\\"):
        return False
    literal = "'" + password.replace("'", "''") + "'"
    command = f'ALTER ROLE "{SUPERUSER}" PASSWORD {literal}\n'
    settings = ("password_encryption=scram-sha-256", "fsync=off", "dynamic_shared_memory_type=mmap")
    argv = [str(postgres), "--single", "-D", str(datadir)]
    for setting in settings:
        argv += ["-c", setting]
    argv.append("postgres")
    try:
        done = subprocess.run(argv, input=command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "ERROR" not in done.stdout + done.stderr


def _server_options(statement_timeout: float | None, hba_file: Path) -> str:
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
    return " ".join(f"-c {o}" for o in options)


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


def _wait_ready(executor: Any, port: int, password: str) -> str:
    """mirakuru is satisfied once the port accepts TCP, which is before PostgreSQL accepts
    sessions ("the database system is starting up"): wait for a session. ``pg_ctl start -w``
    looks at the server ten times a second; a session is tried every 10 ms meanwhile, so the
    proof starts as soon as the server is ready, not at pg_ctl's next look (about 50 ms earlier on
    average). pg_ctl failing ends the wait. Returns ``SHOW server_version``."""
    import psycopg

    def version() -> str:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=SUPERUSER, password=password, dbname="postgres", autocommit=True
        ) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    launcher = executor.process
    if launcher is not None:
        deadline = time.monotonic() + 60
        while launcher.poll() is None:
            try:
                return version()
            except psycopg.Error:
                pass
            if time.monotonic() > deadline:
                raise ServerError("PostgreSQL did not become ready within 60 s")
            time.sleep(0.01)
        if launcher.returncode != 0:
            raise ServerError(f"pg_ctl start exited with code {launcher.returncode}")
    return launch.wait_ready(version, "PostgreSQL")


def _start_failure(serverdir: Path, bindir: Path, exc: Exception) -> ServerError:
    log = serverdir / "postgres.log"
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:] if log.exists() else []
    detail = "; ".join(tail) or (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    return ServerError(f"PostgreSQL did not start ({bindir}/pg_ctl): {detail}")


@contextlib.contextmanager
def throwaway_server(pg_bin: Path | None = None, *, statement_timeout: float | None = None) -> Iterator[Server]:
    """Start a private PostgreSQL; on leaving the block (any way at all) stop it and delete its files.

    Raises ServerError when no server binaries are found or the server does not start.
    """
    from pytest_postgresql.executors import PostgreSQLExecutor

    bindir = find_pg_bin(pg_bin)
    sweep_stale()
    started = time.perf_counter()
    with launch.throwaway_dir(TEMP_PREFIX, SERVER_USERS, "PostgreSQL", SERVER_DIR) as layout:
        serverdir = layout.serverdir
        password = secrets.token_urlsafe(24)  # URL- and conninfo-safe characters
        socket_dir = layout.server_subdir("sock")
        hba_file = serverdir / "pg_hba.conf"
        launch.write_private(hba_file, HBA, layout.uid, layout.gid)
        port = launch.free_port()
        executor = PostgreSQLExecutor(
            executable=str(_pg_ctl(layout, bindir)),
            host="127.0.0.1",
            port=port,
            datadir=str(serverdir / "data"),
            unixsocketdir=str(socket_dir),
            logfile=str(serverdir / "postgres.log"),
            startparams="-w",
            dbname="postgres",
            user=SUPERUSER,
            password=password,
            timeout=60,
            sleep=0.005,  # (mirakuru polls the port this often until it opens)
            postgres_options=_server_options(statement_timeout, hba_file),
        )

        def stop() -> None:
            with contextlib.suppress(Exception):  # let ``pg_ctl start -w`` finish its own wait first
                if executor.process is not None:
                    executor.process.wait(timeout=5)
            # an immediate shutdown (SIGQUIT): the cluster is thrown away, so no shutdown checkpoint,
            # and no ``pg_ctl stop`` polling ten times a second for the end (about 0.1 s a run)
            pid = _postmaster_pid(serverdir / "data")
            _kill_postmaster(serverdir / "data")
            if pid is None or launch.alive(pid):  # (it never started, or would not go: pg_ctl's way)
                with contextlib.suppress(Exception):
                    executor.stop()
                _kill_postmaster(serverdir / "data")

        layout.on_exit(stop)
        try:
            executor.start()
        except Exception as exc:
            raise _start_failure(serverdir, bindir, exc) from exc
        finally:
            (serverdir / PWFILE).unlink(missing_ok=True)
        version = _wait_ready(executor, port, password)
        startup = time.perf_counter() - started
        yield Server(
            "127.0.0.1", port, SUPERUSER, password, layout.server_user, version, startup, layout.tempdir, bindir
        )


def create_database(server: Server, dbname: str) -> None:
    """CREATE DATABASE through pytest-postgresql's DatabaseJanitor (dropped with the server)."""
    from pytest_postgresql.janitor import DatabaseJanitor

    DatabaseJanitor(
        user=server.user, host=server.host, port=server.port, dbname=dbname, password=server.password
    ).init()


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

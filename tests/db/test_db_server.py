"""headcheck.db.server: a real throwaway PostgreSQL, never as root, always removed."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from headcheck.db import launch
from headcheck.db import server as server_module
from headcheck.db.server import Server, ServerError, find_pg_bin, sweep_stale, throwaway_server
from tests.db.harness import needs_postgres, postgres_processes


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


@needs_postgres
@pytest.mark.skipif(os.geteuid() != 0, reason="tests the root path (CI and the GitHub action run as root)")
def test_as_root_the_server_runs_as_an_unprivileged_user_on_loopback() -> None:
    with throwaway_server() as srv:
        datadir = srv.datadir
        pid = int((datadir / "postmaster.pid").read_text().split("\n")[0])
        uid = _uid_of(pid)
        assert uid != 0
        assert srv.os_user in ("postgres", "nobody")
        assert uid == pwd.getpwnam(srv.os_user).pw_uid
        # the postmaster is headcheck's own child (no pg_ctl daemonizing it for init to reap)
        assert int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1]) == os.getpid()
        assert srv.host == "127.0.0.1"
        with psycopg.connect(srv.conninfo("postgres"), autocommit=True) as conn:
            settings: dict[str, str] = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'fsync', 'synchronous_commit')"
                ).fetchall()
            )
        assert settings == {"listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off"}
        assert 0 < srv.startup_seconds < 30
        # the version the server reports is the one of the binaries it was started from
        binaries = (
            subprocess.run(  # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
                [str(find_pg_bin() / "postgres"), "--version"], capture_output=True, text=True, check=True
            )
            .stdout.split("(PostgreSQL)")[1]
            .split()[0]
        )
        assert srv.version.split()[0] == binaries
    assert not srv.tempdir.exists()
    assert postgres_processes(datadir) == []


@needs_postgres
def test_an_exception_inside_the_block_still_stops_and_removes_everything() -> None:
    with pytest.raises(RuntimeError), throwaway_server() as srv:  # noqa: PT012 -- the block under test is the context manager's exit on an exception
        datadir = srv.datadir
        assert postgres_processes(datadir)
        raise RuntimeError("boom")
    assert not srv.tempdir.exists()
    assert postgres_processes(datadir) == []


_GROUPS = """
import json, os
from pathlib import Path
from headcheck.db.server import throwaway_server
os.setgroups([4242])  # root with a supplementary group the server must not get
with throwaway_server() as srv:
    pid = int((srv.datadir / "postmaster.pid").read_text().split("\\n")[0])
    groups = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Groups:")]
    print(json.dumps(groups[0].split(":", 1)[1].split()))
"""


@needs_postgres
@pytest.mark.skipif(os.geteuid() != 0, reason="tests the root path")
def test_as_root_the_server_gets_none_of_roots_groups() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _GROUPS],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "4242" not in json.loads(done.stdout)


_UNPRIVILEGED = """
import json, os, sys
import psycopg  # (imported before dropping root)
from headcheck.db.server import throwaway_server
os.setgid({gid}); os.setuid({uid})
with throwaway_server() as srv:
    pid = int((srv.datadir / "postmaster.pid").read_text().split("\\n")[0])
    info = {{"os_user": srv.os_user, "tempdir": str(srv.tempdir), "postmaster_uid": os.stat(f"/proc/{{pid}}").st_uid}}
    with psycopg.connect(srv.conninfo("postgres")) as conn:
        info["one"] = conn.execute("SELECT 1").fetchone()[0]
    info["tempdir_mode"] = os.stat(srv.tempdir).st_mode & 0o777
    info["wrappers"] = sorted(os.listdir(srv.tempdir))
    try:
        psycopg.connect(f"host=127.0.0.1 port={{srv.port}} user={{srv.user}} dbname=postgres")
        info["without_password"] = "logged in"
    except psycopg.OperationalError as exc:
        info["without_password"] = str(exc)
print(json.dumps(info))
"""


@needs_postgres
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become an unprivileged user")
def test_the_unprivileged_path_runs_the_server_as_the_caller() -> None:
    """As a non-root user (a developer machine, pre-commit's docker -u UID) the server is the caller's."""
    nobody = pwd.getpwnam("nobody")
    code = _UNPRIVILEGED.format(uid=nobody.pw_uid, gid=nobody.pw_gid)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["os_user"] == "nobody"
    assert info["postmaster_uid"] == nobody.pw_uid
    assert info["one"] == 1
    assert not Path(info["tempdir"]).exists()
    # issue 9.1, not root: any local user would otherwise get the invoking user's shell
    assert info["tempdir_mode"] == 0o700
    assert info["wrappers"] == ["headcheck.pid", "pg"]  # (no program of any kind in the temp dir)
    assert "password" in info["without_password"]


def test_missing_server_binaries_name_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="no pg_ctl there; install the PostgreSQL server binaries"):
        find_pg_bin(tmp_path)


@needs_postgres
def test_pg_bin_is_found_without_help() -> None:
    assert (find_pg_bin() / "pg_ctl").is_file()


@needs_postgres
def test_sweep_removes_what_a_killed_headcheck_left(tmp_path: Path) -> None:
    stale = Path(tempfile.mkdtemp(prefix=server_module.TEMP_PREFIX, dir=tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (stale / server_module.OWNER_FILE).write_text(str(dead.pid))
    alive = Path(tempfile.mkdtemp(prefix=server_module.TEMP_PREFIX, dir=tmp_path))
    (alive / server_module.OWNER_FILE).write_text(str(os.getpid()))
    assert sweep_stale(tmp_path) == [stale]
    assert not stale.exists()
    assert alive.exists()


def _as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    """``command`` as the OS user nobody (another local user), with no password anywhere."""
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", *command],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"},
        cwd="/",
    )


@needs_postgres
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another local user")
@pytest.mark.skipif(not shutil.which("psql") or not shutil.which("setpriv"), reason="needs psql and setpriv")
def test_another_local_user_cannot_log_in_without_the_password(server: Server) -> None:
    """Issue 9.1: with --auth=trust any local user logged in over TCP as superuser and ran
    COPY ... TO PROGRAM as the server's user. (The tests' shared throwaway server: the same
    ``throwaway_server()``, started once.)"""
    srv = server
    query = ["-w", "-X", "-U", srv.user, "-d", "postgres", "-c", "COPY (SELECT 1) TO PROGRAM 'id'"]
    over_tcp = _as_nobody("psql", "-h", "127.0.0.1", "-p", str(srv.port), *query)
    assert over_tcp.returncode != 0
    assert "password" in over_tcp.stderr, over_tcp.stderr
    socket_dir = srv.tempdir / server_module.SERVER_DIR / "sock"
    over_socket = _as_nobody("psql", "-h", str(socket_dir), "-p", str(srv.port), *query)
    assert over_socket.returncode != 0
    # the right password still works (for headcheck, through its URL)
    with psycopg.connect(srv.conninfo("postgres"), autocommit=True) as conn:
        rules = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
    assert rules == [("scram-sha-256",)]


@needs_postgres
def test_without_the_password_nobody_gets_in_over_tcp(server: Server) -> None:
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(f"host=127.0.0.1 port={server.port} user={server.user} dbname=postgres", connect_timeout=10)


@needs_postgres
def test_nothing_in_the_temp_folder_can_be_replaced_by_the_server_user(server: Server) -> None:
    """Issue 9.1: root ran a pg_ctl wrapper from a folder the server's user owned. Now root runs
    nothing from the temp folder, and what it writes there is its own."""
    srv = server
    me = os.geteuid()
    server_uid = pwd.getpwnam(srv.os_user).pw_uid
    top = srv.tempdir.stat()
    assert top.st_uid == me
    assert stat.S_IMODE(top.st_mode) == (0o711 if me == 0 else 0o700)
    serverdir = srv.tempdir / server_module.SERVER_DIR
    for path in [srv.tempdir, *srv.tempdir.rglob("*")]:
        info = path.lstat()
        mode = stat.S_IMODE(info.st_mode)
        assert not mode & 0o022 or stat.S_ISSOCK(info.st_mode), f"{path} is writable by others: {oct(mode)}"
        if serverdir in path.parents or path == serverdir:
            assert info.st_uid == server_uid, path
        else:  # what headcheck itself writes and runs: its own, never the server's user
            assert info.st_uid == me, path
            assert not stat.S_ISLNK(info.st_mode), path
    assert stat.S_IMODE(serverdir.stat().st_mode) == 0o700
    assert stat.S_IMODE((serverdir / "sock").stat().st_mode) == 0o700
    assert not (serverdir / "pwfile").exists()  # the password is not left on disk
    # nothing root runs lives in the temp folder at all (the server's programs are run directly)
    assert sorted(p.name for p in srv.tempdir.iterdir()) == [server_module.OWNER_FILE, server_module.SERVER_DIR]


@needs_postgres
@pytest.mark.parametrize("cache", ["template", "initdb"])
def test_initdb_gets_our_options_and_a_password_file_only_the_server_reads(
    cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cluster was made by initdb with --no-sync, UTF8 and the C locale, and the superuser's
    password works, from the template or from initdb itself (its password file, the server
    user's, 0600, is gone)."""
    if cache == "initdb":
        monkeypatch.setenv("HEADCHECK_NO_CACHE", "1")
    with throwaway_server() as srv:
        with psycopg.connect(srv.conninfo("postgres"), autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = 'postgres'"
            ).fetchone()
        assert row == ("UTF8", "C", "C")
        log = (srv.tempdir / server_module.SERVER_DIR / "postgres.log").read_text()
        assert "password authentication failed" not in log
        assert not (srv.tempdir / server_module.SERVER_DIR / "pwfile").exists()


@needs_postgres
@pytest.mark.skipif(not launch.roomy_tmpfs(launch.SHM), reason="needs /dev/shm: a tmpfs with 1 GiB free")
def test_without_tmpdir_the_server_lives_in_memory_and_leaves_nothing_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)
    with throwaway_server() as srv:
        assert srv.datadir.is_relative_to(launch.SHM)
        with psycopg.connect(srv.conninfo("postgres"), autocommit=True) as c:
            c.execute("CREATE TABLE t (id int PRIMARY KEY)")
    # (its own folder: other tests, in parallel, start and stop servers there too)
    assert srv.tempdir.parent == Path(launch.SHM)
    assert not srv.tempdir.exists()


def test_tmpdir_or_a_folder_that_is_no_roomy_root_owned_tmpfs_keeps_the_server_in_the_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert launch.server_parent() == launch.temp_parent()  # TMPDIR set: the user's choice
    monkeypatch.delenv("TMPDIR")
    fake = tmp_path / "shm"
    fake.mkdir(mode=0o777)
    fake.chmod(0o1777)
    monkeypatch.setattr(launch, "SHM", str(fake))  # sticky, world-writable, but on disk (and maybe not root's)
    assert launch.server_parent() == launch.temp_parent()
    if launch.roomy_tmpfs("/dev/shm"):
        monkeypatch.setattr(launch, "SHM", "/dev/shm")
        assert launch.server_parent() == "/dev/shm"
        monkeypatch.setattr(launch, "SHM_MIN_FREE", 1 << 60)  # (a Docker container's 64 MB)
        assert launch.server_parent() == launch.temp_parent()


@needs_postgres
def test_a_server_killed_outright_leaves_no_shared_memory_behind() -> None:
    """A postmaster killed with SIGKILL (headcheck itself killed, a server that would not stop) runs no
    cleanup of its own: its dynamic shared memory must live in the data folder, which headcheck removes,
    not in /dev/shm, where PostgreSQL's default (POSIX shared memory) leaves a segment until reboot."""
    import signal
    import time

    def segments() -> set[str]:
        return {name for name in os.listdir("/dev/shm") if name.startswith("PostgreSQL.")}

    before = segments()
    with throwaway_server() as srv:
        pid = int((srv.datadir / "postmaster.pid").read_text().split("\n")[0])
        with psycopg.connect(srv.conninfo("postgres"), autocommit=True) as c:
            c.execute("SELECT count(*) FROM pg_class").fetchall()
        # (the postmaster makes its control segment of dynamic shared memory as it starts)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    # Other tests running meanwhile (pytest-xdist) may run initdb, whose bootstrap backend keeps a
    # segment there until it ends: a new segment that goes away within seconds is not ours.
    deadline = time.monotonic() + 20
    while segments() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not segments() - before


def test_a_process_that_exited_counts_as_gone_before_it_is_reaped() -> None:
    """A stopped server's postmaster (its launcher long gone) waits for init to reap it: until then
    ``kill(pid, 0)`` still finds it, and waiting for it to go took a second and more."""
    import time

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_bytes().rpartition(b")")[2].split()[0] != b"Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not launch.alive(child.pid)  # a zombie: exited, not reaped yet
    child.wait()
    assert not launch.alive(child.pid)
    assert launch.alive(os.getpid())


@needs_postgres
def test_the_server_is_ready_as_soon_as_it_takes_a_session() -> None:
    """The wait ends with the first session, whatever the process it watches does meanwhile (here
    one that never ends)."""
    import time

    from headcheck.db.backends.postgres import _wait_ready

    with throwaway_server() as srv:
        never = subprocess.Popen(["sleep", "30"])
        log = os.open(os.devnull, os.O_RDONLY)
        try:
            started = time.monotonic()
            version = _wait_ready(never, srv.port, srv.password, log)
            assert time.monotonic() - started < 5
            assert never.poll() is None
        finally:
            os.close(log)
            never.kill()
            never.wait()
        assert version == srv.version


def test_a_server_that_exits_ends_the_wait_with_the_end_of_its_log(tmp_path: Path) -> None:
    from headcheck.db.backends.postgres import _wait_ready

    failed = subprocess.Popen(["sh", "-c", "exit 3"])
    failed.wait()
    path = tmp_path / "log"
    path.write_text("LOG:  starting\nFATAL:  could not create lock file\n")
    log = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(
            ServerError, match="PostgreSQL did not start: LOG:  starting; FATAL:  could not create lock"
        ):
            _wait_ready(failed, launch.free_port(), "x", log)
    finally:
        os.close(log)


def test_the_servers_log_is_never_a_file_that_is_there(tmp_path: Path) -> None:
    """The server's user may write its folder: a log file or symlink planted there is refused, not
    followed (root would append the server's output to whatever it points at)."""
    from headcheck.db.backends.postgres import _open_log

    serverdir = tmp_path / "pg"
    serverdir.mkdir()
    layout = launch.Layout(tmp_path, serverdir, None, os.geteuid(), os.getegid())
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    (serverdir / "postgres.log").symlink_to(target)
    with pytest.raises(FileExistsError):
        _open_log(layout)
    assert target.read_text() == "precious\n"
    (serverdir / "postgres.log").unlink()
    fd = _open_log(layout)
    try:
        assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o600
    finally:
        os.close(fd)


def test_pg_config_is_asked_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proof looks for the server twice (its template, its start); Debian's pg_config is a shell
    script that lists folders, so its answer is kept."""
    from headcheck.db.backends import postgres

    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("pg_ctl", "initdb", "postgres"):
        (bindir / name).write_text("#!/bin/sh\n")
    calls = tmp_path / "calls"
    tools = tmp_path / "tools"
    tools.mkdir()
    pg_config = tools / "pg_config"
    pg_config.write_text(f"#!/bin/sh\necho >> {calls}\necho {bindir}\n")
    pg_config.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(postgres, "_BINDIRS", {})
    assert find_pg_bin() == bindir
    assert find_pg_bin() == bindir
    assert calls.read_text().count("\n") == 1

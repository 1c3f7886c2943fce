"""headcheck.db.backends.mariadb: a real throwaway MariaDB, never as root, only our password, always removed."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from headcheck.db.backends import mariadb as mariadb_module
from headcheck.db.backends.mariadb import ServerError, find_mysql_bin, guard, sweep_stale, throwaway_server
from tests.db.mariadb_harness import mariadb_processes, mariadb_processes_under, needs_mariadb

ROOT = Path(__file__).resolve().parents[2]


def _uid_of(pid: int) -> int:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("Uid:"):
            return int(text.split()[1])
    raise AssertionError("no Uid line")


def _login(**kwargs: object) -> str:
    """'ok' or the server's refusal."""
    try:
        pymysql.connect(connect_timeout=5, **kwargs).close()
    except pymysql.err.OperationalError as exc:
        return str(exc)
    return "ok"


@pytest.fixture
def tmp_for_server() -> Iterator[Path]:
    """A short, world-traversable TMPDIR of its own (the server's user must reach its data dir)."""
    base = Path(tempfile.mkdtemp(prefix="hc-", dir="/tmp"))
    base.chmod(0o711)
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(base)
    tempfile.tempdir = None
    yield base
    if old is None:
        del os.environ["TMPDIR"]
    else:
        os.environ["TMPDIR"] = old
    tempfile.tempdir = None
    sweep_stale(base)
    shutil.rmtree(base, ignore_errors=True)


@needs_mariadb
@pytest.mark.skipif(os.geteuid() != 0, reason="tests the root path (CI and the GitHub action run as root)")
def test_as_root_the_server_runs_as_mysql_on_loopback_with_only_our_password() -> None:
    with throwaway_server() as srv:
        pid = int(srv.pid_file.read_text().strip())
        assert _uid_of(pid) == pwd.getpwnam(srv.os_user).pw_uid != 0
        assert srv.os_user in ("mysql", "nobody")
        assert srv.host == "127.0.0.1"
        conn = srv.connect()
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT @@bind_address, @@skip_networking, @@innodb_flush_log_at_trx_commit, @@log_bin, @@socket"
            )
            assert cursor.fetchone() == ("127.0.0.1", 0, 0, 0, str(srv.socket))
            cursor.execute("SELECT User, Host FROM mysql.global_priv ORDER BY User, Host")
            accounts = cursor.fetchall()
            cursor.execute("SELECT COUNT(*) FROM mysql.global_priv WHERE User = ''")
            assert cursor.fetchone() == (0,)  # no anonymous user
        conn.close()
        assert accounts == (("mariadb.sys", "localhost"), ("root", "127.0.0.1"), ("root", "localhost"))
        # nobody else logs in: no password, a wrong one, anonymous, over TCP or the socket
        assert "Access denied" in _login(host="127.0.0.1", port=srv.port, user="root")
        assert "Access denied" in _login(host="127.0.0.1", port=srv.port, user="root", password="x")
        assert "Access denied" in _login(host="127.0.0.1", port=srv.port, user="")
        assert "Access denied" in _login(unix_socket=str(srv.socket), user="root")
        assert "Access denied" in _login(unix_socket=str(srv.socket), user="mysql")
        assert _login(unix_socket=str(srv.socket), user="root", password=srv.password) == "ok"
        # the layout: nothing root executes is writable by the server's user
        assert stat.S_IMODE(srv.tempdir.stat().st_mode) == 0o711
        assert srv.tempdir.stat().st_uid == 0
        server_dir = srv.tempdir / mariadb_module.SERVER_DIR
        assert stat.S_IMODE(server_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(srv.socket.parent.stat().st_mode) == 0o700
        wrappers = [p for p in srv.tempdir.iterdir() if p.is_file() and p.name != mariadb_module.OWNER_FILE]
        assert [p.name for p in wrappers] == ["mariadbd"]
        assert wrappers
        assert all(p.stat().st_uid == 0 and stat.S_IMODE(p.stat().st_mode) == 0o700 for p in wrappers)
        # the password never lands in a file (it reached the bootstrap through a pipe)
        secret = srv.password.encode()
        assert not [p for p in srv.tempdir.rglob("*") if p.is_file() and secret in p.read_bytes()]
        assert 0 < srv.init_seconds < srv.startup_seconds < 60
        assert srv.version.split(".")[0].isdigit()
        datadir = srv.datadir
    assert not srv.tempdir.exists()
    assert mariadb_processes(datadir) == []


@needs_mariadb
def test_the_guard_names_this_server_only() -> None:
    with throwaway_server() as one, throwaway_server() as two:
        first, second = guard(one.url("mysql")), guard(two.url("mysql"))
        assert first.query == second.query
        assert first.expected != second.expected
        assert str(one.socket) in first.expected
        assert str(one.port) in first.expected


@needs_mariadb
def test_an_exception_inside_the_block_still_stops_and_removes_everything() -> None:
    with pytest.raises(RuntimeError), throwaway_server() as srv:  # noqa: PT012 -- the block under test is the context manager's exit on an exception
        datadir = srv.datadir
        assert mariadb_processes(datadir)
        raise RuntimeError("boom")
    assert not srv.tempdir.exists()
    assert mariadb_processes(datadir) == []


def _fake_bin(folder: Path, server_script: str) -> Path:
    """A --mysql-bin folder: the real mariadb-install-db, and a "mariadbd" that is ``server_script``."""
    real = find_mysql_bin()
    folder.mkdir()
    installer = folder / "mariadb-install-db"
    installer.write_text(f'#!/bin/sh\nexec {real.install_db} "$@"\n')  # (it finds its files from its own path)
    installer.chmod(0o755)
    fake = folder / "mariadbd"
    fake.write_text("#!/bin/sh\n" + server_script)
    fake.chmod(0o755)
    folder.chmod(0o755)
    return folder


@needs_mariadb
def test_a_server_that_dies_at_start_is_one_error_and_leaves_nothing(tmp_for_server: Path) -> None:
    fake = _fake_bin(tmp_for_server / "bin", "echo 'mariadbd: [ERROR] cannot start' >&2\nexit 1\n")
    with pytest.raises(ServerError, match="MariaDB did not start"), throwaway_server(fake):
        raise AssertionError("not reached")
    assert list(tmp_for_server.glob(mariadb_module.TEMP_PREFIX + "*")) == []


@needs_mariadb
def test_a_server_that_never_answers_is_killed_at_the_start_timeout(tmp_for_server: Path) -> None:
    fake = _fake_bin(tmp_for_server / "bin", "exec sleep 600\n")
    started = time.monotonic()
    with (
        pytest.raises(ServerError, match="does not accept connections within 2 s"),
        throwaway_server(fake, start_timeout=2),
    ):
        raise AssertionError("not reached")
    assert time.monotonic() - started < 150  # install (slow on a loaded machine) + the 2 s wait
    assert list(tmp_for_server.glob(mariadb_module.TEMP_PREFIX + "*")) == []
    leftovers = [
        p.name
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and b"sleep\x00600" in (p / "cmdline").read_bytes()
        if (p / "cmdline").exists()
    ]
    assert leftovers == []


_HOLD = """
import os, signal, sys, time
from headcheck.db.backends.mariadb import throwaway_server

def terminate(signum, frame):
    raise SystemExit(143)

signal.signal(signal.SIGTERM, terminate)  # as headcheck db does: every finally runs
with throwaway_server() as srv:
    print(srv.tempdir, srv.datadir, flush=True)
    time.sleep(600)
"""


@needs_mariadb
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_leave_no_server_and_no_temp_dir(tmp_for_server: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp_for_server), "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    tempdir, datadir = proc.stdout.readline().decode().split()
    assert mariadb_processes(Path(datadir))
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert not Path(tempdir).exists()
    assert mariadb_processes(Path(datadir)) == []


@needs_mariadb
def test_sweep_removes_what_a_killed_headcheck_left(tmp_for_server: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp_for_server), "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    tempdir, datadir = proc.stdout.readline().decode().split()
    proc.kill()  # no finally runs: the server and its files stay
    proc.communicate(timeout=30)
    assert mariadb_processes(Path(datadir))
    assert Path(tempdir).exists()
    assert sweep_stale(tmp_for_server) == [Path(tempdir)]
    assert mariadb_processes(Path(datadir)) == []
    assert not Path(tempdir).exists()
    assert mariadb_processes_under(tmp_for_server) == []


def test_missing_binaries_name_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="no mariadbd and mariadb-install-db there; install the MariaDB server"):
        find_mysql_bin(tmp_path)


_UNPRIVILEGED = """
import encodings.idna, json, os, secrets, socket, subprocess  # imported before dropping root
import pymysql, pymysql.connections
from headcheck.db.backends.mariadb import throwaway_server
os.setgid({gid}); os.setuid({uid})
with throwaway_server() as srv:
    pid = int(srv.pid_file.read_text().strip())
    info = {{"os_user": srv.os_user, "tempdir": str(srv.tempdir), "server_uid": os.stat(f"/proc/{{pid}}").st_uid}}
    info["tempdir_mode"] = os.stat(srv.tempdir).st_mode & 0o777
    info["wrappers"] = sorted(p.name for p in srv.tempdir.iterdir() if p.name != "headcheck.pid" and p.name != "my")
    conn = srv.connect(); cur = conn.cursor(); cur.execute("SELECT 1"); info["one"] = cur.fetchone()[0]; conn.close()
    try:
        pymysql.connect(host="127.0.0.1", port=srv.port, user="root").close()
        info["without_password"] = "logged in"
    except pymysql.err.OperationalError as exc:
        info["without_password"] = str(exc)
print(json.dumps(info))
"""


@needs_mariadb
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become an unprivileged user")
def test_the_unprivileged_path_runs_the_server_directly() -> None:
    """As a non-root user (a developer machine) there is no wrapper: the server runs as that user."""
    nobody = pwd.getpwnam("nobody")
    done = subprocess.run(
        [sys.executable, "-c", _UNPRIVILEGED.format(uid=nobody.pw_uid, gid=nobody.pw_gid)],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": "/tmp"},
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["os_user"] == "nobody"
    assert info["server_uid"] == nobody.pw_uid
    assert info["one"] == 1
    assert info["tempdir_mode"] == 0o700
    assert info["wrappers"] == []
    assert "Access denied" in info["without_password"]
    assert not Path(info["tempdir"]).exists()

"""Whatever happens to ``headcheck db``, no PostgreSQL process, migration process or temp dir remains.

Each case runs the real CLI in a subprocess with its own TMPDIR, interrupts or breaks it while a
migration is running, and then looks for leftovers in /proc and on disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headcheck.db.server import OWNER_FILE, TEMP_PREFIX, sweep_stale, throwaway_server
from tests.db.harness import alive, needs_postgres, postgres_processes

pytestmark = [needs_postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]

HANG = '''
"""tells the test it is running, then hangs"""
import os, pathlib, time

revision = "d4e5f6a7b8c9"
down_revision = "c3d4e5f6a7b8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pathlib.Path(os.environ["HC_MARKER"]).touch()
    time.sleep(600)


def downgrade() -> None:
    pass
'''


@pytest.fixture
def tmpdir_for_headcheck() -> Iterator[Path]:
    """A short, world-traversable TMPDIR (the unprivileged server user must reach its data dir)."""
    base = Path(tempfile.mkdtemp(prefix="hc-", dir="/tmp"))
    base.chmod(0o711)
    yield base
    sweep_stale(base)  # a failed test must not leave a server behind
    shutil.rmtree(base, ignore_errors=True)


def _runner_processes(marker: str) -> list[str]:
    """Migration child processes started by the headcheck run that had this marker."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                environ = (proc / "environ").read_bytes()
                cmdline = (proc / "cmdline").read_bytes()
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in environ and b"headcheck.db.runner" in cmdline and state != "Z":
                found.append(proc.name)
    return found


def _start(project: Path, tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    marker = tmp / "marker"
    env = {**os.environ, "TMPDIR": str(tmp), "HC_MARKER": str(marker), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "headcheck", "db", str(project), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return proc, marker


def _wait_for(path: Path, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the migration never started"
        time.sleep(0.05)


def _assert_nothing_left(tmp: Path, marker: Path) -> None:
    assert [p.name for p in tmp.iterdir() if p.name.startswith(TEMP_PREFIX)] == []
    assert postgres_processes(tmp) == []
    assert _runner_processes(str(marker)) == []


@pytest.fixture
def hanging_project(example: Callable[[str], Path]) -> Path:
    project = example("clean")
    (project / "migrations" / "versions" / "d4e5f6a7b8c9_hang.py").write_text(HANG)
    return project


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_killing_headcheck_mid_migration_leaves_nothing(
    hanging_project: Path, tmpdir_for_headcheck: Path, sig: int, code: int
) -> None:
    proc, marker = _start(hanging_project, tmpdir_for_headcheck)
    _wait_for(marker, proc)
    [tempdir] = [p for p in tmpdir_for_headcheck.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert postgres_processes(tempdir / "pg" / "data"), "the server should be running mid-migration"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    _assert_nothing_left(tmpdir_for_headcheck, marker)


def test_timeout_and_env_py_exception_and_success_leave_nothing(
    hanging_project: Path, tmpdir_for_headcheck: Path, example: Callable[[str], Path]
) -> None:
    proc, marker = _start(hanging_project, tmpdir_for_headcheck, "--timeout", "2")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert b"timed out after 2 s" in out, err
    _assert_nothing_left(tmpdir_for_headcheck, marker)

    proc, marker = _start(example("env-database-url"), tmpdir_for_headcheck)  # env.py raises SystemExit
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert b"set DATABASE_URL" in out, err
    _assert_nothing_left(tmpdir_for_headcheck, marker)

    proc, marker = _start(example("clean"), tmpdir_for_headcheck)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    _assert_nothing_left(tmpdir_for_headcheck, marker)


def test_after_kill_9_the_next_run_sweeps_the_leftovers(hanging_project: Path, tmpdir_for_headcheck: Path) -> None:
    """SIGKILL cannot be handled: the server outlives headcheck, the migration process notices its
    parent is gone and exits, and the next headcheck run removes the stale server and dir."""
    proc, marker = _start(hanging_project, tmpdir_for_headcheck)
    _wait_for(marker, proc)
    [tempdir] = [p for p in tmpdir_for_headcheck.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert (tempdir / OWNER_FILE).read_text() == str(proc.pid)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while _runner_processes(str(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _runner_processes(str(marker)) == []
    assert postgres_processes(tempdir / "pg" / "data")  # still there: nobody could stop it
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmpdir_for_headcheck)
    tempfile.tempdir = None
    try:
        with throwaway_server():
            pass
    finally:
        if old is None:
            os.environ.pop("TMPDIR")
        else:
            os.environ["TMPDIR"] = old
        tempfile.tempdir = None
    assert not tempdir.exists()
    assert postgres_processes(tempdir / "pg" / "data") == []


DAEMONS = '''
"""starts background processes that leave the migration's process group and session"""
import os, pathlib, subprocess, sys

revision = "d4e5f6a7b8c9"
down_revision = "c3d4e5f6a7b8"
branch_labels = None
depends_on = None

SLEEP = "import time; time.sleep(600)"


def upgrade() -> None:
    pids = pathlib.Path(os.environ["HC_MARKER"] + ".pids")
    new_session = subprocess.Popen([sys.executable, "-c", SLEEP], start_new_session=True)
    daemon = (  # double fork + setsid: reparented away from the migration process
        "import os, sys, time\\n"
        "if os.fork(): sys.exit(0)\\n"
        "os.setsid()\\n"
        "if os.fork(): sys.exit(0)\\n"
        f"open({str(pids)!r}, 'a').write(str(os.getpid()) + '\\\\n')\\n"
        "time.sleep(600)\\n"
    )
    subprocess.run([sys.executable, "-c", daemon], check=True)
    with pids.open("a") as out:
        out.write(f"{new_session.pid}\\n")


def downgrade() -> None:
    pass
'''


def test_background_processes_in_a_new_session_do_not_survive(
    example: Callable[[str], Path], tmpdir_for_headcheck: Path
) -> None:
    """Issue 9.7: only the child's process group was killed; a setsid()/daemonised process lived on."""
    project = example("clean")
    (project / "migrations" / "versions" / "d4e5f6a7b8c9_daemons.py").write_text(DAEMONS)
    proc, marker = _start(project, tmpdir_for_headcheck)
    proc.communicate(timeout=120)
    pids = [int(line) for line in Path(str(marker) + ".pids").read_text().split()]
    assert len(pids) >= 2  # (the upgrade runs twice: first, and after its downgrade)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if alive(pid)] == []


def test_throwaway_dir_runs_the_stop_callbacks_and_removes_everything_on_an_exception() -> None:
    """headcheck.db.launch, what every server backend builds on: the layout, and the exit path."""
    import stat

    from headcheck.db import launch

    calls: list[str] = []
    with (  # noqa: PT012 -- the block under test is the context manager's exit on an exception
        pytest.raises(KeyboardInterrupt),
        launch.throwaway_dir("headcheck-test-", ("nobody",), "Test", "srv") as layout,
    ):
        layout.on_exit(lambda: calls.append("first registered"))
        layout.on_exit(
            lambda: calls.append(
                "blocked" if signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []) else "not blocked"
            )
        )
        top = layout.tempdir.stat()
        assert stat.S_IMODE(top.st_mode) == (0o711 if os.geteuid() == 0 else 0o700)
        assert (layout.tempdir / OWNER_FILE).read_text() == str(os.getpid())
        server = layout.serverdir.stat()
        assert stat.S_IMODE(server.st_mode) == 0o700
        assert server.st_uid == layout.uid
        if os.geteuid() == 0:
            assert layout.os_user == "nobody"
            assert layout.server_user == "nobody"
        raise KeyboardInterrupt
    assert calls == ["blocked", "first registered"]  # last registered first, SIGINT blocked meanwhile
    assert not layout.tempdir.exists()
    assert SIGINT_UNBLOCKED()


def test_a_background_teardown_overlaps_what_follows_and_is_waited_for() -> None:
    """Inside ``background_teardown``, a server block that ends normally is stopped and removed in a
    thread while the caller goes on (the findings); leaving the block, any way, waits for it. A
    server block that ends in an exception is torn down at once, as outside."""
    from headcheck.db import launch

    events: list[str] = []

    def slow_stop() -> None:
        time.sleep(0.3)
        events.append("stopped " + ("blocked" if not SIGINT_UNBLOCKED() else "not blocked"))

    with pytest.raises(KeyboardInterrupt), launch.background_teardown():  # noqa: PT012 -- the exit path under test
        with launch.throwaway_dir("headcheck-test-", ("nobody",), "Test", "srv") as layout:
            layout.on_exit(slow_stop)
        events.append("after the server block")
        assert layout.tempdir.exists()  # (still being torn down)
        raise KeyboardInterrupt  # (Ctrl-C while the findings are made)
    events.append("after the wait")
    assert events == ["after the server block", "stopped blocked", "after the wait"]
    assert not layout.tempdir.exists()
    assert SIGINT_UNBLOCKED()

    events.clear()
    with launch.background_teardown():
        with pytest.raises(RuntimeError), launch.throwaway_dir("headcheck-test-", ("nobody",), "Test", "srv") as layout:  # noqa: PT012
            layout.on_exit(slow_stop)
            raise RuntimeError("the proof failed")
        events.append("after the failed block")
    assert events == ["stopped blocked", "after the failed block"]
    assert not layout.tempdir.exists()


def SIGINT_UNBLOCKED() -> bool:
    return signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_the_sweep_leaves_other_users_dirs_and_symlinks_alone(tmp_path: Path) -> None:
    from headcheck.db import launch

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / "headcheck-test-stale"
    stale.mkdir()
    (stale / OWNER_FILE).write_text(str(dead.pid))
    link = tmp_path / "headcheck-test-link"
    link.symlink_to(stale)
    stopped: list[Path] = []
    if os.geteuid() == 0:
        theirs = tmp_path / "headcheck-test-theirs"
        theirs.mkdir()
        (theirs / OWNER_FILE).write_text(str(dead.pid))
        os.chown(theirs, 65534, 65534)
    assert launch.sweep_stale("headcheck-test-", stopped.append, tmp_path) == [stale]
    assert stopped == [stale]
    assert link.is_symlink()
    assert os.geteuid() != 0 or (tmp_path / "headcheck-test-theirs").exists()


def test_private_files_refuse_a_planted_symlink_and_belong_to_the_server_user(tmp_path: Path) -> None:
    """Root writes the password and pg_hba files into the server user's folder: never through a link."""
    import stat

    from headcheck.db import launch

    target = tmp_path / "victim"
    target.write_text("root's")
    (tmp_path / "planted").symlink_to(target)
    with pytest.raises(FileExistsError):  # O_CREAT | O_EXCL: the planted link is not followed
        launch.write_private(tmp_path / "planted", "secret", 65534, 65534)
    assert target.read_text() == "root's"
    assert target.stat().st_uid == os.geteuid()
    launch.write_private(tmp_path / "pwfile", "secret", 65534, 65534)
    info = (tmp_path / "pwfile").stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == (65534 if os.geteuid() == 0 else os.geteuid())


def test_killing_headcheck_during_a_split_stairway_leaves_nothing(tmp_path: Path, tmpdir_for_headcheck: Path) -> None:
    """Two workers: a database and a migration child each; the second one hangs in its half."""
    from tests.db.harness import revision_source, write_linear_history

    project = tmp_path / "project"
    ids = write_linear_history(project, 60)
    hang = "import os, pathlib, time\npathlib.Path(os.environ['HC_MARKER']).touch()\ntime.sleep(600)"
    (project / "migrations" / "versions" / f"{ids[40]}_r40.py").write_text(
        revision_source(ids[40], ids[39], hang, "pass")
    )
    proc, marker = _start(project, tmpdir_for_headcheck, "--stairway", "--jobs", "2")
    _wait_for(marker, proc)
    assert len(_runner_processes(str(marker))) == 2  # both workers' children are alive
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    _assert_nothing_left(tmpdir_for_headcheck, marker)

"""The speed-ups around the migration child: a child started ahead of time (headcheck.db.child.Spare)
and the guard checked once per DB-API connection (headcheck.db.runner._CheckedConnection).

Real parts: real processes (their environment read back from /proc), a real PostgreSQL, real
SQLAlchemy connections and Alembic's MigrationContext.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headcheck.db.child import FORKS, MARK, Child, ChildDied, Forked, Spare, child_env
from headcheck.db.redirect import Guard, NotOurServer
from headcheck.db.runner import _CheckedConnection, _executor
from headcheck.db.server import Server
from tests.db.harness import alive, needs_postgres, new_database, run_db

PRODUCTION = "postgresql://app:secret@prod.example.com/app"


def _environ(pid: int) -> list[bytes]:
    """The environment ``pid`` was started with (what any process of the user can read); empty for
    a moment while the process starts."""
    deadline = time.monotonic() + 10
    while not (found := Path(f"/proc/{pid}/environ").read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found.split(b"\0")


def _events(child: Child, until: str) -> list[dict[str, Any]]:
    found = []
    while True:
        event = child.next_event(60)
        assert event is not None, child.log_tail()
        found.append(event)
        if event["event"] in (until, "error"):
            return found


@pytest.fixture
def production_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's environment names a production database, as a deploy job's would."""
    monkeypatch.setenv("DATABASE_URL", PRODUCTION)
    monkeypatch.setenv("PGPASSWORD", "secret")
    monkeypatch.setenv("HEADCHECK_TEST_KEEP", "kept")


@pytest.mark.usefixtures("production_environment")
def test_a_spare_child_never_holds_the_callers_database(tmp_path: Path) -> None:
    """Started before any URL is known, the spare's environment has no database URL and no
    ``PG*`` variable, not even in /proc/PID/environ (what it was started with, readable by env.py)."""
    environ, _ = child_env("", ())
    with Spare(tmp_path, environ, ("psycopg",)) as spare:
        assert spare.process is not None
        started = _environ(spare.process.pid)
    assert not any(PRODUCTION.encode() in entry for entry in started)
    assert not any(entry.startswith(b"PG") for entry in started)
    assert b"DATABASE_URL=" in started
    assert b"HEADCHECK_TEST_KEEP=kept" in started
    # the mark comes with the adoption (os.environ, which what env.py starts inherits), not in what it
    # was started with: a sibling forked from it shares that, and must not be killed with it
    assert not any(entry.startswith(MARK.encode() + b"=") for entry in started)


PROBE = """
import json as _json
with open({out!r}, "w") as _probe:
    _json.dump({{"cwd": os.getcwd(), "url": os.environ.get("DATABASE_URL"),
                "pg": sorted(k for k in os.environ if k.startswith("PG")),
                "keep": os.environ.get("HEADCHECK_TEST_KEEP"), "pid": os.getpid(),
                "started": open("/proc/self/environ", "rb").read().decode("utf-8", "replace")}}, _probe)
print("env.py ran")
"""


def _probe(project: Path, tmp_path: Path) -> Path:
    """Make the project's env.py write what it sees (:data:`PROBE`) to the file returned."""
    env_py = project / "migrations" / "env.py"
    out = tmp_path / "seen.json"
    env_py.write_text(env_py.read_text().replace("\ntry:\n", PROBE.format(out=str(out)) + "\ntry:\n", 1))
    return out


@needs_postgres
@pytest.mark.usefixtures("production_environment")
def test_env_py_runs_in_the_spare_with_the_childs_environment(
    example: Callable[[str], Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``headcheck db`` takes over the spare it started: env.py runs in the project's folder, reads
    the throwaway database's URL where the production one was, sees no ``PG*`` variable, and the
    production URL is nowhere in the process."""
    project = example("env-database-url")
    out = _probe(project, tmp_path)
    code, report, err = run_db(capsys, str(project), "--url-env", "DATABASE_URL")
    assert code == 0, (err, report)
    seen = json.loads(out.read_text())
    assert seen["cwd"] == str(project)
    assert seen["url"].startswith("postgresql")
    assert "prod.example.com" not in seen["url"]
    assert seen["pg"] == []
    assert seen["keep"] == "kept"
    assert "prod.example.com" not in seen["started"]
    assert "PGPASSWORD" not in seen["started"]
    assert not alive(seen["pid"])


def _recording_ahead(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children ``headcheck db`` starts ahead, before its static gate."""
    from headcheck.db import child as child_module

    pids: list[int] = []
    real = child_module.start_ahead

    def recording(*args: Any, **kwargs: Any) -> Spare:
        spare = real(*args, **kwargs)
        assert spare.process is not None
        pids.append(spare.process.pid)
        return spare

    monkeypatch.setattr(child_module, "start_ahead", recording)
    return pids


@needs_postgres
def test_the_child_started_before_the_gate_runs_the_migrations_of_its_folder(
    example: Callable[[str], Path], capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``headcheck db`` starts the first migration child before its static gate, in PATH (it holds
    alembic.ini); the proof takes it over: env.py runs in that very process."""
    pids = _recording_ahead(monkeypatch)
    project = example("env-database-url")
    out = _probe(project, tmp_path)
    code, report, err = run_db(capsys, str(project), "--url-env", "DATABASE_URL")
    assert code == 0, (err, report)
    assert len(pids) == 1
    assert json.loads(out.read_text())["pid"] == pids[0]
    assert not alive(pids[0])


def test_a_child_started_before_a_failing_gate_is_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    pids = _recording_ahead(monkeypatch)
    project = tmp_path / "two-heads"
    shutil.copytree(ROOT / "examples" / "two-heads", project)
    code, _report, err = run_db(capsys, str(project))
    assert code == 1, err
    assert "the static gate failed" in err
    assert len(pids) == 1
    assert _gone(pids[0])


@needs_postgres
def test_a_child_started_for_another_folder_is_killed_and_not_used(
    example: Callable[[str], Path], capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PATH holds a pyproject.toml but the environment is in a folder below: the child started
    ahead (in PATH) is not the one env.py runs in."""
    pids = _recording_ahead(monkeypatch)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "app"\n')
    project = example("env-database-url")
    nested = root / "service"
    project.rename(nested)
    out = _probe(nested, tmp_path)
    code, report, err = run_db(capsys, str(root), "--url-env", "DATABASE_URL")
    assert code == 0, (err, report)
    assert len(pids) == 1
    seen = json.loads(out.read_text())
    assert seen["cwd"] == str(nested)
    assert seen["pid"] != pids[0]
    assert not alive(pids[0])


def test_a_spare_imports_what_it_is_told_before_its_next_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Spare.preload``: the project's driver, once known, for a child started before it was."""
    marker = tmp_path / "imported"
    (tmp_path / "headcheck_probe_driver.py").write_text(f"open({str(marker)!r}, 'w').write('yes')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    environ, _ = child_env("", ())
    with Spare(tmp_path, environ) as spare:
        spare.preload(["headcheck_probe_driver"])
        assert spare.preloaded == ("headcheck_probe_driver",)
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.read_text() == "yes"


def test_an_unused_spare_is_killed_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    environ, _ = child_env("", ())
    with Spare(tmp_path, environ) as spare:
        assert spare.process is not None
        pid = spare.process.pid
        assert alive(pid)
    assert not alive(pid)  # never taken over: gone with the block

    with Spare(tmp_path, environ) as spare:
        assert spare.process is not None
        dead = spare.process.pid
        spare.process.kill()
        spare.process.wait()
        with Child(tmp_path, {**os.environ}, tmp_path / "log", spare) as child:
            assert child.process.pid != dead  # a fresh child instead
            child.send(cmd="dispose")
            assert _events(child, "disposed")[-1]["event"] == "disposed"


@needs_postgres
def test_the_guard_runs_once_per_dbapi_connection(server: Server) -> None:
    """Before every step the migration connection is checked; a DB-API connection stays on the
    server it was opened on, so the query runs again only for another one (here: SQLAlchemy
    reconnecting after an invalidation), and a connection elsewhere is still refused."""
    import psycopg
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    url = new_database(server, "spare_guard")
    with psycopg.connect(server.conninfo("spare_guard"), autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('port') || ' ' || pg_postmaster_start_time()::text").fetchone()
    assert row is not None
    queries: list[str] = []
    guard = Guard("SELECT current_setting('port') || ' ' || pg_postmaster_start_time()::text", str(row[0]))
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            ctx = MigrationContext.configure(connection=connection)
            execute = _executor(ctx)

            def counted(sql: str) -> Any:
                queries.append(sql)
                return execute(sql)

            checked = _CheckedConnection(guard)
            for _ in range(5):
                checked.check(ctx, counted)
            assert queries == [guard.query]

            connection.invalidate()  # the next use opens a new DB-API connection
            connection.rollback()
            checked.check(ctx, counted)
            assert queries == [guard.query, guard.query]
            checked.check(ctx, counted)
            assert len(queries) == 2

            elsewhere = _CheckedConnection(Guard(guard.query, "another server"))
            with pytest.raises(NotOurServer):
                elsewhere.check(ctx, counted)
    finally:
        engine.dispose()


def test_events_are_json_lines(tmp_path: Path) -> None:  # (a spare answers like any child)
    environ, _ = child_env("", ())
    with Spare(tmp_path, environ) as spare, Child(tmp_path, dict(os.environ), tmp_path / "log", spare) as child:
        started = time.monotonic()
        child.send(cmd="dispose")
        [event] = _events(child, "disposed")
        assert json.loads(json.dumps(event)) == {"event": "disposed"}
        assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("url", "module"),
    [
        ("postgresql://app@localhost/app", "psycopg2"),  # (what SQLAlchemy implies)
        ("postgresql+psycopg2://app@localhost/app", "psycopg2"),
        ("postgresql+psycopg://app@localhost/app", "psycopg"),
        ("driver://user:pass@localhost/dbname", "psycopg"),  # (alembic init's placeholder: headcheck's own)
        ("postgresql+nosuchdriver://app@localhost/app", "psycopg"),  # (not importable: headcheck's own)
    ],
)
def test_the_spare_imports_the_driver_the_projects_url_names(tmp_path: Path, url: str, module: str) -> None:
    """The first worker's child imports the project's driver while the server starts, not also
    headcheck's own (a quarter of a second of CPU each, in both workers' children, when they differ)."""
    from headcheck.config import find_environments
    from headcheck.db.backends import get
    from headcheck.db.proof import _preload

    (tmp_path / "alembic.ini").write_text(f"[alembic]\nscript_location = migrations\nsqlalchemy.url = {url}\n")
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    [env] = find_environments(tmp_path)
    backend = get("postgres")
    assert _preload(env, backend) == (module,)
    # (the second worker's child, which compares the models, imports headcheck's own driver too)
    assert _preload(env, backend, models=True) == tuple(dict.fromkeys((module, "psycopg")))
    assert _preload(env, get("sqlite")) == ()


ROOT = Path(__file__).resolve().parents[2]
forks = pytest.mark.skipif(not FORKS, reason="a forked spare needs Linux pidfds and descriptor passing")


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


@forks
def test_a_forked_spare_answers_in_a_session_of_its_own_and_outlives_its_zygotes_child(tmp_path: Path) -> None:
    """The second stairway worker's child is a fork of the first's spare (no second interpreter
    importing Alembic while the server starts): its own session, its own pipes, its own mark; the
    first worker's child killed with its group and mark (as after its half) leaves it running."""
    environ, _ = child_env("", ())
    with Spare(tmp_path, environ) as plain:
        assert plain.fork() is None  # (only a spare started as a zygote can fork)
    with Spare(tmp_path, environ, zygote=True) as first:
        forked = first.fork()
        assert forked is not None
        assert first.fork() is None  # (once)
        with forked, Child(tmp_path, dict(os.environ), tmp_path / "one.log", first) as one:
            zygote = one.process.pid
            with Child(tmp_path, dict(os.environ), tmp_path / "two.log", forked) as two:
                sibling = two.process.pid
                assert isinstance(two.process, Forked)
                assert sibling != zygote
                assert os.getsid(sibling) == sibling
                assert _parent(sibling) == zygote
                one.close()
                assert _gone(zygote)
                two.send(cmd="dispose")
                assert _events(two, "disposed")[-1]["event"] == "disposed"
            assert _gone(sibling)


@forks
def test_an_unused_forked_spare_is_killed_and_a_dead_one_is_described(tmp_path: Path) -> None:
    environ, _ = child_env("", ())
    with Spare(tmp_path, environ, zygote=True) as first:
        forked = first.fork()
        assert forked is not None
        with forked:
            forked._appear(60)  # noqa: SLF001 -- its pid, without taking it over
            assert isinstance(forked.process, Forked)
            pid = forked.process.pid
            assert alive(pid)
        assert _gone(pid)  # never taken over: killed with the block

        again = first.fork()
        assert again is None  # (asked once already)

    with Spare(tmp_path, environ, zygote=True) as first:
        forked = first.fork()
        assert forked is not None
        with forked, Child(tmp_path, dict(os.environ), tmp_path / "two.log", forked) as two:
            os.kill(two.process.pid, signal.SIGKILL)

            def dispose() -> None:
                two.send(cmd="dispose")
                _events(two, "disposed")

            with pytest.raises(ChildDied, match="ended \\(its exit status is not known here"):
                dispose()


@forks
def test_a_forked_spare_leaves_when_headcheck_is_killed(tmp_path: Path) -> None:
    """headcheck killed with SIGKILL cannot kill its children: the zygote notices its parent is gone,
    and the forked spare, whose parent is the zygote, watches headcheck itself (here its input
    stays open, held by another process, as it would be while it runs a migration)."""
    script = f"""
import os, subprocess, sys
sys.path.insert(0, {str(ROOT)!r})
from headcheck.db.child import Spare
from headcheck.db.child import child_env
env, _ = child_env("", ())
first = Spare({str(tmp_path)!r}, env, zygote=True)
forked = first.fork()
taken = forked.take()
holder = subprocess.Popen(["sleep", "600"], pass_fds=(taken[0].stdin.fileno(),), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(taken[0].pid, first.process.pid, holder.pid, flush=True)
os.kill(os.getpid(), 9)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    sibling, zygote, holder = (int(pid) for pid in done.stdout.split())
    try:
        assert _gone(sibling)
        assert _gone(zygote)
    finally:
        os.kill(holder, signal.SIGKILL)

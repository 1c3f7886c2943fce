"""Benchmark the database proof.

    pip install -e ".[bench]"   # pytest-alembic, kept out of the test environment
    python bench/db_bench.py [--revisions 200] [--repeat 3]

Measures, on this machine:
1. throwaway server start until it accepts sessions, ``--repeat`` times: with initdb (as the first
   run on a machine) and from the data folder template the first one kept (headcheck.db.template;
   every run here uses a cache dir of the bench's own, in its temp dir);
2. on one already-running server, for a generated linear history of ``--revisions`` revisions
   (each creates a table with an index, or adds a column):
   - plain Alembic as CI would run it: ``alembic upgrade heads``, ``alembic downgrade -1``,
     ``alembic upgrade heads`` (three CLI processes), against
     ``headcheck db --database-url URL`` (one process: static gate, per-revision upgrade with
     timings, alembic_version check, downgrade -1, upgrade, four schema snapshots);
   - ``headcheck db --stairway`` (up/down/up for every revision with snapshots after each step),
     with the generated rows and with ``--no-rows``, against pytest-alembic's
     test_single_head_revision, test_upgrade and test_up_down_consistency in one pytest process;
   - ``headcheck db --stairway`` as a user runs it, on its own throwaway server (started and
     stopped by it, inside the time measured; two workers when two CPUs are available), with and
     without rows, and ``--no-rows --jobs 1`` (one worker); and with the rows as a machine's first
     run (``HEADCHECK_NO_CACHE=1``: initdb, no template).
Every run gets a fresh, empty database on the same server. Wall-clock seconds, best of ``--repeat``.
Servers live in /dev/shm when it is a roomy tmpfs and TMPDIR is unset (headcheck.db.launch), the
shared one included: pytest-alembic gets the same fast disk.

``--rows``: instead, what the generated rows cost (headcheck.db.rows): ``headcheck db`` and
``headcheck db --stairway`` with the default rows against the same with ``--no-rows``, runs
interleaved (targets: at most +30% and +50%).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from headcheck.db.server import Server, create_database, throwaway_server  # noqa: E402

ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
# pytest-alembic hands over its engine (its documented env.py recipe); otherwise use the ini's URL
connectable = config.attributes.get("connection") or engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with connectable.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""

REVISION = '''"""revision {n}"""
import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def write_history(target: Path, count: int, url: str) -> None:
    versions = target / "migrations" / "versions"
    versions.mkdir(parents=True)
    (target / "alembic.ini").write_text(
        f"[alembic]\nscript_location = %(here)s/migrations\npath_separator = os\nsqlalchemy.url = {url}\n"
    )
    (target / "migrations" / "env.py").write_text(ENV_PY)
    down = None
    for n in range(count):
        rev = f"{n:04d}bench{n:03d}"[:12]
        table = f"t{n // 2 * 2:04d}"
        if n % 2 == 0:
            up = (
                f"    op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True), "
                f"sa.Column('name', sa.String(50), nullable=False))\n"
                f"    op.create_index('ix_{table}_name', {table!r}, ['name'])"
            )
            dn = f"    op.drop_index('ix_{table}_name', table_name={table!r})\n    op.drop_table({table!r})"
        else:
            up = f"    op.add_column({table!r}, sa.Column('extra', sa.Integer, server_default='0'))"
            dn = f"    op.drop_column({table!r}, 'extra')"
        (versions / f"{rev}_r{n}.py").write_text(REVISION.format(n=n, rev=rev, down=down, upgrade=up, downgrade=dn))
        down = rev


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


PYTEST_ALEMBIC_TESTS = """
import pytest
import sqlalchemy as sa
from pytest_alembic.tests import test_single_head_revision, test_up_down_consistency, test_upgrade  # noqa: F401


@pytest.fixture
def alembic_engine():
    return sa.create_engine({url!r})
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", action="store_true", help="compare headcheck db with and without generated rows")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of headcheck (e.g. `git worktree add ../base main`): its `headcheck db` runs "
        "interleaved with this one's, on the same server, for a before/after on a shared machine",
    )
    args = parser.parse_args()
    if args.rows:
        return rows_comparison(args.revisions, args.repeat)
    results: dict[str, object] = {"revisions": args.revisions, "repeat": args.repeat}
    results["load_average_before"] = list(os.getloadavg())  # (a shared machine: say how busy it was)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    work = Path(tempfile.mkdtemp(prefix="headcheck-bench-"))
    # headcheck's cache dir for every run here (the data folder template and the static gate's
    # caches): the first start below makes the template, as a machine's first run does
    cache = work / "cache"
    os.environ["HEADCHECK_CACHE_DIR"] = str(cache)
    starts, initdb_starts = [], []
    for _ in range(args.repeat):
        os.environ["HEADCHECK_NO_CACHE"] = "1"
        with throwaway_server() as srv:
            initdb_starts.append(srv.startup_seconds)
        del os.environ["HEADCHECK_NO_CACHE"]
        with throwaway_server() as srv:
            starts.append(srv.startup_seconds)
    for name, values in (("server_start_initdb_seconds", initdb_starts), ("server_start_seconds", starts)):
        results[name] = {"min": min(values), "median": statistics.median(values), "all": values}
    print(
        f"server start with initdb (a machine's first run): min {min(initdb_starts):.2f} s, median "
        f"{statistics.median(initdb_starts):.2f} s; from the kept template: min {min(starts):.2f} s, median "
        f"{statistics.median(starts):.2f} s  ({srv.version})"
    )

    counter = iter(range(10_000))

    def fresh(server: Server) -> str:
        name = f"bench_{next(counter)}"
        create_database(server, name)
        return server.url(name)

    try:
        with throwaway_server() as server:
            project = work / "project"
            write_history(project, args.revisions, fresh(server))
            alembic = [sys.executable, "-m", "alembic", "-c", str(project / "alembic.ini")]
            headcheck = [sys.executable, "-m", "headcheck", "db", str(project), "--format", "json"]
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
            # an ini of its own: with ``-c /dev/null`` pytest 9 collects from /, which pytest-alembic's
            # collector chokes on
            (project / "pytest.ini").write_text("[pytest]\n")
            pytest += ["--rootdir", str(project), "-c", str(project / "pytest.ini")]

            plain, ours, stair, stair_no_rows, pa, base, base_stair = [], [], [], [], [], [], []
            own, own_no_rows, own_one = [], [], []  # --stairway on headcheck's own server (started by it)
            own_initdb = []  # the same, as a machine's first run (no template: initdb)
            base_env = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())} if args.baseline else env
            # headcheck's own modules byte-compiled, this checkout's and the baseline's alike (-P: the
            # one PYTHONPATH names, not the current folder's), as an installed package's are: with
            # PYTHONDONTWRITEBYTECODE set, a checkout without them compiles them on every run.
            compile_own = "import compileall, headcheck; compileall.compile_dir(headcheck.__path__[0], quiet=1)"
            for compile_env in (env, base_env):
                subprocess.run([sys.executable, "-P", "-c", compile_own], check=True, env=compile_env)
            for _ in range(args.repeat):
                url = fresh(server)
                (project / "alembic.ini").write_text(
                    (project / "alembic.ini").read_text().split("sqlalchemy.url")[0] + f"sqlalchemy.url = {url}\n"
                )
                plain.append(
                    timed([*alembic, "upgrade", "heads"], project)
                    + timed([*alembic, "downgrade", "-1"], project)
                    + timed([*alembic, "upgrade", "heads"], project)
                )
                if args.baseline:
                    base.append(timed([*headcheck, "--database-url", fresh(server)], project, base_env))
                ours.append(timed([*headcheck, "--database-url", fresh(server)], project, env))
                if args.baseline:
                    base_stair.append(
                        timed([*headcheck, "--stairway", "--database-url", fresh(server)], project, base_env)
                    )
                stair.append(timed([*headcheck, "--stairway", "--database-url", fresh(server)], project, env))
                stair_no_rows.append(
                    timed([*headcheck, "--stairway", "--no-rows", "--database-url", fresh(server)], project, env)
                )
                own.append(timed([*headcheck, "--stairway"], project, env))
                own_no_rows.append(timed([*headcheck, "--stairway", "--no-rows"], project, env))
                own_one.append(timed([*headcheck, "--stairway", "--no-rows", "--jobs", "1"], project, env))
                own_initdb.append(timed([*headcheck, "--stairway"], project, {**env, "HEADCHECK_NO_CACHE": "1"}))
                tests = project / "test_migrations.py"
                tests.write_text(PYTEST_ALEMBIC_TESTS.format(url=fresh(server)))
                pa.append(timed([*pytest, str(tests)], project))
                tests.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def row(name: str, values: list[float]) -> dict[str, float]:
        print(f"{name:<60} best {min(values):6.2f} s  median {statistics.median(values):6.2f} s")
        return {"best": min(values), "median": statistics.median(values)}

    results["plain_alembic_up_down_up"] = row("plain alembic: upgrade heads + downgrade -1 + upgrade heads", plain)
    results["headcheck_db"] = row("headcheck db --database-url (default steps)", ours)
    results["headcheck_db_stairway"] = row("headcheck db --stairway --database-url", stair)
    results["headcheck_db_stairway_no_rows"] = row("headcheck db --stairway --no-rows --database-url", stair_no_rows)
    if args.baseline:
        results["baseline_headcheck_db"] = row("baseline: headcheck db --database-url", base)
        results["baseline_headcheck_db_stairway"] = row("baseline: headcheck db --stairway --database-url", base_stair)
    results["headcheck_db_stairway_own_server"] = row("headcheck db --stairway (own server, started by it)", own)
    results["headcheck_db_stairway_own_server_initdb"] = row(
        "headcheck db --stairway (own server, initdb: no template)", own_initdb
    )
    results["headcheck_db_stairway_no_rows_own_server"] = row(
        "headcheck db --stairway --no-rows (own server)", own_no_rows
    )
    results["headcheck_db_stairway_no_rows_own_server_one_worker"] = row(
        "headcheck db --stairway --no-rows --jobs 1 (own server)", own_one
    )
    results["pytest_alembic"] = row("pytest-alembic: single_head + upgrade + up_down_consistency", pa)
    results["load_average_after"] = list(os.getloadavg())
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"headcheck db / plain alembic: best {min(ours) / min(plain):.2f}x, "
        f"median {statistics.median(ours) / statistics.median(plain):.2f}x (target <= 1.5x)"
    )
    print(
        f"headcheck --stairway / pytest-alembic: best {min(stair) / min(pa):.2f}x, "
        f"median {statistics.median(stair) / statistics.median(pa):.2f}x (target <= 0.6x)"
    )
    print(
        f"headcheck --stairway --no-rows / pytest-alembic: best {min(stair_no_rows) / min(pa):.2f}x, "
        f"median {statistics.median(stair_no_rows) / statistics.median(pa):.2f}x"
    )
    for name, values in (
        ("--stairway", own),
        ("--stairway --no-rows", own_no_rows),
        ("--stairway (initdb, no template)", own_initdb),
    ):
        print(
            f"headcheck {name} on its own server (its start included) / pytest-alembic: best "
            f"{min(values) / min(pa):.2f}x, median {statistics.median(values) / statistics.median(pa):.2f}x"
        )
    print(json.dumps(results))
    return 0


def rows_comparison(revisions: int, repeat: int) -> int:
    """``headcheck db`` (default steps, and ``--stairway``) with rows and with ``--no-rows``."""
    work = Path(tempfile.mkdtemp(prefix="headcheck-bench-"))
    counter = iter(range(10_000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs: dict[str, list[float]] = {}
    try:
        with throwaway_server() as server:

            def fresh() -> str:
                name = f"bench_{next(counter)}"
                create_database(server, name)
                return server.url(name)

            project = work / "project"
            write_history(project, revisions, fresh())
            headcheck = [sys.executable, "-m", "headcheck", "db", str(project), "--format", "json", "--no-squawk"]
            for _ in range(repeat):
                for mode in ([], ["--stairway"]):
                    for rows in ([], ["--no-rows"]):
                        key = " ".join(["headcheck db", *mode, *(rows or ["(rows)"])])
                        runs.setdefault(key, []).append(
                            timed([*headcheck, *mode, *rows, "--database-url", fresh()], project, env)
                        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results: dict[str, object] = {"revisions": revisions, "repeat": repeat}
    for key, values in runs.items():
        print(f"{key:<45} best {min(values):6.2f} s  median {statistics.median(values):6.2f} s")
        results[key] = {"best": min(values), "median": statistics.median(values)}
    for suffix, target in (("", 30), (" --stairway", 50)):
        with_rows, without = min(runs[f"headcheck db{suffix} (rows)"]), min(runs[f"headcheck db{suffix} --no-rows"])
        extra = (with_rows / without - 1) * 100
        results[f"rows_overhead{suffix.replace(' --', '_')}_percent"] = round(extra, 1)
        print(f"rows cost{suffix or ' (default steps)'}: {extra:+.0f}% (target <= +{target}%)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark the database proof on MariaDB.

    pip install -e ".[mysql]"
    python bench/mariadb_bench.py [--revisions 200] [--repeat 3]

Measures, on this machine:
1. throwaway MariaDB start (``mariadbd --bootstrap`` + ``mariadbd`` until a login works), ``--repeat``
   times, with the initialisation on its own;
2. on one already-running throwaway MariaDB, for a generated linear history of ``--revisions``
   revisions (each creates a table with an index, or adds a column), the same as bench/db_bench.py
   on PostgreSQL:
   - plain Alembic as CI would run it: ``alembic upgrade heads``, ``alembic downgrade -1``,
     ``alembic upgrade heads`` (three CLI processes), against
   - ``headcheck db --backend mariadb --database-url URL`` (one process: static gate, per-revision
     upgrade with timings, alembic_version check, downgrade -1, upgrade, four schema snapshots);
   - ``headcheck db --backend mariadb`` with its own throwaway server (start included), for the
     figure a CI job sees.
Every run gets a fresh, empty database on the same server. Wall-clock seconds, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.db_bench import timed, write_history  # noqa: E402
from headcheck.db.backends.mariadb import MariaDB, create_database, throwaway_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, object] = {"revisions": args.revisions, "repeat": args.repeat}

    starts, inits = [], []
    version = ""
    for _ in range(args.repeat):
        with throwaway_server() as srv:
            starts.append(srv.startup_seconds)
            inits.append(srv.init_seconds)
            version = srv.version
    results["server_start_seconds"] = {"min": min(starts), "median": statistics.median(starts), "all": starts}
    results["init_seconds"] = {"min": min(inits), "median": statistics.median(inits)}
    print(
        f"server start: min {min(starts):.2f} s (of which initialisation {min(inits):.2f} s), "
        f"median {statistics.median(starts):.2f} s  ({version})"
    )

    work = Path(tempfile.mkdtemp(prefix="headcheck-bench-"))
    counter = iter(range(10_000))

    def fresh(server: MariaDB) -> str:
        name = f"bench_{next(counter)}"
        create_database(server, name)
        return server.url(name)

    try:
        with throwaway_server() as server:
            project = work / "project"
            write_history(project, args.revisions, fresh(server))
            alembic = [sys.executable, "-m", "alembic", "-c", str(project / "alembic.ini")]
            headcheck = [
                sys.executable,
                "-m",
                "headcheck",
                "db",
                str(project),
                "--format",
                "json",
                "--backend",
                "mariadb",
            ]
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            plain, ours, own_server = [], [], []
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
                ours.append(timed([*headcheck, "--database-url", fresh(server)], project, env))
                own_server.append(timed(headcheck, project, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def row(name: str, values: list[float]) -> dict[str, float]:
        print(f"{name:<66} best {min(values):6.2f} s  median {statistics.median(values):6.2f} s")
        return {"best": min(values), "median": statistics.median(values)}

    results["plain_alembic_up_down_up"] = row("plain alembic: upgrade heads + downgrade -1 + upgrade heads", plain)
    results["headcheck_db"] = row("headcheck db --backend mariadb --database-url (default steps)", ours)
    results["headcheck_db_own_server"] = row("headcheck db --backend mariadb (its own throwaway server)", own_server)
    print(f"headcheck db / plain alembic (same server): {min(ours) / min(plain):.2f}x (target <= 1.5x)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

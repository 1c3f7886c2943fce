"""Benchmark the model comparison (headcheck.db.drift) on db_bench.py's generated history.

    pip install -e ".[bench]"
    python bench/models_bench.py [--revisions 200] [--repeat 3]

The history of ``bench/db_bench.py`` (a table with an index, then a column, alternately) gets a
``models.py`` declaring the same tables as declarative classes, and its env.py passes
``target_metadata``. On one running server, each run on a fresh database, best of ``--repeat``:
``headcheck db --database-url`` and ``--stairway`` with neither rows nor models (``--no-rows
--no-models``), with rows only (``--no-models``) and with both (the default).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from db_bench import ENV_PY, ROOT, write_history

from headcheck.db.server import Server, create_database, throwaway_server


def write_models(project: Path, count: int) -> None:
    """The models the history ends with: ``t0000`` ... with id, name (indexed) and extra."""
    lines = [
        "import sqlalchemy as sa",
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column",
        "",
        "",
        "class Base(DeclarativeBase):",
        "    pass",
        "",
    ]
    for n in range(0, count, 2):
        table = f"t{n:04d}"
        lines += [
            "",
            f"class T{n:04d}(Base):",
            f"    __tablename__ = {table!r}",
            f"    __table_args__ = (sa.Index('ix_{table}_name', 'name'),)",
            "    id: Mapped[int] = mapped_column(primary_key=True)",
            "    name: Mapped[str] = mapped_column(sa.String(50))",
        ]
        if n + 1 < count:
            lines.append("    extra: Mapped[int | None] = mapped_column(server_default='0')")
        lines.append("")
    (project / "models.py").write_text("\n".join(lines))
    env_py = ENV_PY.replace(
        "context.configure(connection=connection)",
        "context.configure(connection=connection, target_metadata=Base.metadata)",
    )
    (project / "migrations" / "env.py").write_text(
        "import sys\nsys.path.insert(0, '.')\nfrom models import Base\n" + env_py
    )


def timed_run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float | None]:
    """(wall-clock seconds, the comparison's own seconds from the JSON report: what it adds after
    the migrations, its create_all having run next to them)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    models = json.loads(done.stdout)["environments"][0]["database"]["models"]
    if models is not None and not models["compared"]:
        raise SystemExit(f"the models were not compared: {models['notice']}")
    return seconds, (models["seconds"] if models else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="headcheck-bench-"))
    counter = iter(range(10_000))

    def fresh(server: Server) -> str:
        name = f"bench_{next(counter)}"
        create_database(server, name)
        return server.url(name)

    runs: dict[str, list[float]] = {}
    tails: dict[str, list[float]] = {}
    try:
        with throwaway_server() as server:
            project = work / "project"
            write_history(project, args.revisions, fresh(server))
            write_models(project, args.revisions)
            headcheck = [sys.executable, "-m", "headcheck", "db", str(project), "--format", "json"]
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            for _ in range(args.repeat):
                for name, extra in (
                    ("default, neither", ["--no-models", "--no-rows"]),
                    ("default, --no-models", ["--no-models"]),
                    ("default, models compared", []),
                    ("--stairway, neither", ["--stairway", "--no-models", "--no-rows"]),
                    ("--stairway, --no-models", ["--stairway", "--no-models"]),
                    ("--stairway, models compared", ["--stairway"]),
                ):
                    seconds, tail = timed_run([*headcheck, *extra, "--database-url", fresh(server)], project, env)
                    runs.setdefault(name, []).append(seconds)
                    if tail is not None:
                        tails.setdefault(name, []).append(tail)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results: dict[str, object] = {"revisions": args.revisions, "repeat": args.repeat}
    for name, values in runs.items():
        print(f"{name:<32} best {min(values):6.2f} s  median {statistics.median(values):6.2f} s")
        results[name] = {"best": min(values), "median": statistics.median(values)}
    for mode in ("default", "--stairway"):
        off, on = min(runs[f"{mode}, --no-models"]), min(runs[f"{mode}, models compared"])
        tail = statistics.median(tails[f"{mode}, models compared"])
        print(
            f"{mode}: best with / without {on - off:+.2f} s ({(on / off - 1) * 100:+.1f}%); the comparison after "
            f"the migrations (median): {tail:.3f} s ({tail / off * 100:.1f}% of the best run without)"
        )
        results[f"{mode} tail"] = {"median": tail, "all": tails[f"{mode}, models compared"]}
        # the goal: rows and the model comparison together, against neither
        base, both = runs[f"{mode}, neither"], runs[f"{mode}, models compared"]
        print(
            f"{mode}: rows + models / neither: best {(min(both) / min(base) - 1) * 100:+.1f}%, "
            f"median {(statistics.median(both) / statistics.median(base) - 1) * 100:+.1f}% "
            f"(goal: at most {'+30' if mode == 'default' else '+50'}%)"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark the static gate against `alembic heads` on generated histories.

    python bench/bench_static.py                 # 100, 1000 and 5000 revisions, 3 runs each
    python bench/bench_static.py --sizes 100 500 --runs 5
    python bench/bench_static.py --sizes 5000 --runs 5 --baseline ../main   # before/after, interleaved

Each history uses Alembic's typed template with realistic upgrade/downgrade bodies and a merge
every 50 revisions. `alembic heads` runs with a cold __pycache__ (deleted before every run), as
in a fresh CI checkout. headcheck "cold" runs with --no-cache (every file parsed, on two cores);
"first" is a fresh CI checkout's run as it happens, with an empty cache folder (every file
parsed, and both caches written); "warm" is an identical second run (the whole-result cache
replays it). A bare `python -c pass` is the floor of any run; "read+compile" is the floor of a
cold one: a script that does only what a cold run cannot skip (list the folder, read every
revision file and compile it, as Alembic's import does, on two cores: half the files in a forked
process), nothing else. The commands run interleaved, round after
round, so that load from other processes hits them alike; prints medians of --runs rounds and
the load average (the goals are meant for a quiet machine: say so when reporting figures).
headcheck's own modules are byte-compiled first, as an installed package's are (with
PYTHONDONTWRITEBYTECODE set, an editable checkout would otherwise compile them on every run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {revises}
Create Date: 2026-11-24 10:{minute:02d}:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "table_{n}",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_table_{n}_name"), "table_{n}", ["name"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_table_{n}_name"), table_name="table_{n}")
    op.drop_table("table_{n}")
'''

INI = """[alembic]
script_location = %(here)s/alembic
path_separator = os
sqlalchemy.url = sqlite://
"""


def rev_id(n: int) -> str:
    return f"{n * 2654435761 % (1 << 48):012x}"


def generate(root: Path, size: int) -> None:
    """A linear history with a two-revision side branch merged back every 50 revisions."""
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(INI)
    (root / "alembic" / "env.py").write_text("")
    head: str | None = None
    n = 0
    while n < size:
        if n and n % 50 == 0 and n + 3 <= size and head is not None:
            side = rev_id(n)
            main = rev_id(n + 1)
            merge = rev_id(n + 2)
            write(versions, n, side, head)
            write(versions, n + 1, main, head)
            write(versions, n + 2, merge, (side, main))
            head, n = merge, n + 3
            continue
        rev = rev_id(n)
        write(versions, n, rev, head)
        head, n = rev, n + 1


def write(versions: Path, n: int, rev: str, down: str | tuple[str, ...] | None) -> None:
    revises = ", ".join(down) if isinstance(down, tuple) else (down or "")
    text = TEMPLATE.format(message=f"change {n}", rev=rev, revises=revises, minute=n % 60, down=down, n=n)
    (versions / f"{rev}_change_{n}.py").write_text(text)


# What a cold run cannot skip: list, read and compile every revision file (as Alembic's import
# compiles it: the compiler-only SyntaxErrors), half the files in a forked process.
READ_COMPILE = """
import os, sys, warnings
warnings.simplefilter("ignore")
folder = os.path.join("alembic", "versions")
paths = [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".py")]
pid = os.fork()
for path in paths[len(paths) // 2 :] if pid == 0 else paths[: len(paths) // 2]:
    with open(path, "rb") as f:
        compile(f.read(), path, "exec", dont_inherit=True)
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
"""


def timed(command: list[str], cwd: Path, before: object = None, env: dict[str, str] | None = None) -> float:
    if callable(before):
        before()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also time another checkout's headcheck (DIR holds its headcheck/ package), cold and first run, "
        "interleaved with this one's: a before/after that load on a shared machine hits alike",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="instead of timing: count the CPU instructions of one cold run (--no-cache) of each, under "
        "valgrind's callgrind (every process, the parse worker too): a figure machine load does not move, for "
        "before/after comparisons of small changes on a noisy machine",
    )
    args = parser.parse_args(argv)
    python = sys.executable
    alembic = [python, "-m", "alembic"]
    headcheck = [python, "-m", "headcheck", "."]
    compile_own = "import compileall, headcheck; compileall.compile_dir(headcheck.__path__[0], quiet=1)"
    # -P: not the current folder's headcheck (this checkout's, when run from it) but the one
    # PYTHONPATH names (the baseline's), else the installed one.
    subprocess.run([python, "-P", "-c", compile_own], check=True)
    baseline_env: dict[str, str] | None = None
    if args.baseline is not None:
        if not (args.baseline / "headcheck" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: no headcheck/__init__.py there")
        baseline_env = dict(os.environ, PYTHONPATH=str(args.baseline.resolve()))
        subprocess.run([python, "-P", "-c", compile_own], check=True, env=baseline_env)
    if args.instructions:
        return count_instructions(args.sizes, [*alembic, "heads"], [*headcheck, "--no-cache"], baseline_env)
    print(f"load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="headcheck-bench-") as tmp:
        os.environ["HEADCHECK_CACHE_DIR"] = str(Path(tmp) / "cache")
        fresh_caches = iter(range(1_000_000))

        def first_run(root: Path, env: dict[str, str] | None = None) -> float:
            """A fresh checkout's first run: an empty cache folder, as on a CI runner."""
            cache_dir = Path(tmp) / f"fresh-{next(fresh_caches)}"
            os.environ["HEADCHECK_CACHE_DIR"] = str(cache_dir)
            try:
                return timed(
                    headcheck, root, env=None if env is None else dict(env, HEADCHECK_CACHE_DIR=str(cache_dir))
                )
            finally:
                os.environ["HEADCHECK_CACHE_DIR"] = str(Path(tmp) / "cache")
                shutil.rmtree(cache_dir, ignore_errors=True)

        floors: list[float] = []
        for size in args.sizes:
            root = Path(tmp) / f"h{size}"
            generate(root, size)
            cache = root / "alembic" / "versions" / "__pycache__"

            def cold(cache: Path = cache) -> None:
                shutil.rmtree(cache, ignore_errors=True)

            timed([*alembic, "heads"], root, cold)  # warm the OS file cache for everyone
            timed(headcheck, root)  # fill headcheck's caches
            time.sleep(2.1)  # past the racily-clean window: the next run stores the whole result
            timed(headcheck, root)
            # Interleaved, one round at a time, so that load from other processes hits all alike.
            kinds = ("alembic", "cold", "first", "warm", "floor", "compile", "base cold", "base first")
            samples: dict[str, list[float]] = {kind: [] for kind in kinds}
            for round_ in range(args.runs):
                samples["floor"].append(timed([python, "-c", "pass"], root))
                samples["compile"].append(timed([python, "-c", READ_COMPILE], root))
                samples["alembic"].append(timed([*alembic, "heads"], root, cold))
                # This checkout and the baseline take turns going first (no order bias).
                turns = ["this", "base"] if round_ % 2 or baseline_env is None else ["base", "this"]
                for turn in turns:
                    if turn == "this":
                        samples["cold"].append(timed([*headcheck, "--no-cache"], root))
                    elif baseline_env is not None:
                        samples["base cold"].append(timed([*headcheck, "--no-cache"], root, env=baseline_env))
                for turn in turns:
                    if turn == "this":
                        samples["first"].append(first_run(root))
                    elif baseline_env is not None:
                        samples["base first"].append(first_run(root, baseline_env))
                samples["warm"].append(timed(headcheck, root))
            alembic_s, cold_s, first_s, warm_s, floor, compile_s = (
                statistics.median(samples[k]) for k in ("alembic", "cold", "first", "warm", "floor", "compile")
            )
            floors.append(floor)
            print(
                f"{size:>6} revisions: alembic heads {alembic_s:6.3f} s | headcheck cold {cold_s:6.3f} s "
                f"({cold_s / alembic_s:5.3f}x alembic, {cold_s / floor:5.2f}x python) | first run {first_s:6.3f} s "
                f"({first_s / alembic_s:5.3f}x) | warm {warm_s:6.3f} s "
                f"({warm_s / alembic_s:5.3f}x alembic, {warm_s / floor:5.2f}x python) | python -c pass {floor:.3f} s",
                flush=True,
            )
            print(
                f"{'':>6}   read+compile floor (2 cores) {compile_s:6.3f} s ({compile_s / alembic_s:5.3f}x alembic): "
                f"headcheck cold is {1000 * (cold_s - compile_s):5.0f} ms above it, first run "
                f"{1000 * (first_s - compile_s):5.0f} ms; 0.25x alembic leaves {1000 * (0.25 * alembic_s - compile_s):5.0f} ms",
                flush=True,
            )
            if baseline_env is not None:
                base_cold, base_first = (statistics.median(samples[k]) for k in ("base cold", "base first"))
                print(
                    f"{'':>6}   baseline ({args.baseline}): cold {base_cold:6.3f} s ({base_cold / alembic_s:5.3f}x alembic) "
                    f"| first run {base_first:6.3f} s ({base_first / alembic_s:5.3f}x) | this one / baseline: "
                    f"cold {cold_s / base_cold:5.3f}, first run {first_s / base_first:5.3f}",
                    flush=True,
                )
    print(f"python -c pass floor (median of the rounds): {statistics.median(floors):.3f} s")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (quiet: below 0.5)")
    return 0


def instructions(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
    """Instructions ``command`` runs, all its processes together (callgrind follows a fork)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    done = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed under valgrind ({done.returncode}):\n{done.stderr[-2000:]}")
    counts = [int(line.rsplit(":", 1)[1].replace(",", "")) for line in done.stderr.splitlines() if "I   refs:" in line]
    if not counts:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return sum(counts)


def count_instructions(
    sizes: list[int], alembic: list[str], headcheck: list[str], baseline_env: dict[str, str] | None
) -> int:
    python = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="headcheck-bench-") as tmp:
        floor = instructions(python, Path(tmp))
        print(f"python -c pass: {floor / 1e6:8.1f} M instructions", flush=True)
        for size in sizes:
            root = Path(tmp) / f"h{size}"
            generate(root, size)
            shutil.rmtree(root / "alembic" / "versions" / "__pycache__", ignore_errors=True)
            alembic_n = instructions(alembic, root)
            this = instructions(headcheck, root)
            line = (
                f"{size:>6} revisions: alembic heads {alembic_n / 1e6:8.1f} M | headcheck cold {this / 1e6:8.1f} M "
                f"({this / alembic_n:5.3f}x alembic; {(this - floor) / size / 1e3:6.1f} K a revision above python)"
            )
            if baseline_env is not None:
                base = instructions(headcheck, root, baseline_env)
                line += f" | baseline {base / 1e6:8.1f} M (this one / baseline {this / base:6.4f})"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

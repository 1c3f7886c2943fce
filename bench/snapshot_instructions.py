"""What one incremental schema snapshot costs PostgreSQL, in instructions (valgrind's callgrind).

    python bench/snapshot_instructions.py [--tables 100] [--baseline DIR]

Wall-clock time of a 2 ms server function moves more than the changes being measured on a shared
machine; instruction counts repeat to within a fraction of a percent. This makes a cluster with
``--tables`` tables (a serial key, a text column, an index each) in a temporary folder, then runs a
single-user backend (``postgres --single``: no client, no network) under callgrind twice, with 20
and with 120 rounds of ``ALTER TABLE ... ADD COLUMN`` followed by one incremental snapshot
(headcheck.db.snapshot's function), and prints the difference per round, with the snapshot's part
(the same rounds without the snapshot, subtracted). Event triggers do not fire in single-user mode,
so each round writes the DDL log row the trigger would have written.

``--baseline DIR``: another checkout's headcheck.db.snapshot, counted the same way, side by side.
Needs valgrind and the PostgreSQL server programs; as root, the backend runs as ``postgres`` (or
``nobody``) through ``setpriv``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from headcheck.db.backends.postgres import find_pg_bin  # noqa: E402

ROUNDS = (20, 120)


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["setpriv", f"--reuid={name}", f"--regid={name}", "--init-groups", "--", *argv]
    raise SystemExit("running as root and neither postgres nor nobody exists")


def _single(bindir: Path, datadir: Path, sql: str, *, valgrind: bool = False) -> str:
    argv = [str(bindir / "postgres"), "--single", "-j", "-D", str(datadir), "-c", "jit=off", "-c", "fsync=off"]
    argv.append("bench")
    if valgrind:
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
    done = subprocess.run(_as_server_user(argv), input=sql, capture_output=True, text=True, check=False)
    out = done.stdout + done.stderr
    if done.returncode != 0 or "ERROR" in out:
        raise SystemExit(f"postgres --single failed:\n{out[-3000:]}")
    return out


def _module(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"snapshot_{abs(hash(str(path)))}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rounds_sql(create: str, name: str, rounds: int, tables: int, snapshot: bool) -> str:
    table = f"format('t%s', (i % {tables}))"
    call = (
        f"FOR r IN SELECT * FROM pg_temp.{name}(c) LOOP IF r.hc_position = -1 THEN c := r.hc_owner;"
        " IF r.hc_line <> 'partial' THEN RAISE 'not a partial snapshot: %', r.hc_line; END IF; END IF; END LOOP;"
        if snapshot
        else ""
    )
    return f"""BEGIN;

DO $headcheck$ BEGIN {create} END $headcheck$;

DO $$ DECLARE c bigint := -1; r record; BEGIN
  FOR r IN SELECT * FROM pg_temp.{name}(c) LOOP IF r.hc_position = -1 THEN c := r.hc_owner; END IF; END LOOP;
  FOR i IN 1..{rounds} LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN zz%s integer', {table}, i);
    INSERT INTO pg_temp.headcheck_ddl VALUES ('pg_class'::regclass, {table}::regclass, 'ALTER TABLE', false, NULL, NULL);
    {call}
  END LOOP;
END $$;

ROLLBACK;

"""


def _count(bindir: Path, pristine: Path, work: Path, sql: str) -> int:
    datadir = work / "data"
    shutil.rmtree(datadir, ignore_errors=True)
    shutil.copytree(pristine, datadir, symlinks=True)
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", f"--reference={pristine}", str(datadir)], check=True)
    out = _single(bindir, datadir, sql, valgrind=True)
    found = re.search(r"Collected : (\d+)", out)
    if found is None:
        raise SystemExit(f"no instruction count from callgrind:\n{out[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--baseline", type=Path, help="another checkout of headcheck, counted the same way")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    bindir = find_pg_bin()
    work = Path(tempfile.mkdtemp(prefix="headcheck-bench-snapshot-"))
    try:
        work.chmod(0o755)
        pristine = work / "pristine"
        pristine.mkdir(mode=0o700)
        if os.geteuid() == 0:
            owner = next(n for n in ("postgres", "nobody") if _exists(n))
            shutil.chown(pristine, owner, owner)
            shutil.chown(work, owner, owner)
        initdb = [str(bindir / "initdb"), "-D", str(pristine), "-U", "postgres", "--no-sync", "-E", "UTF8"]
        subprocess.run(_as_server_user([*initdb, "--locale=C"]), check=True, capture_output=True)
        _single_db(bindir, pristine, "CREATE DATABASE bench")
        setup = "".join(
            f"CREATE TABLE t{k} (id serial PRIMARY KEY, name text NOT NULL);\n\n"
            f"CREATE INDEX ix_t{k}_name ON t{k} (name);\n\n"
            for k in range(args.tables)
        )
        _single(bindir, pristine, setup + "VACUUM;\n\n")
        sides = [("this checkout", ROOT / "headcheck" / "db" / "snapshot.py")]
        if args.baseline is not None:
            sides.append((f"baseline {args.baseline}", args.baseline / "headcheck" / "db" / "snapshot.py"))
        ddl_only = None
        for label, path in sides:
            module = _module(path)
            name, create = module._incremental_function("alembic_version")  # type: ignore[attr-defined]  # noqa: SLF001 -- the function under measurement
            low, high = (
                _count(bindir, pristine, work, _rounds_sql(create, name, n, args.tables, True)) for n in ROUNDS
            )
            if ddl_only is None:
                bare = [
                    _count(bindir, pristine, work, _rounds_sql(create, name, n, args.tables, False)) for n in ROUNDS
                ]
                ddl_only = (bare[1] - bare[0]) / (ROUNDS[1] - ROUNDS[0])
            per_round = (high - low) / (ROUNDS[1] - ROUNDS[0])
            print(
                f"{label}: {per_round / 1e6:.3f} M instructions a round, of which the snapshot "
                f"{(per_round - ddl_only) / 1e6:.3f} M (the ALTER TABLE and its log row: {ddl_only / 1e6:.3f} M)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def _single_db(bindir: Path, datadir: Path, sql: str) -> None:
    """``sql`` in the ``postgres`` database (CREATE DATABASE cannot run in the one it makes)."""
    argv = [str(bindir / "postgres"), "--single", "-j", "-D", str(datadir), "postgres"]
    done = subprocess.run(_as_server_user(argv), input=sql + ";\n\n", capture_output=True, text=True, check=False)
    if done.returncode != 0 or "ERROR" in done.stdout + done.stderr:
        raise SystemExit(f"postgres --single failed:\n{(done.stdout + done.stderr)[-3000:]}")


if __name__ == "__main__":
    raise SystemExit(main())

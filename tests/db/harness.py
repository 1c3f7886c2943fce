"""Helpers for the database tests: run ``headcheck db`` in-process, read its report, find servers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from headcheck.cli import main
from headcheck.db.server import Server, find_pg_bin

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "db"


def have_postgres() -> bool:
    try:
        find_pg_bin()
    except Exception:
        return False
    return True


needs_postgres = pytest.mark.skipif(not have_postgres(), reason="PostgreSQL server binaries not installed")


def _admin(server: Server) -> str:
    return server.conninfo("postgres")


def databases(server: Server) -> set[str]:
    """The databases on ``server`` (the templates and ``postgres`` included)."""
    import psycopg

    with psycopg.connect(_admin(server), autocommit=True) as conn:
        return {str(name) for (name,) in conn.execute("SELECT datname FROM pg_database").fetchall()}


def new_database(server: Server, name: str) -> str:
    """CREATE DATABASE ``name`` on the shared test server, by copying template1's files (on a
    server without fsync, a quarter of the time of the WAL-logged copy), and return its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_admin(server), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} STRATEGY FILE_COPY").format(sql.Identifier(name)))
    return server.url(name)


def drop_databases(server: Server, names: set[str]) -> None:
    """DROP DATABASE each of ``names`` (connections still open to them are closed by the server)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_admin(server), autocommit=True) as conn:
        for name in sorted(names):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_db(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    """``headcheck db ... --format json`` in-process: (exit code, report or {}, stderr)."""
    code = main(["db", *args, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def database(report: dict[str, Any], index: int = 0) -> dict[str, Any]:
    envs = report["environments"]
    assert isinstance(envs, list)
    section = envs[index]["database"]
    assert isinstance(section, dict)
    return section


def _steps(report: dict[str, Any]) -> list[dict[str, Any]]:
    found = database(report)["steps"]
    assert isinstance(found, list)
    return found


def steps(report: dict[str, Any]) -> list[tuple[str, str | None, bool]]:
    return [(s["name"], s["revision"], s["ok"]) for s in _steps(report)]


def failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _steps(report) if not s["ok"]]


def postgres_processes(datadir: Path) -> list[str]:
    """Live (not zombie) processes whose command line names this data directory."""
    return live_processes(str(datadir))


def alive(pid: int | str) -> bool:
    """Process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def live_processes(needle: str) -> list[str]:
    """Live (not zombie) processes whose command line holds ``needle``, as "PID COMMAND LINE"."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline and alive(proc.name):
            found.append(f"{proc.name} {cmdline}")
    return found


def revision_source(
    rev: str, down: object, upgrade: str, downgrade: str, title: str | None = None, imports: str = ""
) -> str:
    """A plain revision file: ``upgrade``/``downgrade`` are function bodies (any number of lines);
    ``imports``: more import lines, after Alembic's."""
    import textwrap

    return (
        f'"""{title or rev}"""\nimport sqlalchemy as sa\nfrom alembic import op\n{imports}\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{textwrap.indent(upgrade, '    ')}\n\n\n"
        f"def downgrade() -> None:\n{textwrap.indent(downgrade, '    ')}\n"
    )


def write_history(
    project: Path,
    revisions: Sequence[tuple[str, str, str, str, str]],
    *,
    imports: str = "",
    env_py: str | None = None,
) -> list[str]:
    """examples/db/clean copied to ``project`` with its revisions replaced by a linear history of
    ``revisions``, each (file name, id, title, upgrade body, downgrade body), in order; ``imports``
    and ``env_py`` as in :func:`revision_source` and for migrations/env.py. Returns the ids."""
    import shutil

    shutil.copytree(EXAMPLES / "clean", project)
    versions = project / "migrations" / "versions"
    for old in versions.glob("*.py"):
        old.unlink()
    if env_py is not None:
        (project / "migrations" / "env.py").write_text(env_py)
    down = None
    for name, rev, title, upgrade, downgrade in revisions:
        (versions / name).write_text(revision_source(rev, down, upgrade, downgrade, title, imports))
        down = rev
    return [rev for _, rev, *_ in revisions]


def write_linear_history(project: Path, count: int, *, trace_at: int | None = None) -> list[str]:
    """``count`` revisions, each creating table t<n>; revision ``trace_at``'s downgrade forgets
    to drop it. Uses the env.py and alembic.ini of examples/db/clean. Returns the ids in order."""
    revisions = []
    for n in range(count):
        rev = f"{n:04d}aaaaaaaa"
        downgrade = "pass" if n == trace_at else f'op.drop_table("t{n}")'
        upgrade = f'op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True))'
        revisions.append((f"{rev}_r{n}.py", rev, f"revision {n}", upgrade, downgrade))
    return write_history(project, revisions)

"""Issue 10.2/10.9: the env.py files Alembic generates (``alembic init -t TEMPLATE``), with the
project's own driver in ``sqlalchemy.url``, run on the throwaway server with that driver."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.db.harness import failed, needs_postgres, run_db, steps
from tests.project import alembic_generate

pytestmark = needs_postgres

REVISION = '''"""creates t and says which driver ran it"""
import os

import sqlalchemy as sa
from alembic import op

revision = "aaaa00000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))
    with open(os.environ["HC_DRIVER_FILE"], "a") as out:
        out.write(op.get_bind().dialect.driver + "\\n")


def downgrade() -> None:
    op.drop_table("t")
'''


def alembic_init(project: Path, template: str, url: str) -> Path:
    """``alembic init -t TEMPLATE migrations`` in ``project``, its sqlalchemy.url set to ``url``
    (a server that does not exist: headcheck must never try it), and one revision."""
    alembic_generate(project, template)
    ini = project / "alembic.ini"
    lines = [
        f"sqlalchemy.url = {url}" if line.startswith("sqlalchemy.url") else line
        for line in ini.read_text().splitlines()
    ]
    ini.write_text("\n".join(lines) + "\n")
    (project / "migrations" / "versions" / "aaaa00000001_t.py").write_text(REVISION)
    return project


@pytest.mark.parametrize(
    ("template", "url", "driver"),
    [
        ("generic", "postgresql://app:secret@db.invalid:5999/app", "psycopg2"),
        ("generic", "postgresql+psycopg://app:secret@db.invalid/app", "psycopg"),
        ("generic", "postgresql+pg8000://app:secret@db.invalid/app", "pg8000"),
        ("async", "postgresql+asyncpg://app:secret@db.invalid/app", "asyncpg"),
        ("pyproject", "postgresql+psycopg2://app:secret@db.invalid/app", "psycopg2"),
        ("pyproject_async", "postgresql+asyncpg://app:secret@db.invalid/app", "asyncpg"),
        ("generic", "driver://user:pass@localhost/dbname", "psycopg"),  # the template's placeholder
    ],
)
def test_generated_env_py_runs_with_the_projects_driver(
    template: str,
    url: str,
    driver: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = alembic_init(tmp_path / "project", template, url)
    used = tmp_path / "driver.txt"
    monkeypatch.setenv("HC_DRIVER_FILE", str(used))
    code, report, err = run_db(capsys, str(project))
    assert code == 0, (err, report)
    assert ("downgrade", "aaaa00000001", True) in steps(report)
    assert set(used.read_text().split()) == {driver}


ASYNC_WRAPPED = """
import asyncio
from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlalchemy.ext.asyncio import AsyncEngine

config = context.config


def do_run_migrations(connection):
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def main():
    # arize-phoenix's shape: an AsyncEngine around a sync-created engine
    engine = AsyncEngine(engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool))
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


asyncio.run(main())
"""


def test_async_engine_around_a_sync_created_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10.3 (seen): "The asyncio extension requires an async driver" when psycopg was forced."""
    project = alembic_init(tmp_path / "project", "generic", "postgresql+asyncpg://app@db.invalid/app")
    (project / "migrations" / "env.py").write_text(ASYNC_WRAPPED)
    monkeypatch.setenv("HC_DRIVER_FILE", str(tmp_path / "driver.txt"))
    code, report, err = run_db(capsys, str(project))
    assert code == 0, (err, report)
    assert (tmp_path / "driver.txt").read_text().split() == ["asyncpg", "asyncpg"]
    assert os.environ.get("DATABASE_URL") is None or "db.invalid" not in os.environ["DATABASE_URL"]


MULTIDB_REVISION = '''"""one table in each database"""
import sqlalchemy as sa
from alembic import op

revision = "aaaa00000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_engine1() -> None:
    op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_engine1() -> None:
    op.drop_table("t")


def upgrade_engine2() -> None:  # the same table name: only works in a database of its own
    op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_engine2() -> None:
    {downgrade2}
'''


@pytest.mark.parametrize("downgrade2", ['op.drop_table("t")', "pass"])
def test_alembic_multidb_template_gets_a_database_per_name(
    downgrade2: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10.3: each named database of the multidb template gets its own throwaway database, and
    goes through the same steps (a broken downgrade of the second one is found too)."""
    project = _multidb_project(tmp_path / "project", downgrade2)
    code, report, err = run_db(capsys, str(project))
    if downgrade2 == "pass":
        assert code == 1
        [bad] = failed(report)
        assert (bad["name"], bad["revision"]) == ("upgrade", "aaaa00000001")
        assert 'relation "t" already exists' in str(bad["error"])
        assert "upgrade_engine2" in str(bad["error"])
        return
    assert code == 0, (err, report)
    assert ("downgrade", "aaaa00000001", True) in steps(report)


def test_multidb_with_database_url_is_refused_at_once_not_a_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_db: list[str]
) -> None:
    """--database-url gives one database; the multidb template's two engines would both run their
    migrations there and wait on each other's version table until --timeout. The second database
    is refused when env.py opens it, saying what to do instead."""
    import time

    project = _multidb_project(tmp_path / "project", 'op.drop_table("t")')
    started = time.monotonic()
    code, report, _ = run_db(capsys, str(project), *fresh_db, "--timeout", "60")
    assert time.monotonic() - started < 30
    assert code == 1
    [bad] = failed(report)
    assert "opens a second database (engine2)" in str(bad["error"])
    assert "run without --database-url" in str(bad["error"])
    assert "secret" not in str(report)


def _multidb_project(project: Path, downgrade2: str) -> Path:
    alembic_init(project, "multidb", "postgresql://unused@db.invalid/x")
    ini = project / "alembic.ini"
    lines, section = [], ""
    for line in ini.read_text().splitlines():
        section = line.strip("[]") if line.startswith("[") else section
        if line.startswith("sqlalchemy.url") and section.startswith("engine"):
            line = f"sqlalchemy.url = postgresql+psycopg://app:secret@db.invalid/{section}"
        lines.append(line)
    text = "\n".join(lines) + "\n"
    assert text.count("db.invalid/engine") == 2, text
    ini.write_text(text)
    (project / "migrations" / "versions" / "aaaa00000001_t.py").write_text(
        MULTIDB_REVISION.replace("{downgrade2}", downgrade2)
    )
    return project

"""Issue 10.1: the migrations run on headcheck's own server only, whatever env.py reads.

A decoy database (on another server: the session's) holds one table; env.py files that take the
caller's DATABASE_URL, libpq variables, a hard-coded settings URL or a raw DB-API connection are
run with ``headcheck db``; afterwards the decoy holds exactly the table it had.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from headcheck.db.server import Server, create_database
from tests.db.harness import failed, needs_postgres, run_db, steps

pytestmark = needs_postgres
Example = Callable[[str], Path]
CaptureFixture = pytest.CaptureFixture[str]

ENV_HEAD = """
import os
from alembic import context
from sqlalchemy import create_engine, engine_from_config, pool

config = context.config
"""
ENV_TAIL = """
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""
SHAPES = {
    # the FastAPI/settings pattern: the caller's DATABASE_URL wins over the ini
    "database_url": """
if os.environ.get("DATABASE_URL"):
    config.set_main_option("sqlalchemy.url", os.environ["DATABASE_URL"])
engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
""",
    # a settings object with the production URL written in it
    "settings": """
class Settings:
    database_url = {decoy!r}
engine = create_engine(Settings.database_url, poolclass=pool.NullPool)
""",
    # libpq's own variables: a URL with no host at all
    "libpq": """
engine = create_engine("postgresql+psycopg://", poolclass=pool.NullPool)
""",
}


@pytest.fixture
def decoy(server: Server, request: pytest.FixtureRequest) -> tuple[str, str]:
    """(SQLAlchemy URL, conninfo) of a new database on another server, holding one table."""
    name = "decoy_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[-50:].lower()
    create_database(server, name)
    with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (id int)")
    return server.url(name), server.conninfo(name)


def _tables(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def _project(example: Example, shape: str, decoy_url: str) -> Path:
    project = example("clean")
    body = SHAPES[shape].format(decoy=decoy_url) if shape == "settings" else SHAPES[shape]
    (project / "migrations" / "env.py").write_text(ENV_HEAD + body + ENV_TAIL)
    return project


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_callers_database_is_never_touched(
    shape: str,
    example: Example,
    decoy: tuple[str, str],
    server: Server,
    capsys: CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, conninfo = decoy
    monkeypatch.setenv("DATABASE_URL", url.replace("+psycopg", ""))
    monkeypatch.setenv("SQLALCHEMY_DATABASE_URI", url)
    for name, value in {"PGHOST": server.host, "PGPORT": str(server.port), "PGUSER": server.user}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PGPASSWORD", server.password)
    monkeypatch.setenv("PGDATABASE", conninfo.rsplit("dbname=", 1)[1])
    code, report, err = run_db(capsys, str(_project(example, shape, url)))
    assert _tables(conninfo) == ["precious"]  # no alembic_version, no migration tables
    assert code == 0, (err, report)
    assert ("upgrade", "c3d4e5f6a7b8", True) in steps(report)


def test_a_connection_that_cannot_be_redirected_is_refused(
    example: Example, decoy: tuple[str, str], capsys: CaptureFixture
) -> None:
    """A raw DB-API connection (``creator=``) bypasses the redirect: the guard stops it."""
    _, conninfo = decoy
    project = example("clean")
    body = f"""
import psycopg
engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect({conninfo!r}), poolclass=pool.NullPool)
"""
    (project / "migrations" / "env.py").write_text(ENV_HEAD + body + ENV_TAIL)
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [bad] = failed(report)
    assert "not on headcheck's database server" in str(bad["error"])
    assert _tables(conninfo) == ["precious"]


def test_another_dialect_is_refused(example: Example, capsys: CaptureFixture, tmp_path: Path) -> None:
    project = example("clean")
    body = f'engine = create_engine("sqlite:///{tmp_path}/prod.db")\n'
    (project / "migrations" / "env.py").write_text(ENV_HEAD + body + ENV_TAIL)
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [bad] = failed(report)
    assert "opens a sqlite database" in str(bad["error"])
    assert not (tmp_path / "prod.db").exists() or (tmp_path / "prod.db").stat().st_size == 0


def test_database_url_gets_the_same_guard(
    example: Example, decoy: tuple[str, str], fresh_db: list[str], capsys: CaptureFixture
) -> None:
    """With --database-url the migrations still go to that URL only, not to what env.py names."""
    url, conninfo = decoy
    code, _, err = run_db(capsys, str(_project(example, "settings", url)), *fresh_db)
    assert code == 0, err
    assert _tables(conninfo) == ["precious"]
    given = fresh_db[1].replace("+psycopg", "")
    with psycopg.connect(given) as conn:
        assert conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone() == (True,)

"""Issue 10.3/10.9: Flask-Migrate's stock env.py (generated here with ``flask db init``) runs inside
the app's context, found as ``flask`` finds it, with the app's database on the throwaway server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from headcheck.db.server import Server, create_database
from tests.db.harness import needs_postgres, run_db, steps

pytestmark = needs_postgres

APP = """
import os
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate()


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "postgresql+psycopg2://app:secret@db.invalid/app")
    db.init_app(app)
    migrate.init_app(app, db)
    return app
"""
SHAPES = {
    "factory": ("app.py", APP),  # `flask` finds create_app() in app.py
    "object": ("wsgi.py", APP + "\napp = create_app()\n"),  # ... or `app` in wsgi.py
}
REVISION = '''"""first"""
import sqlalchemy as sa
from alembic import op

revision = "f1a5c0000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("users")
'''


def flask_db_init(project: Path, filename: str, source: str) -> Path:
    project.mkdir(parents=True)
    (project / filename).write_text(source)
    env = {k: v for k, v in os.environ.items() if k not in ("FLASK_APP", "DATABASE_URL")}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", filename.removesuffix(".py"), "db", "init"],
        cwd=project,
        check=True,
        capture_output=True,
        env=env,
    )
    (project / "migrations" / "versions" / "f1a5c0000001_first.py").write_text(REVISION)
    return project


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_flask_migrate_env_py_runs_in_the_app_context_on_the_throwaway_server(
    shape: str,
    tmp_path: Path,
    server: Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"flask_decoy_{shape}"
    create_database(server, name)
    with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (id int)")
    monkeypatch.delenv("FLASK_APP", raising=False)
    monkeypatch.setenv("DATABASE_URL", server.url(name, "psycopg2"))  # the caller's database
    project = flask_db_init(tmp_path / "project", *SHAPES[shape])
    code, report, err = run_db(capsys, str(project))
    assert code == 0, (err, report)
    assert ("downgrade", "f1a5c0000001", True) in steps(report)
    with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    assert tables == [("precious",)]


def test_an_app_flask_cannot_find_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_db: list[str]
) -> None:
    project = flask_db_init(tmp_path / "project", "app.py", APP)
    (project / "app.py").rename(project / "application_code.py")
    code, report, _ = run_db(capsys, str(project), *fresh_db)
    assert code == 1
    [load] = [s for s in report["environments"][0]["database"]["steps"] if s["name"] == "load"]
    assert "cannot find the Flask app as `flask` does" in load["error"]
    assert "FLASK_APP" in load["error"]


MULTIDB_APP = """
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg2://app:secret@db.invalid/main"
app.config["SQLALCHEMY_BINDS"] = {"users": "postgresql+psycopg2://app:secret@db.invalid/users"}
db = SQLAlchemy(app)
migrate = Migrate(app, db)
"""
MULTIDB_REVISION = '''"""the same table name in both databases: only works in one database each"""
import sqlalchemy as sa
from alembic import op

revision = "f1a5c0000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_():
    op.drop_table("t")


def upgrade_users():
    op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_users():
    op.drop_table("t")
'''


def test_flask_migrate_multidb_gets_a_database_per_bind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(MULTIDB_APP)
    env = {k: v for k, v in os.environ.items() if k not in ("FLASK_APP", "DATABASE_URL")}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "init", "--multidb"],
        cwd=project,
        check=True,
        capture_output=True,
        env=env,
    )
    (project / "migrations" / "versions" / "f1a5c0000001_first.py").write_text(MULTIDB_REVISION)
    code, report, err = run_db(capsys, str(project))
    assert code == 0, (err, report)
    assert ("downgrade", "f1a5c0000001", True) in steps(report)

"""headcheck.db.runner._bound_version_updates: Alembic's move of ``alembic_version`` from one
revision to the next, sent with bound parameters in the migration process (compiled once, not at
every step), with the same effect and Alembic's own check. Real Alembic (``alembic init``), in a
process of its own (the patch is per process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.db.harness import revision_source

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util import CommandError
if sys.argv[1] == "bound":
    from headcheck.db.runner import _bound_version_updates
    _bound_version_updates()
    _bound_version_updates()  # (once is enough: a second call changes nothing)
seen = []
sa.event.listen(sa.engine.Engine, "before_cursor_execute",
                lambda conn, cursor, statement, parameters, context, many: seen.append([statement, repr(parameters)]))
config = Config("alembic.ini")
command.upgrade(config, "bbbbbbbbbbbb")
engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
with engine.connect() as conn:
    at = [row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
try:
    command.upgrade(config, "head")
    error = None
except CommandError as exc:
    error = str(exc)
updates = [s for s in seen if s[0].startswith("UPDATE alembic_version")]
print(json.dumps({"at": at, "updates": updates, "error": error}))
"""


def _run(tmp_path: Path, mode: str) -> dict[str, object]:
    project = tmp_path / mode
    project.mkdir()
    subprocess.run(
        [sys.executable, "-m", "alembic", "init", "-t", "generic", "migrations"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", f"sqlite:///{project}/app.db"))
    versions = project / "migrations" / "versions"
    revisions = [
        ("aaaaaaaaaaaa", None, 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))'),
        ("bbbbbbbbbbbb", "aaaaaaaaaaaa", 'op.add_column("t", sa.Column("name", sa.Text()))'),
        # (the row Alembic is about to move is gone: its check must still say so)
        ("cccccccccccc", "bbbbbbbbbbbb", 'op.execute("DELETE FROM alembic_version")'),
    ]
    for rev, down, up in revisions:
        (versions / f"{rev}_r.py").write_text(revision_source(rev, down, up, "pass"))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_version_table_moves_as_alembic_moves_it_with_bound_parameters(tmp_path: Path) -> None:
    alembic = _run(tmp_path, "alembic")
    bound = _run(tmp_path, "bound")
    assert bound["at"] == alembic["at"] == ["bbbbbbbbbbbb"]
    # Alembic's own check, word for word: the row to move was not there
    assert alembic["error"] == bound["error"]
    assert "expected to match one row when updating 'bbbbbbbbbbbb' to 'cccccccccccc'" in str(bound["error"])
    # Alembic writes the revisions into the SQL text; here they are parameters of one statement
    alembic_updates = alembic["updates"]
    bound_updates = bound["updates"]
    assert isinstance(alembic_updates, list)
    assert isinstance(bound_updates, list)
    assert "'bbbbbbbbbbbb'" in alembic_updates[0][0]
    assert len(bound_updates) == len(alembic_updates) == 2
    assert len({statement for statement, _ in bound_updates}) == 1
    assert "bbbbbbbbbbbb" not in bound_updates[0][0]
    assert "'bbbbbbbbbbbb'" in bound_updates[0][1]  # (SQLite's parameters: by position)

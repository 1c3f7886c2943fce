"""``headcheck db``: the example projects on a real throwaway PostgreSQL."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from headcheck.cli import main
from headcheck.db.server import Server, create_database
from tests.db.harness import database, databases, failed, needs_postgres, new_database, run_db, steps

pytestmark = needs_postgres
Example = Callable[[str], Path]
CaptureFixture = pytest.CaptureFixture[str]

HANG = '''
"""sleeps"""
import time
from alembic import op

revision = "d4e5f6a7b8c9"
down_revision = "c3d4e5f6a7b8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    time.sleep(600)


def downgrade() -> None:
    pass
'''


def test_clean_project_passes_with_the_contract_json(example: Example, capsys: CaptureFixture) -> None:
    code, report, _ = run_db(capsys, str(example("clean")))
    assert code == 0
    assert report["ok"] is True
    db = database(report)
    assert set(db) == {
        "server_version",
        "startup_seconds",
        "ok",
        "steps",
        "slowest",
        "schema_diffs",
        "revisions",
        "models",
        "rows_notice",
    }
    assert db["ok"] is True
    assert db["rows_notice"] is None  # the rows ran throughout
    assert db["schema_diffs"] == []
    assert isinstance(db["startup_seconds"], float)
    assert db["startup_seconds"] > 0
    assert str(db["server_version"])[:2].isdigit()
    assert steps(report) == [
        ("load", None, True),
        ("upgrade", "a1b2c3d4e5f6", True),
        ("upgrade", "b2c3d4e5f6a7", True),
        ("upgrade", "c3d4e5f6a7b8", True),
        ("check-heads", None, True),
        ("downgrade", "c3d4e5f6a7b8", True),
        ("upgrade", "c3d4e5f6a7b8", True),
        ("check-heads", None, True),
    ]
    for step in db["steps"]:
        assert set(step) == {"name", "revision", "seconds", "ok", "error"}
    assert [s["revision"] for s in db["slowest"]]
    assert len(db["slowest"]) <= 5


def test_text_report_lists_every_step(example: Example, capsys: CaptureFixture) -> None:
    assert main(["db", str(example("clean"))]) == 0
    out = capsys.readouterr().out
    assert "database proof on PostgreSQL" in out
    assert "started in" in out
    assert "downgrade   c3d4e5f6a7b8" in out or "downgrade c3d4e5f6a7b8" in out.replace("  ", " ")
    assert "slowest:" in out
    assert "database: ok (8 steps)" in out


def test_broken_upgrade_names_the_revision_and_the_error(example: Example, capsys: CaptureFixture) -> None:
    code, report, _ = run_db(capsys, str(example("broken-upgrade")))  # on a throwaway server
    assert code == 1
    assert report["ok"] is False
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("upgrade", "b2c3d4e5f6a7")
    assert 'relation "user" does not exist' in str(bad["error"])
    assert "b2c3d4e5f6a7_add_users_name.py" in str(bad["error"])  # the project's own frame
    assert "site-packages" not in str(bad["error"])
    assert ("upgrade", "c3d4e5f6a7b8", True) not in steps(report)  # stops at the first failure


def test_broken_downgrade_fails_the_downgrade_step(
    example: Example, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    code, report, _ = run_db(capsys, str(example("broken-downgrade")), *fresh_db)
    assert code == 1
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("downgrade", "c3d4e5f6a7b8")
    assert 'table "order" does not exist' in str(bad["error"])


def test_a_downgrade_that_does_nothing_is_caught(example: Example, capsys: CaptureFixture, fresh_db: list[str]) -> None:
    code, report, _ = run_db(capsys, str(example("downgrade-leaves-trace")), *fresh_db)
    assert code == 1
    [diff] = database(report)["schema_diffs"]
    assert diff["revision"] == "c3d4e5f6a7b8"
    assert diff["check"] == "downgrade"
    assert "is not undone" in diff["message"]
    assert "+ table public.tags" in diff["lines"]
    bad = failed(report)
    assert (bad[0]["name"], bad[0]["revision"]) == ("downgrade", "c3d4e5f6a7b8")
    assert "+ table public.tags" in str(bad[0]["error"])


def test_stairway_finds_the_enum_left_behind_deeper_in_history(
    example: Example, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    code, report, _ = run_db(capsys, str(example("downgrade-leaves-trace")), "--stairway", *fresh_db)
    assert code == 1
    diff = database(report)["schema_diffs"][0]
    assert diff["revision"] == "b2c3d4e5f6a7"
    assert "leaves a trace" in diff["message"]
    assert diff["lines"] == ["+ type public.mood enum('calm', 'angry')"]
    assert steps(report)[:4] == [
        ("load", None, True),
        ("upgrade", "a1b2c3d4e5f6", True),
        ("downgrade", "a1b2c3d4e5f6", True),
        ("upgrade", "a1b2c3d4e5f6", True),
    ]


def test_stairway_on_a_clean_project_does_every_revision_three_times(
    example: Example, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    code, report, _ = run_db(capsys, str(example("clean")), "--stairway", *fresh_db)
    assert code == 0
    moves = [(n, r) for n, r, _ in steps(report) if n in ("upgrade", "downgrade")]
    assert len(moves) == 9
    assert moves[3:6] == [
        ("upgrade", "b2c3d4e5f6a7"),
        ("downgrade", "b2c3d4e5f6a7"),
        ("upgrade", "b2c3d4e5f6a7"),
    ]


def test_env_py_reading_database_url(example: Example, capsys: CaptureFixture, fresh_db: list[str]) -> None:
    project = str(example("env-database-url"))
    code, report, _ = run_db(capsys, project, *fresh_db)
    assert code == 1
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("env.py", None)
    assert "set DATABASE_URL" in str(bad["error"])
    code, report, _ = run_db(capsys, project, "--url-env", "DATABASE_URL", *fresh_db)
    assert code == 0, failed(report)


def test_two_labelled_heads_are_each_undone_once(example: Example, capsys: CaptureFixture, fresh_db: list[str]) -> None:
    code, report, _ = run_db(capsys, str(example("labelled-heads")), *fresh_db)
    assert code == 0, failed(report)
    moves = [(n, r) for n, r, _ in steps(report) if n in ("upgrade", "downgrade")]
    assert moves[-4:] == [
        ("downgrade", "b2c3d4e5f6a7"),
        ("downgrade", "e5f6a7b8c9d0"),
        ("upgrade", "e5f6a7b8c9d0"),
        ("upgrade", "b2c3d4e5f6a7"),
    ]
    assert {r for n, r in moves[:4]} == {"a1b2c3d4e5f6", "b2c3d4e5f6a7", "d4e5f6a7b8c9", "e5f6a7b8c9d0"}


def test_a_broken_graph_stops_before_the_database(capsys: CaptureFixture) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    code, report, err = run_db(capsys, str(examples / "dangling"))
    assert code == 1
    assert "static gate failed" in err
    assert "database" not in report["environments"][0]


def test_step_timeout_kills_the_migration_and_says_so(example: Example, capsys: CaptureFixture) -> None:
    project = example("clean")
    (project / "migrations" / "versions" / "d4e5f6a7b8c9_hang.py").write_text(HANG)
    code, report, _ = run_db(capsys, str(project), "--timeout", "4")  # on a throwaway server
    assert code == 1
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("upgrade", "d4e5f6a7b8c9")
    assert "timed out after 4 s" in str(bad["error"])


def test_usage_errors_exit_2_with_one_line(example: Example, capsys: CaptureFixture) -> None:
    project = str(example("clean"))
    assert main(["db", project, "--stamp", "abc"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["db", project, "--pg-bin", str(Path(project))]) == 2
    err = capsys.readouterr().err
    assert "no pg_ctl there" in err
    assert err.count("\n") == 1


def test_existing_database_url_empty_and_nonempty(example: Example, capsys: CaptureFixture, server: Server) -> None:
    create_database(server, "existing")
    url = server.url("existing").replace("+psycopg", "")
    project = str(example("clean"))
    code, report, _ = run_db(capsys, project, "--database-url", url)
    assert code == 0, failed(report)
    assert database(report)["startup_seconds"] == 0.0
    # now it has tables (and an alembic_version): refused without --allow-nonempty
    assert main(["db", project, "--database-url", url]) == 2
    assert "not empty" in capsys.readouterr().err
    code, report, _ = run_db(capsys, project, "--database-url", url, "--allow-nonempty")
    assert code == 0  # already at heads: nothing left to prove
    assert steps(report) == [("load", None, True)]


def test_from_schema_then_stamp_then_upgrade(
    example: Example, capsys: CaptureFixture, server: Server, tmp_path: Path
) -> None:
    # a "production" schema at b2c3d4e5f6a7, dumped by pg_dump --schema-only
    create_database(server, "prod")
    project = example("clean")
    _alembic_upgrade(project, server.url("prod"), "b2c3d4e5f6a7")
    with psycopg.connect(server.conninfo("prod"), autocommit=True) as conn:
        conn.execute("DROP TABLE alembic_version")
    dump = tmp_path / "schema.sql"
    subprocess.run(
        [str(server.pg_bin / "pg_dump"), "--schema-only", "-f", str(dump), server.url("prod").replace("+psycopg", "")],
        check=True,
    )
    code, report, _ = run_db(capsys, str(project), "--from-schema", str(dump), "--stamp", "b2c3d4e5f6a7")
    assert code == 0, failed(report)
    assert steps(report)[:4] == [
        ("load-schema", None, True),
        ("load", None, True),
        ("stamp", "b2c3d4e5f6a7", True),
        ("upgrade", "c3d4e5f6a7b8", True),
    ]


def _alembic_upgrade(project: Path, url: str, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(project / "alembic.ini"))
    config.set_main_option("script_location", str(project / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, target)


def test_stairway_longer_than_a_chunk_keeps_its_comparisons(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    """--stairway commits every STAIRWAY_CHUNK revisions (as separate alembic commands would); the
    chunk boundary must not lose the "before" schema nor check alembic_version early."""
    from headcheck.db.proof import STAIRWAY_CHUNK
    from tests.db.harness import write_linear_history

    count = STAIRWAY_CHUNK + 3
    ids = write_linear_history(tmp_path / "long", count, trace_at=STAIRWAY_CHUNK)  # first of the 2nd chunk
    code, report, _ = run_db(capsys, str(tmp_path / "long"), "--stairway", *fresh_db)
    assert code == 1
    moves = [(n, r) for n, r, _ in steps(report) if n in ("upgrade", "downgrade")]
    assert moves == [(name, rev) for rev in ids for name in ("upgrade", "downgrade", "upgrade")][: len(moves)]
    [diff] = database(report)["schema_diffs"]
    assert diff["revision"] == ids[STAIRWAY_CHUNK]
    assert diff["lines"][0] == f"+ table public.t{STAIRWAY_CHUNK}"
    assert [s for s in steps(report) if s[0] == "check-heads"] == []  # stopped by the failing re-upgrade


def test_clean_stairway_over_several_chunks_checks_heads_once(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    from headcheck.db.proof import STAIRWAY_CHUNK
    from tests.db.harness import write_linear_history

    ids = write_linear_history(tmp_path / "long", STAIRWAY_CHUNK * 2 + 1)
    code, report, _ = run_db(capsys, str(tmp_path / "long"), "--stairway", *fresh_db)
    assert code == 0, failed(report)
    assert len([s for s in steps(report) if s[0] in ("upgrade", "downgrade")]) == 3 * len(ids)
    assert [s for s in steps(report) if s[0] == "check-heads"] == [("check-heads", None, True)]
    assert steps(report)[-1] == ("check-heads", None, True)


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE SEQUENCE counter",
        "CREATE TYPE mood AS ENUM ('ok')",
        "CREATE SCHEMA app",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ],
)
def test_a_database_holding_only_a_sequence_or_a_type_is_not_empty(
    ddl: str, example: Example, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    """Issue 9.7: only tables counted, so a database with a sequence or an enum passed as empty."""
    with psycopg.connect(fresh_db[1].replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(ddl)
    code = main(["db", str(example("clean")), *fresh_db])
    assert code == 2
    assert "not empty (1 objects" in capsys.readouterr().err


ENV_READS_VARIABLE = """
import os
from alembic import context
from sqlalchemy import create_engine, pool

engine = create_engine(os.environ["APP_DATABASE_DSN"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""


def test_env_py_reading_a_missing_variable_suggests_url_env(
    example: Example, capsys: CaptureFixture, monkeypatch: pytest.MonkeyPatch, fresh_db: list[str]
) -> None:
    """Issue 10.8: a KeyError in env.py, and the fix is one flag away."""
    monkeypatch.delenv("APP_DATABASE_DSN", raising=False)
    project = example("clean")
    (project / "migrations" / "env.py").write_text(ENV_READS_VARIABLE)
    code, report, _ = run_db(capsys, str(project), *fresh_db)
    assert code == 1
    [bad] = failed(report)
    assert "hint: env.py reads the environment variable APP_DATABASE_DSN; pass --url-env APP_DATABASE_DSN" in str(
        bad["error"]
    )
    assert "project frames only" in str(bad["error"])
    assert "env.py" in str(bad["error"])
    code, report, _ = run_db(capsys, str(project), "--url-env", "APP_DATABASE_DSN", *fresh_db)
    assert code == 0


FIRST_ALTERS = '''"""alters a table the application created"""
import sqlalchemy as sa
from alembic import op

revision = "a1b2c3d4e5f6"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("email", sa.Text))


def downgrade() -> None:
    op.drop_column("accounts", "email")
'''


def test_a_first_revision_on_a_missing_table_points_at_from_schema(
    example: Example, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    """Issue 10.7: histories that do not start from an empty database."""
    project = example("clean")
    first = next((project / "migrations" / "versions").glob("a1b2c3d4e5f6*.py"))
    first.write_text(FIRST_ALTERS)
    code, report, _ = run_db(capsys, str(project), *fresh_db)
    assert code == 1
    [bad] = failed(report)
    assert bad["revision"] == "a1b2c3d4e5f6"
    assert "--from-schema FILE --stamp" in str(bad["error"])
    assert f'{first.name}", line 12, in upgrade' in str(bad["error"])  # the file and line of the op.* call


# Two tests in file order (pytest keeps it): the first leaves databases behind on the shared server,
# the second finds them dropped (tests/db/conftest.py drops what a test created there). With
# pytest-xdist a file runs whole on one worker (--dist loadfile): both see the same server.
_PROBE = "leftover_probe"


def test_a_test_that_creates_databases_on_the_shared_server(server: Server, fresh_db: list[str]) -> None:
    new_database(server, _PROBE)
    assert {_PROBE, fresh_db[1].rsplit("/", 1)[1]} <= databases(server)


def test_finds_them_dropped_after_it(server: Server) -> None:
    left = {name for name in databases(server) if name == _PROBE or name.startswith("t_test_a_test_that_creates")}
    assert left == set()

"""Rows in the tables before each judged revision (headcheck.db.rows): HC630 for a step that fails
only because the tables hold rows, HC631 for a downgrade that destroys data, on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from headcheck.cli import main
from headcheck.db.rows import Rows, fill_order, generate_rows, read_catalog
from headcheck.db.server import Server, create_database
from headcheck.db.urls import libpq_url
from tests.db.harness import needs_postgres, revision_source, run_db
from tests.git_project import alembic_project, commit_all, git

pytestmark = needs_postgres
CaptureFixture = pytest.CaptureFixture[str]

BASE = (
    'op.create_table("a", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)),\n'
    '    sa.Column("code", sa.String(10), nullable=False), sa.Column("parent_id", sa.Integer),\n'
    '    sa.Column("amount", sa.String(20)))'
)


def project(root: Path, *revisions: tuple[str, str]) -> Path:
    """Table ``a`` (revision ``r0``), then one revision per (upgrade, downgrade) body: r1, r2, ..."""
    versions = alembic_project(root)
    down = None
    for n, (up, back) in enumerate([(BASE, 'op.drop_table("a")'), *revisions]):
        rev = f"r{n}"
        (versions / f"{rev}_x.py").write_text(revision_source(rev, down, up, back))
        down = rev
    return root


def found(report: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in report["environments"][0]["findings"] if f["code"] == code]


@pytest.fixture
def fresh_db(server: Server, request: pytest.FixtureRequest) -> Callable[[], list[str]]:
    """``fresh_db()``: ``--database-url URL`` of a new, empty database on the shared server (one per
    proof: a proof leaves its tables behind)."""
    import hashlib

    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]
    made: list[str] = []

    def new() -> list[str]:
        name = f"rows_{digest}_{len(made)}"
        made.append(name)
        create_database(server, name)
        return ["--database-url", server.url(name)]

    return new


def prove(capsys: CaptureFixture, root: Path, db: Callable[[], list[str]], *more: str) -> tuple[int, dict[str, Any]]:
    code, report, err = run_db(capsys, str(root), *db(), "--no-squawk", *more)
    assert report, err
    return code, report


# each: the revision that breaks on existing rows, and what the database says
FAILS_WITH_ROWS = {
    "not-null-without-default": (
        'op.add_column("a", sa.Column("age", sa.Integer, nullable=False))',
        'op.drop_column("a", "age")',
        "contains null values",
    ),
    "unique-over-repeats": (
        'op.create_unique_constraint("uq_code", "a", ["code"])',
        'op.drop_constraint("uq_code", "a")',
        "is duplicated",
    ),
    "failing-cast": (
        'op.alter_column("a", "amount", type_=sa.Integer, postgresql_using="amount::integer")',
        'op.alter_column("a", "amount", type_=sa.String(20))',
        "invalid input syntax for type integer",
    ),
    "foreign-key-over-orphans": (
        'op.create_table("p", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.create_foreign_key("fk_parent", "a", "p", ["parent_id"], ["id"])',
        'op.drop_constraint("fk_parent", "a")\nop.drop_table("p")',
        'is not present in table "p"',
    ),
    "data-migration-crashes-on-null": (
        'for (name,) in op.get_bind().execute(sa.text("SELECT name FROM a")):\n    name.upper()',
        "pass",
        "'NoneType' object has no attribute 'upper'",
    ),
}


@pytest.mark.parametrize("kind", sorted(FAILS_WITH_ROWS))
def test_a_step_failing_only_with_rows_is_hc630_at_its_line_and_passes_without_rows(
    kind: str, tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    up, back, error = FAILS_WITH_ROWS[kind]
    root = project(tmp_path / "p", (up, back))
    code, report = prove(capsys, root, fresh_db)
    assert code == 1
    [finding] = found(report, "HC630")
    assert finding["severity"] == "error"
    assert Path(finding["path"]).name == "r1_x.py"
    # the op.* call, or the line of the data migration that crashed
    marker = "name.upper()" if kind == "data-migration-crashes-on-null" else "op."
    lines = (root / "alembic/versions/r1_x.py").read_text().splitlines()
    assert marker in lines[finding["line"] - 1]
    assert "upgrade of r1 fails on a table with rows" in finding["message"]
    assert error in finding["message"]
    if kind != "data-migration-crashes-on-null":  # a database error: its table, statement and a row
        assert "(a)" in finding["message"]
        assert "statement: ALTER TABLE a" in finding["message"]
        assert 'a row: {"id":' in finding["message"]
    assert "--seed 1" in finding["fix"]
    # the same history on empty tables: passes, as the proof always said
    code, report = prove(capsys, root, fresh_db, "--no-rows")
    assert code == 0
    assert found(report, "HC630") == []


SAFE = {
    "nullable-column": ('op.add_column("a", sa.Column("age", sa.Integer))', 'op.drop_column("a", "age")'),
    "not-null-with-server-default": (
        'op.add_column("a", sa.Column("flag", sa.Boolean, nullable=False, server_default=sa.false()))',
        'op.drop_column("a", "flag")',
    ),
    "data-migration-handles-null": (
        'for (name,) in op.get_bind().execute(sa.text("SELECT name FROM a")):\n    (name or "").upper()',
        "pass",
    ),
}


@pytest.mark.parametrize("kind", sorted(SAFE))
def test_what_works_on_existing_rows_is_not_reported(
    kind: str, tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    root = project(tmp_path / "p", SAFE[kind])
    code, report = prove(capsys, root, fresh_db, "--stairway")
    assert code == 0
    assert found(report, "HC630") == []
    assert found(report, "HC631") == []


def test_data_migration_code_paths_run(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    """A branch taken only when the table holds rows runs (and its failure is seen)."""
    up = (
        'if op.get_bind().execute(sa.text("SELECT count(*) FROM a")).scalar():\n'
        '    op.execute("UPDATE a SET code = NULL")'
    )
    root = project(tmp_path / "p", (up, "pass"))
    code, report = prove(capsys, root, fresh_db)
    assert code == 1
    [finding] = found(report, "HC630")
    assert "violates not-null constraint" in finding["message"]


MOVE_UP = 'op.add_column("a", sa.Column("label", sa.String(50)))\nop.execute("UPDATE a SET label = name")\nop.drop_column("a", "name")'


def test_a_downgrade_dropping_moved_data_is_hc631(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    back = 'op.add_column("a", sa.Column("name", sa.String(50)))\nop.drop_column("a", "label")'
    root = project(tmp_path / "p", (MOVE_UP, back))
    code, report = prove(capsys, root, fresh_db)
    assert code == 0  # a warning
    [finding] = found(report, "HC631")
    assert finding["severity"] == "warning"
    assert "downgrade of r1 drops column a.label holding 2 value(s)" in finding["message"]
    assert "(in a.name)" in finding["message"]
    text = (root / "alembic/versions/r1_x.py").read_text().splitlines()
    assert 'drop_column("a", "label")' in text[finding["line"] - 1]
    code, report = prove(capsys, root, fresh_db, "--no-rows")
    assert found(report, "HC631") == []


NO_LOSS = {
    # the upgrade's own column, holding only its default: nothing existed before
    "new-column": (
        'op.add_column("a", sa.Column("extra", sa.String(5), server_default="x"))',
        'op.drop_column("a", "extra")',
    ),
    # the values are copied back before the column is dropped
    "copied-back": (
        MOVE_UP,
        'op.add_column("a", sa.Column("name", sa.String(50)))\nop.execute("UPDATE a SET name = label")\n'
        'op.drop_column("a", "label")',
    ),
    # the upgrade destroyed the values, the downgrade drops nothing that held them
    "upgrade-drops": ('op.drop_column("a", "name")', 'op.add_column("a", sa.Column("name", sa.String(50)))'),
}


@pytest.mark.parametrize("kind", sorted(NO_LOSS))
def test_no_data_loss_warning_when_nothing_that_existed_is_dropped(
    kind: str, tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    root = project(tmp_path / "p", NO_LOSS[kind])
    code, report = prove(capsys, root, fresh_db)
    assert code == 0
    assert found(report, "HC631") == []
    assert found(report, "HC630") == []


def test_the_seed_reproduces_the_rows(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    up, back, _ = FAILS_WITH_ROWS["not-null-without-default"]
    root = project(tmp_path / "p", (up, back))
    messages = []
    for seed in ("7", "7", "8"):
        _, report = prove(capsys, root, fresh_db, "--seed", seed)
        [finding] = found(report, "HC630")
        messages.append(finding["message"])
    assert messages[0] == messages[1]
    assert messages[0] != messages[2]  # another seed, other rows


def test_bad_rows_option_is_one_line_exit_2(tmp_path: Path, capsys: CaptureFixture) -> None:
    root = project(tmp_path / "p")
    code, _, err = run_db(capsys, str(root), "--rows", "-1")
    assert code == 2
    assert err.strip().splitlines() == ["headcheck: error: --rows must be between 0 and 1000"]


# -- the generator on a real schema ------------------------------------------------------------


@pytest.fixture
def connection(server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    import psycopg

    name = "rows_" + request.node.name.lower()[:40].replace("[", "_").replace("]", "_").replace("-", "_")
    create_database(server, name)
    with psycopg.connect(libpq_url(server.url(name))) as conn:
        yield conn


def execute(conn: Any) -> Any:
    def run(sql: str) -> list[Any]:
        cursor = conn.cursor()
        cursor.execute(sql.encode())
        return cursor.fetchall() if cursor.description is not None else []

    return run


SCHEMA = """
CREATE TYPE mood AS ENUM ('ok', 'sad''s');
CREATE DOMAIN short_positive AS integer CHECK (VALUE > 0);
CREATE TABLE team (id serial PRIMARY KEY, name varchar(8) NOT NULL UNIQUE, lead_id integer);
CREATE TABLE person (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id integer NOT NULL REFERENCES team (id),
    mood mood NOT NULL,
    score short_positive,
    born date,
    seen timestamptz,
    ratio numeric(5, 2),
    nick char(2),
    code text NOT NULL CHECK (code <> ''),
    twice integer GENERATED ALWAYS AS (1) STORED
);
ALTER TABLE team ADD FOREIGN KEY (lead_id) REFERENCES person (id);
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
"""


def test_rows_satisfy_the_schema_parents_first_cycle_broken_refused_rows_dropped(connection: Any) -> None:
    run = execute(connection)
    run(SCHEMA)
    rows = Rows(5, 1, "alembic_version")  # (a unique varchar: all five edge values)
    inserted = rows.fill(run)
    assert rows.broken is None
    assert [t.name for t in fill_order(read_catalog(run, "alembic_version"))] == ["team", "person"]
    assert run("SELECT count(*) FROM alembic_version") == [(0,)]
    teams = run("SELECT name, lead_id FROM team ORDER BY id")
    assert len(teams) == 5
    assert all(lead is None for _, lead in teams)
    names = [name for name, _ in teams]
    assert "" in names
    assert "x" * 8 in names
    assert any(not n.isascii() for n in names)
    people = run("SELECT team_id, mood::text, score, code FROM person")
    assert people
    assert len(people) < 5
    assert inserted == 5 + len(people)
    assert {mood for _, mood, _, _ in people} <= {"ok", "sad's"}
    assert all(score is None or score > 0 for _, _, score, _ in people)
    assert {team for team, _, _, _ in people} <= {r[0] for r in run("SELECT id FROM team")}
    assert any(score is None for _, _, score, _ in people) or len(people) < 2
    # filled once: a second fill adds nothing
    assert rows.fill(run) == 0


def test_generated_rows_are_deterministic(connection: Any) -> None:
    run = execute(connection)
    run(SCHEMA)
    tables = read_catalog(run, "alembic_version")
    person = next(t for t in tables if t.name == "person")
    keys: dict[tuple[str, ...], list[list[str | None]]] = {("team_id",): [["1"], ["2"]]}
    first = generate_rows(person, 3, 5, keys)
    assert first == generate_rows(person, 3, 5, keys)
    assert first != generate_rows(person, 3, 6, keys)
    assert first is not None
    assert all("id" not in row and "twice" not in row for row in first)  # identity ALWAYS, generated
    born = [row["born"] for row in first]
    assert born[0] is None  # NULL wherever allowed
    assert born[1] == born[2]  # a value repeats where not unique


def test_a_downgrade_dropping_a_column_the_upgrade_never_touched_is_hc631(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    root = project(tmp_path / "p", ('op.execute("SELECT 1")', 'op.drop_column("a", "code")'))
    code, report = prove(capsys, root, fresh_db)
    assert code == 1  # the schema differs too (the downgrade leaves a trace)
    [finding] = found(report, "HC631")
    assert "drops column a.code holding 3 value(s) that existed before the upgrade (in a.code)" in finding["message"]


def test_base_fills_the_tables_before_the_changes_revisions_only(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    """main holds r1, which fails on rows (production has run it already, on its own data); the
    change adds r2: r1 runs unchecked on empty tables, rows come before r2, and r2's failure is
    the finding."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    project(repo, FAILS_WITH_ROWS["not-null-without-default"][:2])
    commit_all(repo, "main")
    git(repo, "checkout", "-q", "-b", "feature")
    up, back, _ = FAILS_WITH_ROWS["unique-over-repeats"]
    (repo / "alembic/versions/r2_x.py").write_text(revision_source("r2", "r1", up, back))
    commit_all(repo, "feature: r2")
    code, report = prove(capsys, repo, fresh_db, "--base", "main")
    assert code == 1
    assert [(f["code"], Path(f["path"]).name) for f in found(report, "HC630")] == [("HC630", "r2_x.py")]


def test_rows_that_cannot_be_made_are_said_not_silently_skipped(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: Callable[[], list[str]]
) -> None:
    """An env.py on an AUTOCOMMIT connection: headcheck's savepoints cannot run, so no rows are
    made. The proof goes on (the migrations are still proved) and the report says why rows stopped,
    in JSON and in text, instead of passing as if the rows had been there."""
    up, back, _ = FAILS_WITH_ROWS["not-null-without-default"]
    root = project(tmp_path / "p", (up, back))
    env = root / "alembic" / "env.py"
    source = env.read_text()
    assert "with engine.connect() as connection:" in source
    env.write_text(
        source.replace(
            "with engine.connect() as connection:",
            'with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:',
        )
    )
    code, report = prove(capsys, root, fresh_db)
    assert code == 0  # without rows the NOT NULL column passes, as on empty tables
    assert found(report, "HC630") == []
    notice = report["environments"][0]["database"]["rows_notice"]
    assert notice is not None
    assert notice.startswith("stopped at the upgrade of r1 (the proof went on without rows): ")
    assert "SAVEPOINT" in notice or "savepoint" in notice
    assert main(["db", str(root), *fresh_db(), "--no-squawk"]) == 0
    out = capsys.readouterr().out
    assert "  rows: stopped at the upgrade of r1 (the proof went on without rows): " in out

"""What production will feel (issue 11, items 2 and 3), on a real PostgreSQL: each revision's SQL at
the line of its ``op.*`` call, and the locks and rewrites it causes on tables that existed before."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headcheck.cli import main
from headcheck.db.server import Server, create_database
from headcheck.db.squawk import find_squawk
from tests.db.harness import EXAMPLES, database, needs_postgres, run_db, write_history

pytestmark = needs_postgres
CaptureFixture = pytest.CaptureFixture[str]
NewDb = Callable[[], list[str]]


@pytest.fixture
def new_db(server: Server) -> NewDb:
    """``--database-url URL`` of another new, empty database on the shared server, per call."""

    def make() -> list[str]:
        name = f"trace_{uuid.uuid4().hex[:12]}"
        create_database(server, name)
        return ["--database-url", server.url(name)]

    return make


BASE = """\
op.create_table(
    "users",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(200)),
    sa.Column("score", sa.Integer),
)
op.execute("INSERT INTO users (email, score) VALUES ('a@example.org', 1)")
op.create_table("teams", sa.Column("id", sa.Integer, primary_key=True))
"""


def project(tmp_path: Path, *revisions: tuple[str, str], env_py: str | None = None) -> Path:
    """examples/db/clean with its revisions replaced: the first creates users (one row) and teams,
    then one revision per (upgrade body, downgrade body)."""
    root = tmp_path / "proj"
    chain = [(BASE, 'op.drop_table("teams")\nop.drop_table("users")'), *revisions]
    revs = [
        (f"{n:04d}bbbbbbbb_r{n}.py", f"{n:04d}bbbbbbbb", f"revision {n}", up, back)
        for n, (up, back) in enumerate(chain)
    ]
    write_history(root, revs, env_py=env_py)
    return root


def findings(report: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    """(code, file name, line) of the HC6xx findings."""
    return sorted(
        (f["code"], Path(f["path"]).name, f["line"])
        for f in report["environments"][0]["findings"]
        if f["code"].startswith("HC6")
    )


def prove(capsys: CaptureFixture, root: Path, db: list[str], *more: str) -> tuple[int, dict[str, Any]]:
    code, report, err = run_db(capsys, str(root), *db, "--no-squawk", *more)
    assert report, err
    return code, report


def codes_at(report: dict[str, Any], line: int, name: str = "0001bbbbbbbb_r1.py") -> set[str]:
    return {code for code, file, at in findings(report) if file == name and at == line}


# the line of the first statement of upgrade() in a generated revision file
FIRST = 12


def test_sql_of_each_revision_is_captured_at_its_op_line(tmp_path: Path, capsys: CaptureFixture, new_db: NewDb) -> None:
    root = project(
        tmp_path,
        (
            'op.add_column("users", sa.Column("nick", sa.Text()))\nop.execute("UPDATE users SET nick = email")',
            'op.drop_column("users", "nick")',
        ),
    )
    code, report = prove(capsys, root, new_db())
    assert code == 0, report
    revisions = database(report)["revisions"]
    assert [r["revision"] for r in revisions] == ["0000bbbbbbbb", "0001bbbbbbbb"]
    second = revisions[1]
    assert second["file"].endswith("0001bbbbbbbb_r1.py")
    up = [(s["line"], s["sql"]) for s in second["upgrade"]]
    assert up == [(FIRST, "ALTER TABLE users ADD COLUMN nick TEXT"), (FIRST + 1, "UPDATE users SET nick = email")]
    assert all(s["seconds"] >= 0 for s in second["upgrade"])
    assert [(s["line"], s["sql"]) for s in second["downgrade"]] == [(FIRST + 5, "ALTER TABLE users DROP COLUMN nick")]
    # alembic_version bookkeeping is not the revision's SQL
    assert not any("alembic_version" in s["sql"] for r in revisions for s in r["upgrade"])
    # the observed lock, in the JSON
    assert {"relation": "public.users", "kind": "r", "mode": "AccessExclusiveLock"} in second["upgrade"][0]["locks"]

    assert main(["db", str(root), *new_db(), "--no-squawk", "--show-sql"]) == 0
    out = capsys.readouterr().out
    assert "SQL of 0001bbbbbbbb" in out
    assert "ALTER TABLE users ADD COLUMN nick TEXT" in out
    assert f"line {FIRST}" in out
    assert "ACCESS EXCLUSIVE on public.users" in out


def test_tables_created_by_the_same_revision_are_exempt(tmp_path: Path, capsys: CaptureFixture, new_db: NewDb) -> None:
    up = (
        'op.create_table("events", sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Text()))\n'
        'op.create_index("ix_events_kind", "events", ["kind"])\n'
        'op.add_column("events", sa.Column("at", sa.DateTime(), server_default=sa.text("now()")))\n'
        'op.alter_column("events", "kind", type_=sa.String(20))'
    )
    root = project(tmp_path, (up, 'op.drop_table("events")'))
    code, report = prove(capsys, root, new_db())
    assert code == 0
    assert [f for f in findings(report) if f[1] == "0001bbbbbbbb_r1.py"] == []


def test_create_index_on_an_existing_table_without_concurrently(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    root = project(
        tmp_path,
        (
            'op.create_index("ix_users_email", "users", ["email"])',
            'op.drop_index("ix_users_email", table_name="users")',
        ),
    )
    code, report = prove(capsys, root, new_db())
    assert code == 0  # warnings by default
    assert "HC603" in codes_at(report, FIRST)
    assert "HC601" not in codes_at(report, FIRST)  # the specific rule, not the generic one too
    found = [f for f in report["environments"][0]["findings"] if f["code"] == "HC603"]
    assert "public.users" in found[0]["message"]
    assert "SHARE lock" in found[0]["message"]
    assert found[0]["severity"] == "warning"


def test_strict_makes_the_observations_fail_the_gate(tmp_path: Path, capsys: CaptureFixture, new_db: NewDb) -> None:
    # raw SQL: the static twin (HC611, on which --strict fails before the proof) does not see it
    root = project(
        tmp_path,
        (
            'op.execute("CREATE INDEX ix_users_email ON users (email)")',
            'op.drop_index("ix_users_email", table_name="users")',
        ),
    )
    code, report = prove(capsys, root, new_db(), "--strict")
    assert code == 1
    assert report["ok"] is False
    assert "HC603" in codes_at(report, FIRST)


def test_concurrent_index_in_an_autocommit_block_is_fine(tmp_path: Path, capsys: CaptureFixture, new_db: NewDb) -> None:
    up = (
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)'
    )
    root = project(tmp_path, (up, 'op.drop_index("ix_users_email", table_name="users")'))
    code, report = prove(capsys, root, new_db())
    assert code == 0
    assert codes_at(report, FIRST + 1) == set()


def test_volatile_default_rewrites_but_a_constant_default_does_not(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    up = (
        'op.add_column("users", sa.Column("flag", sa.Integer, server_default="0"))\n'
        'op.add_column("users", sa.Column("token", sa.Float, server_default=sa.text("random()")))'
    )
    root = project(tmp_path, (up, 'op.drop_column("users", "token")\nop.drop_column("users", "flag")'))
    code, report = prove(capsys, root, new_db())
    assert code == 0
    assert "HC602" not in codes_at(report, FIRST)
    assert "HC601" in codes_at(report, FIRST)  # still ACCESS EXCLUSIVE, briefly
    assert "HC602" in codes_at(report, FIRST + 1)


def test_column_type_change_rewrites_the_table(tmp_path: Path, capsys: CaptureFixture, new_db: NewDb) -> None:
    root = project(
        tmp_path,
        (
            'op.alter_column("users", "score", type_=sa.BigInteger())',
            'op.alter_column("users", "score", type_=sa.Integer())',
        ),
    )
    _, report = prove(capsys, root, new_db())
    assert "HC602" in codes_at(report, FIRST)
    rewrites = database(report)["revisions"][1]["upgrade"][0]["rewrites"]
    assert {"relation": "public.users", "kind": "r"} in rewrites
    # a varchar made longer keeps the storage: no rewrite
    root2 = project(
        tmp_path / "b",
        (
            'op.alter_column("users", "email", type_=sa.String(400))',
            'op.alter_column("users", "email", type_=sa.String(200))',
        ),
    )
    _code, report = prove(capsys, root2, new_db())
    assert "HC602" not in codes_at(report, FIRST)


def test_foreign_key_validated_under_lock_but_not_valid_then_validate_is_fine(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    up = (
        'op.add_column("users", sa.Column("team_id", sa.Integer))\n'
        'op.create_foreign_key("fk_users_team", "users", "teams", ["team_id"], ["id"])\n'
        'op.execute("ALTER TABLE users ADD CONSTRAINT ck_score CHECK (score >= 0) NOT VALID")\n'
        'op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_score")'
    )
    back = 'op.drop_constraint("ck_score", "users")\nop.drop_constraint("fk_users_team", "users")\nop.drop_column("users", "team_id")'
    root = project(tmp_path, (up, back))
    _code, report = prove(capsys, root, new_db())
    assert "HC604" in codes_at(report, FIRST + 1)
    assert codes_at(report, FIRST + 2) - {"HC601"} == set()  # NOT VALID: no validation under lock
    assert codes_at(report, FIRST + 3) == set()  # VALIDATE takes SHARE UPDATE EXCLUSIVE only


def test_set_not_null_on_an_existing_table(tmp_path: Path, capsys: CaptureFixture, new_db: NewDb) -> None:
    root = project(
        tmp_path,
        ('op.alter_column("users", "email", nullable=False)', 'op.alter_column("users", "email", nullable=True)'),
    )
    _code, report = prove(capsys, root, new_db())
    assert "HC605" in codes_at(report, FIRST)


def test_set_not_null_proven_by_a_validated_check_is_not_a_scan(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    """The safe recipe over three revisions: CHECK (col IS NOT NULL) NOT VALID, VALIDATE, then SET
    NOT NULL, which PostgreSQL proves from the check without scanning. A check that is still NOT
    VALID, or one that proves something else, does not spare the scan."""
    add = (
        "op.execute('ALTER TABLE users ADD CONSTRAINT \"Ck Email\" CHECK (email IS NOT NULL) NOT VALID')",
        "op.execute('ALTER TABLE users DROP CONSTRAINT \"Ck Email\"')",
    )
    validate = ("op.execute('ALTER TABLE users VALIDATE CONSTRAINT \"Ck Email\"')", "pass")
    set_not_null = (
        'op.alter_column("users", "email", nullable=False)',
        'op.alter_column("users", "email", nullable=True)',
    )
    root = project(tmp_path, add, validate, set_not_null)
    _code, report = prove(capsys, root, new_db())
    assert codes_at(report, FIRST, "0003bbbbbbbb_r3.py") & {"HC605", "HC601"} == set()
    # the same without the VALIDATE revision: the check is NOT VALID, the scan happens
    root = project(tmp_path / "b", add, set_not_null)
    _code, report = prove(capsys, root, new_db())
    assert "HC605" in codes_at(report, FIRST, "0002bbbbbbbb_r2.py")
    # a validated check on another expression proves nothing about NULLs
    other = (
        'op.execute("ALTER TABLE users ADD CONSTRAINT ck_len CHECK (length(email) > 0)")',
        'op.drop_constraint("ck_len", "users")',
    )
    root = project(tmp_path / "c", other, set_not_null)
    _code, report = prove(capsys, root, new_db())
    assert "HC605" in codes_at(report, FIRST, "0002bbbbbbbb_r2.py")


LOCK_TIMEOUT_ENV = (
    (EXAMPLES / "clean" / "migrations" / "env.py")
    .read_text()
    .replace(
        "        context.configure(connection=connection)\n",
        "        connection.exec_driver_sql(\"SET lock_timeout = '3s'\")\n        context.configure(connection=connection)\n",
    )
)


def test_no_lock_timeout_is_reported_and_a_set_one_is_honoured(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    revision = ('op.add_column("users", sa.Column("nick", sa.Text()))', 'op.drop_column("users", "nick")')
    _, report = prove(capsys, project(tmp_path, revision), new_db())
    assert "HC606" in codes_at(report, FIRST)
    assert database(report)["revisions"][1]["upgrade"][0]["lock_timeout"] == "0"
    assert (EXAMPLES / "clean" / "migrations" / "env.py").read_text() != LOCK_TIMEOUT_ENV
    _code, report = prove(capsys, project(tmp_path / "b", revision, env_py=LOCK_TIMEOUT_ENV), new_db())
    assert "HC606" not in codes_at(report, FIRST)
    assert "HC601" in codes_at(report, FIRST)
    assert database(report)["revisions"][1]["upgrade"][0]["lock_timeout"] == "3s"


def test_lock_held_while_later_statements_and_revisions_run(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    root = project(
        tmp_path,
        (
            'op.add_column("users", sa.Column("nick", sa.Text()))\nop.execute("SELECT 1")',
            'op.drop_column("users", "nick")',
        ),
        ('op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("other")'),
    )
    _code, report = prove(capsys, root, new_db())
    assert "HC607" in codes_at(report, FIRST)
    [held] = [f for f in report["environments"][0]["findings"] if f["code"] == "HC607"]
    assert "2 later statement(s)" in held["message"]
    assert "0002bbbbbbbb" in held["message"]


def test_lock_released_by_transaction_per_migration_is_not_held(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    env_py = (
        (EXAMPLES / "clean" / "migrations" / "env.py")
        .read_text()
        .replace(
            "context.configure(connection=connection)",
            "context.configure(connection=connection, transaction_per_migration=True)",
        )
    )
    root = project(
        tmp_path,
        ('op.add_column("users", sa.Column("nick", sa.Text()))', 'op.drop_column("users", "nick")'),
        ('op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("other")'),
        env_py=env_py,
    )
    _code, report = prove(capsys, root, new_db())
    assert "HC601" in codes_at(report, FIRST)  # observed directly: the lock is taken by this revision
    assert "HC607" not in codes_at(report, FIRST)


def test_a_migration_that_discards_the_sessions_temporary_objects_is_still_observed(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    # DISCARD TEMP takes the kept functions away in the middle of a revision: the statements after it
    # are observed through functions made again (calling a missing one would abort the migration)
    root = project(
        tmp_path,
        (
            'op.execute("DISCARD TEMP")\nop.add_column("users", sa.Column("nick", sa.Text()))',
            'op.drop_column("users", "nick")',
        ),
    )
    code, report = prove(capsys, root, new_db(), "--stairway")
    assert code == 0, report
    assert "HC601" in codes_at(report, FIRST + 1)
    upgrade = database(report)["revisions"][1]["upgrade"]
    assert {"relation": "public.users", "kind": "r", "mode": "AccessExclusiveLock"} in upgrade[1]["locks"]


def test_ignore_comments_and_project_ignore(tmp_path: Path, capsys: CaptureFixture, new_db: NewDb) -> None:
    up = (
        'op.create_index("ix_users_email", "users", ["email"])  # headcheck: ignore[HC603]\n'
        'op.create_index("ix_users_score", "users", ["score"])'
    )
    back = 'op.drop_index("ix_users_score", table_name="users")\nop.drop_index("ix_users_email", table_name="users")'
    root = project(tmp_path, (up, back))
    _, report = prove(capsys, root, new_db())
    assert "HC603" not in codes_at(report, FIRST)
    assert "HC603" in codes_at(report, FIRST + 1)
    # a comment on its own line before the first def: the whole file
    path = next((root / "migrations" / "versions").glob("0001*.py"))
    path.write_text("# headcheck: ignore[HC603, HC606, HC607, HC611]\n" + path.read_text())
    _, report = prove(capsys, root, new_db())
    assert not {"HC603", "HC606", "HC607", "HC611"} & {c for c, f, _ in findings(report) if f == path.name}
    # per project
    (root / "pyproject.toml").write_text(
        '[tool.headcheck]\nignore = ["HC601", "HC602", "HC603", "HC604", "HC605", "HC606", "HC607", "HC611"]\n'
    )
    path.write_text(path.read_text().split("\n", 1)[1])
    _code, report = prove(capsys, root, new_db())
    assert findings(report) == []


needs_squawk = pytest.mark.skipif(find_squawk() is None, reason="squawk-cli not installed (the lint extra)")


@needs_squawk
def test_squawk_lints_the_captured_sql_at_the_op_line_once(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb
) -> None:
    up = (
        'op.create_index("ix_users_email", "users", ["email"])\n'
        'op.execute("ALTER TABLE users ADD CONSTRAINT uq_email UNIQUE (email)")'
    )
    back = 'op.drop_constraint("uq_email", "users")\nop.drop_index("ix_users_email", table_name="users")'
    root = project(tmp_path, (up, back))
    # (--no-rows: the generated rows repeat emails, so the UNIQUE would fail: HC630, not this test's point)
    code, report, err = run_db(capsys, str(root), *new_db(), "--no-rows")
    assert code == 0, err
    squawk = [(f["line"], f["message"]) for f in report["environments"][0]["findings"] if f["code"] == "HC620"]
    # squawk's own rule for the raw SQL, at the op.execute line, with squawk's help as the fix
    assert any(line == FIRST + 1 and "disallowed-unique-constraint" in message for line, message in squawk), squawk
    # the index build is the trace's HC603: squawk's require-concurrent-index-creation is not repeated
    assert "HC603" in codes_at(report, FIRST)
    assert not any("require-concurrent-index-creation" in message for line, message in squawk if line == FIRST)
    assert "squawk" not in err


def test_without_squawk_one_notice_and_no_error(
    tmp_path: Path, capsys: CaptureFixture, new_db: NewDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    import headcheck.db.squawk as squawk_module

    monkeypatch.setattr(squawk_module, "find_squawk", lambda: None)  # a machine without the lint extra
    monkeypatch.setattr(squawk_module, "_notified", False)
    root = project(
        tmp_path,
        (
            'op.create_index("ix_users_email", "users", ["email"])',
            'op.drop_index("ix_users_email", table_name="users")',
        ),
    )
    code, report, err = run_db(capsys, str(root), *new_db())
    assert code == 0
    assert report["ok"] is True
    assert err.count("squawk is not installed") == 1
    assert "headcheck[lint]" in err
    assert not any(f["code"] == "HC620" for f in report["environments"][0]["findings"])

"""The static twins of the lock rules (issue 11, item 5): HC611-HC613 in the static gate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from headcheck.cli import main
from headcheck.opslint import issues_in_source

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "db" / "clean"

HEADER = """import sqlalchemy as sa
from alembic import op

revision = "b1"
down_revision = "a1"
"""


def codes(body: str) -> list[tuple[str, int | None]]:
    return [(issue.code, issue.line) for issue in issues_in_source(HEADER + body)]


def line_of(body: str, text: str) -> int:
    return (HEADER + body).splitlines().index(text) + 1


def test_create_index_on_an_existing_table_without_concurrently() -> None:
    body = """
def upgrade():
    op.create_index("ix_users_email", "users", ["email"])


def downgrade():
    op.drop_index("ix_users_email", table_name="users")
"""
    assert codes(body) == [("HC611", line_of(body, '    op.create_index("ix_users_email", "users", ["email"])'))]


def test_create_index_on_a_table_the_revision_creates_is_fine() -> None:
    body = """
def upgrade():
    op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))
    op.create_index("ix_events_id", table_name="events", columns=["id"])


def downgrade():
    op.drop_table("events")
"""
    assert codes(body) == []


def test_concurrently_must_be_inside_an_autocommit_block() -> None:
    inside = """
def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("ix", "users", ["email"], postgresql_concurrently=True)
        op.execute("DROP INDEX CONCURRENTLY old_ix")


def downgrade():
    op.drop_index("ix", table_name="users")
"""
    assert codes(inside) == []
    outside = """
def upgrade():
    op.create_index("ix", "users", ["email"], postgresql_concurrently=True)
    op.execute(sa.text("CREATE UNIQUE INDEX CONCURRENTLY ux ON users (email)"))


def downgrade():
    op.drop_index("ix", table_name="users")
"""
    assert [code for code, _ in codes(outside)] == ["HC612", "HC612"]


def test_downgrade_that_only_passes() -> None:
    body = """
def upgrade():
    op.add_column("users", sa.Column("nick", sa.Text()))


def downgrade():
    # nothing
    pass
"""
    assert codes(body) == [("HC613", line_of(body, "def downgrade():"))]
    irreversible = body.replace("    # nothing\n    pass", '    raise NotImplementedError("irreversible")')
    assert codes(irreversible) == []
    merge = "\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    assert codes(merge) == []  # a merge revision changes nothing


def test_ignore_comments() -> None:
    body = """
def upgrade():
    op.create_index("ix_users_email", "users", ["email"])  # headcheck: ignore[HC611]


def downgrade():
    pass
"""
    assert codes(body) == [("HC613", line_of(body, "def downgrade():"))]
    assert codes("# headcheck: ignore[HC613, HC611]\n" + body) == []


def test_the_gate_reports_them_as_warnings_without_changing_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    shutil.copytree(EXAMPLE, project)
    assert main(["check", str(project), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    found = [(f["code"], f["severity"], Path(f["path"]).name, f["line"]) for f in report["environments"][0]["findings"]]
    assert found == [("HC611", "warning", "b2c3d4e5f6a7_add_users_name.py", 21)]
    assert report["ok"] is True
    assert main(["check", str(project), "--strict", "--format", "json"]) == 1  # --strict: warnings fail
    capsys.readouterr()
    (project / "pyproject.toml").write_text('[tool.headcheck]\nignore = ["HC611"]\n')
    assert main(["check", str(project), "--strict"]) == 0


@pytest.mark.parametrize(
    ("url", "reported"),
    [
        ("postgresql+psycopg://localhost/example", True),
        ("%(DATABASE_URL)s", True),  # unknown: could be PostgreSQL
        ("mysql+pymysql://app@localhost/example", False),
        ("sqlite:///app.db", False),
    ],
)
def test_postgresql_only_rules_follow_the_configured_database(
    url: str, reported: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """HC611/HC612 are about PostgreSQL's CONCURRENTLY: a project whose sqlalchemy.url names MySQL
    or SQLite does not get them; HC613 (empty downgrade) holds on every database."""
    project = tmp_path / "p"
    shutil.copytree(EXAMPLE, project)
    ini = project / "alembic.ini"
    text = ini.read_text()
    assert "sqlalchemy.url = postgresql+psycopg://localhost/example\n" in text
    ini.write_text(text.replace("postgresql+psycopg://localhost/example", url))
    (project / "migrations" / "versions" / "ffff00000001_empty_down.py").write_text(
        HEADER.replace('"b1"', '"ffff00000001"').replace('"a1"', '"b2c3d4e5f6a7"')
        + '\n\ndef upgrade():\n    op.add_column("users", sa.Column("x", sa.Integer))\n\n\ndef downgrade():\n    pass\n'
    )
    main(["check", str(project), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    codes = {f["code"] for f in report["environments"][0]["findings"]}
    assert ("HC611" in codes) is reported
    assert "HC613" in codes


INDEX_SHAPES = [
    'op.create_index(op.f("ix_{t}_name"), "{t}", ["name"], unique=False)',
    'op.create_index("ix_{t}", "{t}", ["name"])',
    'op.create_index("ix_{t}", table_name="{t}", columns=["name"])',
    'op.create_index(op.f("ix_{t}_name"), "{t}", ["name"], postgresql_concurrently=True)',
    'batch_op.create_index("ix_{t}", ["name"])',
]
TABLE_SHAPES = ['op.create_table("{t}", sa.Column("id", sa.Integer()))', "pass", 'op.create_table(table_name="{t}")']


@pytest.mark.parametrize("index", INDEX_SHAPES)
@pytest.mark.parametrize("table", TABLE_SHAPES)
@pytest.mark.parametrize("same", [True, False])
@pytest.mark.parametrize("where", ["upgrade", "downgrade"])
def test_the_byte_prefilter_never_hides_what_the_syntax_tree_finds(
    index: str, table: str, same: bool, where: str
) -> None:
    """Most files are decided without a parse (issues_in_bytes); that shortcut must be exact."""
    from headcheck.opslint import issues_in_bytes

    created = table.format(t="users")
    indexed = index.format(t="users" if same else "orders")
    upgrade = f"    {created}\n    {indexed}" if where == "upgrade" else f"    {created}"
    downgrade = f"    {indexed}\n    op.drop_table('users')" if where == "downgrade" else "    op.drop_table('users')"
    source = HEADER + f"\n\ndef upgrade():\n{upgrade}\n\n\ndef downgrade():\n{downgrade}\n"
    assert issues_in_bytes(source.encode(), None) == issues_in_source(source)


def test_autogenerated_revisions_are_decided_without_a_parse() -> None:
    """The usual autogenerate output (indexes on the tables the same function creates) needs no parse."""
    from headcheck.opslint import _index_needs_a_look

    autogenerated = (
        HEADER
        + """

def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer()), sa.Column("name", sa.String(100)))
    op.create_index(op.f("ix_users_name"), "users", ["name"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_users_name"), table_name="users")
    op.drop_table("users")
"""
    )
    assert _index_needs_a_look(autogenerated.encode()) is False
    assert _index_needs_a_look(autogenerated.replace('"users", ["name"]', '"orders", ["name"]').encode()) is True

"""Issue 12.4: models vs migrations, by catalog (HC640-HC642), on real PostgreSQL.

Each project is made by ``alembic init -t generic``, with a real ``models.py`` that env.py hands to
``context.configure(target_metadata=...)``; headcheck creates the models with
``metadata.create_all`` in a second database and compares what PostgreSQL made of both.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import psycopg
import pytest

from headcheck.cli import main
from headcheck.db.server import Server, create_database
from tests.db.harness import database, needs_postgres, revision_source, run_db
from tests.project import alembic_generate

pytestmark = needs_postgres
CaptureFixture = pytest.CaptureFixture[str]
REV = "aaaa00000001"
DRIFT = ("HC640", "HC641", "HC642")


def project(
    root: Path,
    models: str,
    upgrade: str,
    *,
    metadata: str | None = "models.Base.metadata",
    pyproject: str = "",
    template: str = "generic",
) -> Path:
    """``alembic init -t TEMPLATE migrations`` with ``models.py``, env.py's target_metadata pointing at
    ``metadata`` (None: the template's ``target_metadata = None``), one revision running ``upgrade``."""
    alembic_generate(root, template)
    env = root / "migrations" / "env.py"
    if metadata is not None:
        text, found = re.subn(
            r"^target_metadata = (None|\{\})$",
            f"import models\ntarget_metadata = {metadata}",
            env.read_text(),
            count=1,
            flags=re.M,
        )
        assert found == 1  # the template's own line
        env.write_text(text)
    (root / "models.py").write_text(textwrap.dedent(models).lstrip())
    upgrade = textwrap.dedent(upgrade).strip()
    (root / "migrations" / "versions" / f"{REV}_init.py").write_text(revision_source(REV, None, upgrade, "pass"))
    if pyproject:
        (root / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    return root


def prove(capsys: CaptureFixture, root: Path, db: list[str], *extra: str) -> tuple[int, dict[str, object]]:
    # the only revision is declared irreversible: these tests are about the state at the heads
    code, report, err = run_db(capsys, str(root), *db, "--irreversible", REV, *extra)
    assert report, err
    return code, report


def drift(report: dict[str, object]) -> list[tuple[str, str, str | None, int | None]]:
    """(code, message, file name, line) of every model finding."""
    findings = report["environments"][0]["findings"]  # type: ignore[index]
    return sorted(
        (f["code"], f["message"], Path(f["path"]).name if f["path"] else None, f["line"])
        for f in findings
        if f["code"] in DRIFT
    )


def line_of(root: Path, needle: str) -> int:
    lines = (root / "models.py").read_text().splitlines()
    [found] = [k + 1 for k, text in enumerate(lines) if needle in text]
    return found


HEADER = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass
"""

MODELS_AHEAD = (
    HEADER
    + """

MOOD = sa.Enum("happy", "sad", "meh", name="mood")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("age >= 0", name="ck_users_age"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.Index("ix_users_age", "age"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(200))
    age: Mapped[int] = mapped_column(server_default="0")
    feeling = mapped_column(MOOD)
    nickname: Mapped[str | None] = mapped_column(sa.Text)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
"""
)

MIGRATION_BEHIND = """
op.create_table(
    "users",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("age", sa.Integer, nullable=False),
    sa.Column("feeling", sa.Enum("happy", "sad", name="mood")),
)
"""


def test_every_kind_in_the_models_only_is_reported_at_the_models_line(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str], server: Server
) -> None:
    root = project(tmp_path / "p", MODELS_AHEAD, MIGRATION_BEHIND)
    code, report = prove(capsys, root, fresh_db)
    assert code == 1
    user = line_of(root, "class User")
    assert drift(report) == sorted(
        [
            ("HC640", "models declare table tags that no migration creates", "models.py", line_of(root, "class Tag")),
            (
                "HC640",
                "models declare column users.nickname (text) that no migration creates",
                "models.py",
                line_of(root, "nickname:"),
            ),
            (
                "HC640",
                "models declare default 0 on users.age that no migration creates",
                "models.py",
                line_of(root, "age:"),
            ),
            (
                "HC640",
                "models declare check constraint ck_users_age on users (CHECK ((age >= 0))) that no migration creates",
                "models.py",
                user,
            ),
            (
                "HC640",
                "models declare unique constraint uq_users_email on users (UNIQUE (email)) that no migration creates",
                "models.py",
                user,
            ),
            (
                "HC640",
                "models declare index ix_users_age on users (btree (age)) that no migration creates",
                "models.py",
                user,
            ),
            ("HC640", "models declare value 'meh' of enum type mood that no migration creates", "models.py", user),
        ]
    )
    models = database(report)["models"]
    assert models["compared"] is True
    assert models["notice"] is None
    assert models["differences"] == 7
    # the second database is gone again (a --database-url server keeps nothing of the proof)
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
        assert conn.execute("SELECT datname FROM pg_database WHERE datname LIKE '%\\_models'").fetchall() == []


MODELS_BEHIND = (
    HEADER
    + """

class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(200))
    age: Mapped[int]
    feeling = mapped_column(sa.Enum("happy", "sad", name="mood"))
"""
)

MIGRATION_AHEAD = """
op.create_table(
    "users",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("age", sa.Integer, nullable=False, server_default=sa.text("18")),
    sa.Column("feeling", sa.Enum("happy", "sad", "angry", name="mood")),
    sa.Column("legacy", sa.Integer),
    sa.CheckConstraint("age < 200", name="ck_users_age"),
    sa.UniqueConstraint("email", name="uq_users_email"),
)
op.create_index("ix_users_age", "users", ["age"])
op.create_table("audit_log", sa.Column("id", sa.Integer, primary_key=True))
"""


def test_every_kind_in_the_migrations_only_is_reported(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    root = project(tmp_path / "p", MODELS_BEHIND, MIGRATION_AHEAD)
    code, report = prove(capsys, root, fresh_db)
    assert code == 1
    user = line_of(root, "class User")
    assert drift(report) == sorted(
        [
            ("HC641", "migrations create table audit_log that no model declares", None, None),  # no model to point at
            (
                "HC641",
                "migrations create column users.legacy (integer) that no model declares",
                "models.py",
                user,
            ),
            (
                "HC641",
                "migrations create default 18 on users.age that no model declares",
                "models.py",
                line_of(root, "age:"),
            ),
            (
                "HC641",
                "migrations create check constraint ck_users_age on users (CHECK ((age < 200))) that no model declares",
                "models.py",
                user,
            ),
            (
                "HC641",
                "migrations create unique constraint uq_users_email on users (UNIQUE (email)) that no model declares",
                "models.py",
                user,
            ),
            (
                "HC641",
                "migrations create index ix_users_age on users (btree (age)) that no model declares",
                "models.py",
                user,
            ),
            ("HC641", "migrations create value 'angry' of enum type mood that no model declares", "models.py", user),
        ]
    )


def test_same_object_defined_differently_is_one_finding(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    models = (
        HEADER
        + """

class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]
    note: Mapped[str | None] = mapped_column(sa.String(50))
    status: Mapped[str] = mapped_column(sa.Text, server_default="new")
    priority = mapped_column(sa.Enum("low", "high", name="priority"))
"""
    )
    upgrade = """
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("qty", sa.BigInteger, nullable=False),
        sa.Column("note", sa.String(50), nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="draft"),
        sa.Column("priority", sa.Enum("high", "low", name="priority")),
    )
    """
    root = project(tmp_path / "p", models, upgrade)
    code, report = prove(capsys, root, fresh_db)
    assert code == 1
    assert drift(report) == sorted(
        [
            (
                "HC642",
                "column items.qty is integer NOT NULL in the models but bigint NOT NULL after the migrations",
                "models.py",
                line_of(root, "qty:"),
            ),
            (
                "HC642",
                "column items.note is character varying(50) in the models but character varying(50) NOT NULL after "
                "the migrations",
                "models.py",
                line_of(root, "note:"),
            ),
            (
                "HC642",
                "default of items.status is 'new'::text in the models but 'draft'::text after the migrations",
                "models.py",
                line_of(root, "status:"),
            ),
            (
                "HC642",
                "enum type priority orders its values low, high in the models but high, low after the migrations "
                "(comparisons and ORDER BY follow it)",
                "models.py",
                line_of(root, "class Item"),
            ),
        ]
    )


# What autogenerate (``alembic check``) is known to report although the schemas are the same: each
# case is a model and a migration that PostgreSQL turns into the same schema, written differently.
SAME_SCHEMA = {
    "server-defaults": (
        HEADER
        + """

class T(Base):
    __tablename__ = "t"

    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(server_default="0")
    flag: Mapped[bool] = mapped_column(server_default=sa.false())
    label: Mapped[str] = mapped_column(sa.String(20), server_default="new")
    created = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    stamped = mapped_column(sa.DateTime, server_default=sa.text("(now() at time zone 'utc')"))
""",
        """
        op.create_table(
            "t",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("n", sa.Integer, nullable=False, server_default=sa.text("0")),
            sa.Column("flag", sa.Boolean, nullable=False, server_default=sa.text("false")),
            sa.Column("label", sa.String(20), nullable=False, server_default=sa.text("'new'::character varying")),
            sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP")),
            sa.Column("stamped", sa.DateTime, server_default=sa.text("timezone('utc', now())")),
        )
        """,
    ),
    "enum-types": (
        HEADER
        + """
import enum


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


class T(Base):
    __tablename__ = "t"

    id: Mapped[int] = mapped_column(primary_key=True)
    color = mapped_column(sa.Enum(Color, name="color"))
    kind = mapped_column(sa.Enum("a", "b", name="kind", native_enum=False, create_constraint=True))
""",
        """
        from sqlalchemy.dialects import postgresql

        op.execute("CREATE TYPE color AS ENUM ('RED', 'GREEN')")
        op.create_table(
            "t",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("color", postgresql.ENUM("RED", "GREEN", name="color", create_type=False)),
            sa.Column("kind", sa.String(1)),
            sa.CheckConstraint("kind in ('a','b')", name="t_kind_values"),
        )
        """,
    ),
    "sequences": (
        HEADER
        + """

class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)


class Ledger(Base):
    __tablename__ = "ledgers"

    id = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
"""
        + "\n\nextra = sa.Sequence('invoice_no', metadata=Base.metadata)\n",
        """
        op.create_table("users_old", sa.Column("id", sa.Integer, primary_key=True))
        op.rename_table("users_old", "accounts")  # the serial sequence keeps its name: users_old_id_seq
        op.create_table("books", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True))
        op.rename_table("books", "ledgers")
        op.execute("CREATE SEQUENCE invoice_no")
        """,
    ),
    "check-expressions": (
        HEADER
        + """

class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        sa.CheckConstraint("price > 0 AND price < 1000", name="price_range"),
        sa.CheckConstraint("status IN ('a', 'b')", name="status_values"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    price: Mapped[int]
    status: Mapped[str] = mapped_column(sa.Text)
""",
        """
        op.create_table(
            "products",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("price", sa.Integer, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.CheckConstraint("(price>0) and (price<1000)", name="price_range"),
            sa.CheckConstraint("status in ('a','b')", name="status_values"),
        )
        """,
    ),
    "naming-conventions": (
        """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("age >= 0", name="age"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.Text, unique=True)
    age: Mapped[int]


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
""",
        # a schema from before the convention: PostgreSQL's own names (users_pkey, users_email_key, ...)
        """
        op.execute("CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, age integer NOT NULL CHECK (age >= 0))")
        op.execute("CREATE TABLE posts (id serial PRIMARY KEY, user_id integer NOT NULL REFERENCES users (id))")
        op.execute("CREATE INDEX posts_user_idx ON posts (user_id)")
        """,
    ),
    "unique-index-for-unique-constraint": (
        HEADER
        + """

class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.Text, unique=True)
""",
        """
        op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.Text, nullable=False))
        op.create_index("ix_users_email", "users", ["email"], unique=True)
        """,
    ),
}


@pytest.mark.parametrize("case", sorted(SAME_SCHEMA))
def test_the_same_schema_written_differently_is_not_reported(
    case: str, tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    models, upgrade = SAME_SCHEMA[case]
    root = project(tmp_path / "p", models, upgrade)
    code, report = prove(capsys, root, fresh_db)
    assert drift(report) == []
    section = database(report)["models"]
    assert isinstance(section, dict)
    assert (section["compared"], section["notice"], section["differences"]) == (True, None, 0)
    assert code == 0


def test_no_models_turns_the_comparison_off(tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]) -> None:
    root = project(tmp_path / "p", MODELS_BEHIND, MIGRATION_AHEAD)
    code, report = prove(capsys, root, fresh_db, "--no-models")
    assert code == 0
    assert drift(report) == []
    assert database(report)["models"] is None


def test_env_py_without_target_metadata_is_one_notice(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str], server: Server
) -> None:
    root = project(tmp_path / "p", MODELS_BEHIND, MIGRATION_AHEAD, metadata=None)  # the template as generated
    code, report = prove(capsys, root, fresh_db)
    assert code == 0
    assert drift(report) == []
    notice = "env.py passes no target_metadata to context.configure()"
    assert database(report)["models"]["notice"] == notice
    create_database(server, "t_notice_text")
    assert main(["db", str(root), "--database-url", server.url("t_notice_text"), "--irreversible", REV]) == 0
    out = capsys.readouterr().out
    assert out.count(notice) == 1
    assert f"models: not compared: {notice}" in out


def test_models_ignore_leaves_out_what_the_models_do_not_own(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    upgrade = (
        MIGRATION_AHEAD
        + """
op.execute("CREATE SCHEMA audit")
op.create_table("trail", sa.Column("id", sa.Integer, primary_key=True), schema="audit")
op.create_table("audit_extra", sa.Column("id", sa.Integer, primary_key=True))
"""
    )
    pyproject = """
    [tool.headcheck]
    models-ignore = ["audit_*", "audit.trail", "users"]
    """
    root = project(tmp_path / "p", MODELS_BEHIND, upgrade, pyproject=pyproject)
    code, report = prove(capsys, root, fresh_db)
    # users (every difference on it), audit_log, audit_extra and audit.trail are the ignored ones; the
    # enum type mood is not a table of theirs
    assert drift(report) == [
        (
            "HC641",
            "migrations create value 'angry' of enum type mood that no model declares",
            "models.py",
            line_of(root, "class User"),
        )
    ]
    assert code == 1


def test_no_comparison_when_the_upgrade_failed(tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]) -> None:
    root = project(tmp_path / "p", MODELS_AHEAD, MIGRATION_BEHIND + '\nop.execute("SELECT * FROM nowhere")\n')
    code, report = prove(capsys, root, fresh_db)
    assert code == 1
    assert drift(report) == []
    assert database(report)["models"]["compared"] is False
    assert database(report)["models"]["notice"] == "the migrations did not reach the heads"


def test_models_may_use_what_the_migrations_install(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    """A column type from an extension and a table in a schema of its own: created in the models'
    database too (create_all is tried again after the migrations installed the extension)."""
    models = (
        HEADER
        + """
from sqlalchemy.dialects.postgresql import CITEXT


class Login(Base):
    __tablename__ = "logins"
    __table_args__ = {"schema": "app"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name = mapped_column(CITEXT, nullable=False)
"""
    )
    upgrade = """
    op.execute("CREATE EXTENSION citext")
    op.execute("CREATE SCHEMA app")
    op.create_table(
        "logins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.dialects.postgresql.CITEXT, nullable=False),
        schema="app",
    )
    """
    root = project(tmp_path / "p", models, upgrade)
    code, report = prove(capsys, root, fresh_db)
    section = database(report)["models"]
    assert isinstance(section, dict)
    assert (section["compared"], section["notice"], section["differences"]) == (True, None, 0)
    assert drift(report) == []
    assert code == 0


def test_async_env_py_models_are_compared(tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]) -> None:
    """``alembic init -t async``: configure() runs inside run_sync; the models go through psycopg."""
    root = project(tmp_path / "p", MODELS_AHEAD, MIGRATION_BEHIND, template="async")
    ini = root / "alembic.ini"
    ini.write_text(
        ini.read_text().replace("driver://user:pass@localhost/dbname", "postgresql+asyncpg://app@db.invalid/app")
    )
    code, report = prove(capsys, root, fresh_db)
    assert code == 1
    found = drift(report)
    assert [code for code, *_ in found] == ["HC640"] * 7  # as with the generic template
    assert (
        "HC640",
        "models declare table tags that no migration creates",
        "models.py",
        line_of(root, "class Tag"),
    ) in found


def test_env_py_include_name_and_include_object_are_honoured(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    """The hooks autogenerate honours: a table env.py leaves out of autogenerate is not compared."""
    root = project(tmp_path / "p", MODELS_BEHIND, MIGRATION_AHEAD)
    env = root / "migrations" / "env.py"
    hooks = (
        "connection=connection, target_metadata=target_metadata, "
        "include_name=lambda name, type_, parents: name != 'audit_log', "
        "include_object=lambda obj, name, type_, reflected, compare_to: name != 'users'"
    )
    text = env.read_text()
    assert "connection=connection, target_metadata=target_metadata" in text
    env.write_text(text.replace("connection=connection, target_metadata=target_metadata", hooks))
    code, report = prove(capsys, root, fresh_db)
    assert [message for _, message, *_ in drift(report)] == [
        "migrations create value 'angry' of enum type mood that no model declares"
    ]
    assert code == 1


def test_models_ignore_must_be_a_list_of_names(tmp_path: Path, capsys: CaptureFixture) -> None:
    root = project(
        tmp_path / "p", MODELS_BEHIND, MIGRATION_AHEAD, pyproject='[tool.headcheck]\nmodels-ignore = "users"\n'
    )
    assert main(["db", str(root)]) == 2
    err = capsys.readouterr().err
    assert "models-ignore must be a list of table names" in err
    assert len(err.strip().splitlines()) == 1


def test_after_a_failed_downgrade_check_the_heads_are_reached_again(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    """The plan stops below the heads when a downgrade check fails: the models are compared after
    upgrading to the heads again, and a notice says so when that upgrade cannot run."""
    root = project(
        tmp_path / "p", MODELS_AHEAD, MIGRATION_BEHIND + '\nop.add_column("users", sa.Column("x", sa.Integer))\n'
    )
    second = revision_source(
        "bbbb00000002",
        REV,
        'op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("tags")\nop.add_column("users", sa.Column("y", sa.Integer))',
    )
    (root / "migrations" / "versions" / "bbbb00000002_tags.py").write_text(second)
    code, report = prove(capsys, root, fresh_db)
    assert code == 1
    assert ("downgrade", "bbbb00000002", False) in [
        (s["name"], s["revision"], s["ok"]) for s in database(report)["steps"]
    ]
    # back at the heads (bbbb00000002 upgraded again over the trace its downgrade left): compared
    messages = [message for _, message, *_ in drift(report)]
    assert "migrations create column users.x (integer) that no model declares" in messages
    assert "models declare table tags that no migration creates" not in messages


def test_stairway_compares_the_models_too(tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]) -> None:
    root = project(tmp_path / "p", MODELS_AHEAD, MIGRATION_BEHIND)
    code, report = prove(capsys, root, fresh_db, "--stairway")
    assert code == 1
    assert [code for code, *_ in drift(report)] == ["HC640"] * 7


def test_a_target_metadata_without_tables_is_one_notice(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    """``target_metadata = MetaData()`` (or a Flask app before its first model) is a placeholder,
    not a claim that the database has no tables."""
    root = project(tmp_path / "p", HEADER, MIGRATION_AHEAD)
    code, report = prove(capsys, root, fresh_db)
    assert code == 0
    assert drift(report) == []
    notice = database(report)["models"]["notice"]
    assert notice == "the target_metadata env.py passes declares no tables"


MULTIDB_REVISION = '''"""a table in each database"""
import sqlalchemy as sa
from alembic import op

revision = "aaaa00000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_engine1():
    op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_engine1():
    op.drop_table("a")


def upgrade_engine2():
    op.create_table("b", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_engine2():
    op.drop_table("b")
'''


def test_several_databases_with_their_own_metadata_are_one_notice(tmp_path: Path, capsys: CaptureFixture) -> None:
    """``alembic init -t multidb``: one target_metadata per database; compared with the one
    database the proof reads, each would be reported as missing the other's tables."""
    models = """
    import sqlalchemy as sa

    one, two = sa.MetaData(), sa.MetaData()
    sa.Table("a", one, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("b", two, sa.Column("id", sa.Integer, primary_key=True))
    """
    root = project(
        tmp_path / "p", models, "pass", metadata='{"engine1": models.one, "engine2": models.two}', template="multidb"
    )
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/", "postgresql://app@db.invalid/"))
    (root / "migrations" / "versions" / f"{REV}_init.py").write_text(MULTIDB_REVISION)
    # a throwaway server: each database of the project gets its own (on --database-url they share
    # one, and the two engines' transactions wait on each other's alembic_version)
    code, report = prove(capsys, root, [], "--timeout", "60")
    assert code == 0
    assert drift(report) == []
    notice = database(report)["models"]["notice"]
    assert notice.startswith("env.py passes different target_metadata for different databases")

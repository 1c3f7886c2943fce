"""Incremental snapshots (headcheck.db.snapshot.Session) on a real server: after every step of nasty
DDL, the snapshot that re-describes only what the DDL log says changed equals a full one.

The scoping is what can go wrong: a view that shows a renamed column of another table, a foreign
key naming a renamed table, a column of a renamed type or of another table's row type, a default
calling a renamed sequence, partitions getting a parent's new column, a rollback to a savepoint
taken before the last snapshot. ``test_a_broken_scoping_is_caught`` shows the comparison notices
when the dependencies are not followed.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from headcheck.db import snapshot
from headcheck.db.server import Server, create_database
from headcheck.db.snapshot import Session, diff, diff_lines, take
from tests.db.harness import database, failed, needs_postgres, revision_source, run_db, write_history

pytestmark = needs_postgres

# (label, statements); "autocommit:" runs the statement outside the transaction (as Alembic's
# autocommit_block does: the transaction is committed first)
STEPS: list[tuple[str, list[str]]] = [
    (
        "a table, an index, a serial",
        [
            "CREATE TABLE parent (id serial PRIMARY KEY, name varchar(50) NOT NULL, code int DEFAULT 0)",
            "CREATE INDEX ix_parent_name ON parent (name)",
        ],
    ),
    (
        "a table with a foreign key, a view on a column",
        [
            "CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent (id), note text)",
            "CREATE VIEW v_names AS SELECT name FROM parent",
            "CREATE VIEW v_more AS SELECT name FROM v_names",
        ],
    ),
    ("nothing", []),
    (
        "rename a column a view and a foreign key reference",
        [
            "ALTER TABLE parent RENAME COLUMN name TO title",
            "ALTER TABLE parent RENAME COLUMN id TO pid",
        ],
    ),
    ("rename the table they reference", ["ALTER TABLE parent RENAME TO parents"]),
    (
        "a type, a domain, a composite, used by columns",
        [
            "CREATE TYPE mood AS ENUM ('calm', 'angry')",
            "CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
            "CREATE TYPE pair AS (a int, b mood)",
            "ALTER TABLE child ADD COLUMN m mood, ADD COLUMN ms mood[], ADD COLUMN p positive, ADD COLUMN pr pair",
        ],
    ),
    (
        "rename the type, its domain base, the composite",
        [
            "ALTER TYPE mood RENAME TO feeling",
            "ALTER DOMAIN positive RENAME TO above_zero",
            "ALTER TYPE pair RENAME ATTRIBUTE a TO first",
        ],
    ),
    ("enum ADD VALUE", ["ALTER TYPE feeling ADD VALUE 'sad'"]),
    ("a domain constraint", ["ALTER DOMAIN above_zero ADD CONSTRAINT small CHECK (VALUE < 1000)"]),
    ("rename a sequence a default calls", ["ALTER SEQUENCE parent_id_seq RENAME TO parent_seq"]),
    (
        "alter a default",
        [
            "ALTER TABLE parents ALTER COLUMN code SET DEFAULT 7",
            "ALTER TABLE child ALTER COLUMN note SET DEFAULT 'x'",
        ],
    ),
    ("drop a default", ["ALTER TABLE parents ALTER COLUMN code DROP DEFAULT"]),
    (
        "a column of another table's row type, a function returning the table",
        [
            "CREATE TABLE holder (id int, snap parents, snaps parents[])",
            "CREATE FUNCTION all_parents() RETURNS SETOF parents LANGUAGE sql AS 'SELECT * FROM parents'",
        ],
    ),
    ("rename the table whose row type they use", ["ALTER TABLE parents RENAME TO people"]),
    (
        "a schema, moving a table into it",
        [
            "CREATE SCHEMA extra",
            "ALTER TABLE holder SET SCHEMA extra",
        ],
    ),
    ("rename the schema", ["ALTER SCHEMA extra RENAME TO more"]),
    (
        "a DO block doing DDL",
        [
            "DO $$ BEGIN EXECUTE 'CREATE TABLE made_in_do (id int)'; "
            "EXECUTE 'ALTER TABLE child ADD COLUMN from_do int'; END $$",
        ],
    ),
    (
        "CREATE INDEX CONCURRENTLY outside the transaction",
        [
            "autocommit:CREATE INDEX CONCURRENTLY ix_child_note ON child (note)",
        ],
    ),
    ("another index, concurrently", ["autocommit:CREATE INDEX CONCURRENTLY ix_child_id ON child (id)"]),
    (
        "DROP INDEX CONCURRENTLY (it must come first in its transaction)",
        [
            "autocommit:DROP INDEX CONCURRENTLY ix_child_id",
        ],
    ),
    (
        "a domain constraint calling a function",
        [
            "CREATE FUNCTION small(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 < 100'",
            "ALTER DOMAIN above_zero ADD CONSTRAINT is_small CHECK (small(VALUE))",
            "CREATE INDEX ix_child_small ON child (small(p))",
        ],
    ),
    ("the function dropped with CASCADE: the constraint and the index go", ["DROP FUNCTION small(int) CASCADE"]),
    (
        "drop an index, drop and recreate a table",
        [
            "DROP INDEX ix_child_note",
            "DROP TABLE made_in_do",
            "CREATE TABLE made_in_do (id bigint, other text)",
        ],
    ),
    (
        "a partitioned table, two levels",
        [
            "CREATE TABLE events (id int NOT NULL, at date NOT NULL, kind text) PARTITION BY RANGE (at)",
            "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
            " PARTITION BY LIST (kind)",
            "CREATE TABLE events_2026_a PARTITION OF events_2026 FOR VALUES IN ('a')",
            "CREATE INDEX ix_events_at ON events (at)",
        ],
    ),
    (
        "a column and a constraint on the partitioned parent",
        [
            "ALTER TABLE events ADD COLUMN payload text DEFAULT 'none'",
            "ALTER TABLE events ADD CONSTRAINT events_kind CHECK (kind <> '')",
            "ALTER TABLE events RENAME COLUMN kind TO category",
        ],
    ),
    ("detach a partition", ["ALTER TABLE events_2026 DETACH PARTITION events_2026_a"]),
    (
        "a trigger and its function",
        [
            "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
            "CREATE TRIGGER child_stamp BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION stamp()",
        ],
    ),
    (
        "the function's body changes, then its name",
        [
            "CREATE OR REPLACE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.note := 1; RETURN NEW; END'",
            "ALTER FUNCTION stamp() RENAME TO stamp_row",
        ],
    ),
    ("drop the function with its trigger", ["DROP FUNCTION stamp_row() CASCADE"]),
    ("comments", ["COMMENT ON TABLE child IS 'kids'", "COMMENT ON COLUMN child.note IS 'n'"]),
    (
        "a statement that fails inside a savepoint",
        [
            "SAVEPOINT s1",
            "CREATE TABLE doomed (id int)",
            "ALTER TABLE child ADD COLUMN doomed int",
            "failing:ALTER TABLE child ADD COLUMN note text",
            "ROLLBACK TO SAVEPOINT s1",
            "ALTER TABLE child ADD COLUMN survived int",
        ],
    ),
    (
        "constraints: add, rename, drop",
        [
            "ALTER TABLE child ADD CONSTRAINT child_note_len CHECK (length(note) < 100)",
            "ALTER TABLE child RENAME CONSTRAINT child_note_len TO note_len",
            "ALTER TABLE child DROP CONSTRAINT child_parent_id_fkey",
        ],
    ),
    (
        "an identity column, a column type change",
        [
            "ALTER TABLE made_in_do ADD COLUMN n int GENERATED ALWAYS AS IDENTITY",
            "ALTER TABLE made_in_do ALTER COLUMN n TYPE bigint",
        ],
    ),
    ("drop the table a view and a row type depend on", ["DROP TABLE people CASCADE"]),
    (
        "a materialized view, a GRANT",
        [
            "CREATE MATERIALIZED VIEW mv AS SELECT id FROM child",
            "GRANT SELECT ON child TO PUBLIC",
        ],
    ),
    ("an extension", ["CREATE EXTENSION IF NOT EXISTS pg_trgm"]),
    ("drop a type in use", ["DROP TYPE feeling CASCADE"]),
    (
        "SET ROLE: DDL as another role in this session",
        [
            "SET ROLE changes_app",
            "CREATE TABLE as_app (id int PRIMARY KEY)",
            "CREATE INDEX ix_as_app ON as_app (id)",
        ],
    ),
    ("still that role", ["DROP INDEX ix_as_app", "ALTER TABLE as_app ADD COLUMN y int"]),
    ("back", ["RESET ROLE", "ALTER TABLE as_app RENAME COLUMN y TO z"]),
]


def _run(conn: psycopg.Connection[tuple[object, ...]], statements: list[str]) -> None:
    for statement in statements:
        if statement.startswith("autocommit:"):
            conn.commit()
            conn.autocommit = True
            conn.execute(statement.split(":", 1)[1].encode())
            conn.autocommit = False
        elif statement.startswith("failing:"):
            with pytest.raises(psycopg.Error):
                conn.execute(statement.split(":", 1)[1].encode())
        else:
            conn.execute(statement.encode())


def _stairs(server: Server, name: str) -> tuple[Session, list[str]]:
    """Every step of STEPS, an incremental snapshot and a full one after each: (the session, the
    steps after which they differed, with the difference)."""
    create_database(server, name)
    differences = []
    with psycopg.connect(server.conninfo(name)) as conn:

        def execute(sql: str) -> list[tuple[object, ...]]:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description is not None else []

        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'changes_app') THEN"
            " CREATE ROLE changes_app; END IF; END $$"
        )
        conn.execute("GRANT ALL ON SCHEMA public TO changes_app")
        conn.commit()
        session = Session("alembic_version", lambda: conn)
        assert session.take(execute) == take(execute)
        assert session.mode == "changes"
        for label, statements in STEPS:
            _run(conn, statements)
            incremental, full = session.take(execute), take(execute)
            if incremental != full:
                differences.append(f"{label}: {diff_lines(diff(full, incremental))}")
        conn.rollback()
    return session, differences


def test_after_every_nasty_step_the_incremental_snapshot_equals_a_full_one(server: Server) -> None:
    session, differences = _stairs(server, "changes_stairs")
    assert differences == []
    # most of them described only what changed (schemas, extensions, the rollback: full ones)
    assert session.partial_snapshots >= len(STEPS) - 8, (session.partial_snapshots, session.full_snapshots)
    assert session.full_snapshots >= 3


def test_a_rollback_past_the_last_snapshot_makes_the_next_one_full(server: Server) -> None:
    """The bookkeeping of a snapshot taken inside a savepoint is undone with it: the counter the
    client expects is gone, so the next snapshot is a full one, and right."""
    create_database(server, "changes_rollback")
    with psycopg.connect(server.conninfo("changes_rollback")) as conn:

        def execute(sql: str) -> list[tuple[object, ...]]:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description is not None else []

        session = Session("alembic_version", lambda: conn)
        conn.execute("CREATE TABLE a (id int)")
        before = session.take(execute)
        conn.execute("SAVEPOINT s")
        conn.execute("ALTER TABLE a ADD COLUMN x int")
        assert session.take(execute) == take(execute) != before
        conn.execute("ALTER TABLE a ADD COLUMN y int")
        conn.execute("ROLLBACK TO SAVEPOINT s")  # x and y gone, and the last snapshot's bookkeeping
        full = session.full_snapshots
        assert session.take(execute) == take(execute) == before
        assert session.full_snapshots == full + 1
        conn.execute("ALTER TABLE a ADD COLUMN z int")
        assert session.take(execute) == take(execute)
        assert session.full_snapshots == full + 1  # incremental again


def test_another_session_on_the_database_makes_snapshots_full(server: Server) -> None:
    """DDL on another connection is not in this session's log: while one is connected, every
    snapshot is a full one."""
    create_database(server, "changes_other")
    with psycopg.connect(server.conninfo("changes_other")) as conn:

        def execute(sql: str) -> list[tuple[object, ...]]:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description is not None else []

        session = Session("alembic_version", lambda: conn)
        conn.execute("CREATE TABLE a (id int)")
        conn.commit()
        session.take(execute)
        with psycopg.connect(server.conninfo("changes_other"), autocommit=True) as other:
            other.execute("ALTER TABLE a ADD COLUMN from_elsewhere int")
            full = session.full_snapshots
            assert session.take(execute) == take(execute)
            assert session.full_snapshots == full + 1
        for _ in range(100):  # (its server process leaves a moment after the connection closes)
            if not conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall():
                break
            time.sleep(0.05)
        conn.execute("ALTER TABLE a ADD COLUMN mine int")
        assert session.take(execute) == take(execute)
        assert session.full_snapshots == full + 1


def test_a_broken_scoping_is_caught(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not following the dependencies (views, foreign keys, columns of a type) of what changed:
    the comparison with a full snapshot shows it."""
    original = snapshot._incremental_function  # noqa: SLF001 -- the function under test, broken on purpose

    def without_dependents(version_table: str) -> tuple[str, str]:
        name, create = original(version_table)
        assert "WHERE obj.follow" in create
        return name + "_broken", create.replace("WHERE obj.follow", "WHERE false").replace(name, name + "_broken")

    monkeypatch.setattr(snapshot, "_incremental_function", without_dependents)
    _, differences = _stairs(server, "changes_broken")
    text = "\n".join(differences)
    assert "rename a column a view and a foreign key reference" in text
    assert "rename the type, its domain base" in text


def test_without_event_triggers_every_snapshot_is_full(server: Server) -> None:
    """A role that may not create event triggers (not a superuser) gets today's full snapshots,
    through the kept plan, and its transaction is never aborted by the attempt."""
    create_database(server, "changes_user")
    with psycopg.connect(server.conninfo("changes_user"), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE plain_user LOGIN PASSWORD '{server.password}'")
        conn.execute("GRANT ALL ON SCHEMA public TO plain_user")
    with psycopg.connect(server.conninfo("changes_user").replace("user=postgres", "user=plain_user")) as conn:

        def execute(sql: str) -> list[tuple[object, ...]]:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description is not None else []

        session = Session("alembic_version", lambda: conn)
        conn.execute("CREATE TABLE a (id int)")
        assert session.take(execute) == take(execute)
        assert session.mode == "plan"
        conn.execute("ALTER TABLE a RENAME COLUMN id TO key")
        assert session.take(execute) == take(execute)
        assert session.partial_snapshots == 0
        assert conn.execute("SELECT 2").fetchall() == [(2,)]
        assert conn.execute("SELECT count(*) FROM pg_event_trigger").fetchall() == [(0,)]


# --- the same through Alembic: `headcheck db --stairway`, every snapshot checked ------------------

IMPORTS = "import time\n\nfrom sqlalchemy.dialects import postgresql\n"
STAMP = "CREATE OR REPLACE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN {body} RETURN NEW; END'"
# (doc, upgrade, downgrade): each downgrade undoes its upgrade exactly, so the stairway is clean
REVISIONS = [
    (
        "tables, a foreign key, a view on a column",
        """op.create_table("parent", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))
op.create_index("ix_parent_name", "parent", ["name"])
op.create_table("child", sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")), sa.Column("note", sa.Text))
op.execute("CREATE VIEW v_names AS SELECT name FROM parent")""",
        """op.execute("DROP VIEW v_names")
op.drop_table("child")
op.drop_index("ix_parent_name", table_name="parent")
op.drop_table("parent")""",
    ),
    (
        "rename a column a view and a foreign key reference",
        'op.alter_column("parent", "name", new_column_name="title")\n'
        'op.alter_column("parent", "id", new_column_name="pid")',
        'op.alter_column("parent", "pid", new_column_name="id")\n'
        'op.alter_column("parent", "title", new_column_name="name")',
    ),
    ("rename the table they reference", 'op.rename_table("parent", "parents")', 'op.rename_table("parents", "parent")'),
    (
        "an enum type and a column of it",
        'postgresql.ENUM("calm", "angry", name="mood").create(op.get_bind())\n'
        'op.add_column("child", sa.Column("m", postgresql.ENUM(name="mood", create_type=False)))',
        'op.drop_column("child", "m")\nop.execute("DROP TYPE mood")',
    ),
    (
        "enum ADD VALUE outside the transaction; down: the type renamed and rebuilt",
        """with op.get_context().autocommit_block():
    op.execute("ALTER TYPE mood ADD VALUE 'sad'")""",
        """op.execute("ALTER TYPE mood RENAME TO mood_old")
op.execute("CREATE TYPE mood AS ENUM ('calm', 'angry')")
op.execute("ALTER TABLE child ALTER COLUMN m TYPE mood USING m::text::mood")
op.execute("DROP TYPE mood_old")""",
    ),
    (
        "rename the sequence a default calls, alter a default",
        'op.execute("ALTER SEQUENCE parent_id_seq RENAME TO parent_seq")\n'
        'op.alter_column("child", "note", server_default="x")',
        'op.alter_column("child", "note", server_default=None)\n'
        'op.execute("ALTER SEQUENCE parent_seq RENAME TO parent_id_seq")',
    ),
    (
        "a DO block doing DDL",
        """op.execute("DO $$ BEGIN EXECUTE 'CREATE TABLE made_in_do (id int)'; END $$")""",
        'op.drop_table("made_in_do")',
    ),
    (
        "CREATE INDEX CONCURRENTLY in an autocommit block",
        """with op.get_context().autocommit_block():
    op.create_index("ix_child_note", "child", ["note"], postgresql_concurrently=True)""",
        """with op.get_context().autocommit_block():
    op.drop_index("ix_child_note", table_name="child", postgresql_concurrently=True)""",
    ),
    (
        "drop and recreate a table",
        'op.drop_table("made_in_do")\n'
        'op.create_table("made_in_do", sa.Column("id", sa.BigInteger), sa.Column("other", sa.Text))',
        'op.drop_table("made_in_do")\nop.create_table("made_in_do", sa.Column("id", sa.Integer))',
    ),
    (
        "a partitioned table, two levels",
        """op.execute("CREATE TABLE events (id int NOT NULL, at date NOT NULL, kind text) PARTITION BY RANGE (at)")
op.execute("CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (kind)")
op.execute("CREATE TABLE events_2026_a PARTITION OF events_2026 FOR VALUES IN ('a')")""",
        'op.execute("DROP TABLE events")',
    ),
    (
        "a column, an index and a rename on the partitioned parent",
        """op.add_column("events", sa.Column("payload", sa.Text, server_default="none"))
op.create_index("ix_events_at", "events", ["at"])
op.alter_column("events", "kind", new_column_name="category")""",
        """op.alter_column("events", "category", new_column_name="kind")
op.drop_index("ix_events_at", table_name="events")
op.drop_column("events", "payload")""",
    ),
    (
        "a trigger and its function",
        f'op.execute("{STAMP.format(body="")}")\n'
        'op.execute("CREATE TRIGGER child_stamp BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION stamp()")',
        'op.execute("DROP TRIGGER child_stamp ON child")\nop.execute("DROP FUNCTION stamp()")',
    ),
    (
        "the trigger function's body changes",
        f'op.execute("{STAMP.format(body="NEW.note := NEW.note;")}")',
        f'op.execute("{STAMP.format(body="")}")',
    ),
    (
        "a comment",
        """op.execute("COMMENT ON TABLE child IS 'kids'")""",
        'op.execute("COMMENT ON TABLE child IS NULL")',
    ),
    (
        "a statement that fails inside a savepoint",
        """bind = op.get_bind()
try:
    with bind.begin_nested():
        op.add_column("child", sa.Column("doomed", sa.Integer))
        op.execute("SELECT 1 / 0")
except sa.exc.DBAPIError:
    pass
op.add_column("child", sa.Column("survived", sa.Integer))""",
        'op.drop_column("child", "survived")',
    ),
    (
        "DISCARD TEMP: the session's temporary objects (the snapshot functions, the DDL log) go",
        'op.execute("DISCARD TEMP")\nop.add_column("child", sa.Column("after_discard", sa.Integer))',
        'op.drop_column("child", "after_discard")\nop.execute("DISCARD TEMP")',
    ),
    (
        "a schema and a table in it",
        'op.execute("CREATE SCHEMA extra")\nop.create_table("thing", sa.Column("id", sa.Integer), schema="extra")',
        'op.drop_table("thing", schema="extra")\nop.execute("DROP SCHEMA extra")',
    ),
]


def _history(project: Path) -> list[str]:
    ids = [f"{n:02d}changesaaaa"[:12] for n in range(len(REVISIONS))]
    revisions = [(f"{rev}.py", rev, doc, up, dn) for rev, (doc, up, dn) in zip(ids, REVISIONS, strict=True)]
    return write_history(project, revisions, imports=IMPORTS)


def test_every_snapshot_of_a_stairway_through_alembic_equals_a_full_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``headcheck db --stairway`` (rows on: a savepoint around every step) on nasty revisions,
    with every incremental snapshot compared with a full one in the migration process."""
    _history(tmp_path / "project")
    tally = tmp_path / "tally.txt"
    monkeypatch.setenv(snapshot.VERIFY, str(tally))
    code, report, err = run_db(capsys, str(tmp_path / "project"), "--stairway")
    outcomes = tally.read_text(encoding="utf-8").splitlines()
    assert [line for line in outcomes if not line.endswith(" same")] == []
    assert failed(report) == [], err
    assert database(report)["schema_diffs"] == []
    assert code in (0, 1), err  # (1: the lock warnings of revisions touching existing tables)
    partial = sum(line.startswith("partial ") for line in outcomes)
    assert len(outcomes) >= 3 * len(REVISIONS)
    assert partial >= 2 * len(REVISIONS), outcomes


def test_a_difference_fails_the_run_with_its_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check itself, on what the log cannot see: a revision that changes the schema through a
    connection of its own, closed before the snapshot. Checked, the run fails naming the difference
    (unchecked, the next full snapshot, the first of the next run, sees it)."""
    _history(tmp_path / "project")
    versions = tmp_path / "project" / "migrations" / "versions"
    for extra in sorted(versions.glob("*.py"))[2:]:
        extra.unlink()
    upgrade = """with op.get_context().autocommit_block():
    url = op.get_bind().engine.url
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE elsewhere (id int)")
        conn.commit()
    engine.dispose()
    for _ in range(100):  # until its server process is gone (else every snapshot is a full one)
        op.execute("SELECT pg_stat_clear_snapshot()")
        others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        if op.get_bind().exec_driver_sql(others).scalar() == 0:
            break
        time.sleep(0.05)"""
    (versions / "99elsewhere.py").write_text(
        revision_source(
            "99elsewhere",
            "01changesaaa",
            upgrade,
            'op.drop_table("elsewhere")',
            "DDL on a connection of its own",
            IMPORTS,
        )
    )
    tally = tmp_path / "tally.txt"
    monkeypatch.setenv(snapshot.VERIFY, str(tally))
    code, report, err = run_db(capsys, str(tmp_path / "project"), "--stairway", "--no-rows")
    assert code == 1, err
    assert "partial differs: + table public.elsewhere" in tally.read_text(encoding="utf-8")
    assert "the incremental (partial) snapshot differs from a full one: + table public.elsewhere" in str(failed(report))

"""The SQLite backend (issue 13 item 3): a database file in headcheck's temp dir, no server;
projects made by ``alembic init -t generic`` whose sqlalchemy.url is SQLite."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import tempfile
from pathlib import Path

import pytest

from headcheck.db.backends import sqlite as backend
from tests.db.harness import database, failed, run_db, steps
from tests.project import alembic_generate

BATCH_ENV = "render_as_batch=True"


def sqlite_project(root: Path, revisions: dict[str, str], *, batch: bool = False, url: str | None = None) -> Path:
    """``alembic init -t generic migrations`` in ``root``, sqlalchemy.url a SQLite file there (never
    touched by headcheck), the ``revisions`` files; ``batch``: env.py configured with
    ``render_as_batch=True`` as Alembic's docs say for SQLite."""
    alembic_generate(root, "generic")
    ini = root / "alembic.ini"
    url = url or f"sqlite:///{root / 'app.db'}"
    ini.write_text(
        "\n".join(
            f"sqlalchemy.url = {url}" if line.startswith("sqlalchemy.url") else line
            for line in ini.read_text().splitlines()
        )
        + "\n"
    )
    if batch:
        env = root / "migrations" / "env.py"
        text = env.read_text()
        assert text.count("target_metadata=target_metadata") == 2
        env.write_text(text.replace("target_metadata=target_metadata", f"target_metadata=target_metadata, {BATCH_ENV}"))
    for name, source in revisions.items():
        (root / "migrations" / "versions" / name).write_text(source)
    return root


def revision(rev: str, down: str | None, upgrade: str, downgrade: str) -> str:
    return (
        f'"""{rev}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n    {upgrade}\n\n\ndef downgrade() -> None:\n    {downgrade}\n"
    )


CREATE_USERS = revision(
    "a1",
    None,
    'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))',
    'op.drop_table("users")',
)
CREATE_POSTS = revision(
    "a2",
    "a1",
    'op.create_table("posts", sa.Column("id", sa.Integer, primary_key=True), '
    'sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE")), '
    'sa.Column("title", sa.Text, nullable=False, server_default="x"), sa.UniqueConstraint("user_id", "title"))\n'
    '    op.create_index("ix_posts_title", "posts", ["title"])',
    'op.drop_index("ix_posts_title", "posts")\n    op.drop_table("posts")',
)
LEAVES_INDEX = revision(
    "a3",
    "a2",
    'op.create_index("ix_users_name", "users", ["name"])',
    "pass  # forgot op.drop_index",
)
# batch mode: SQLite cannot ALTER a column's nullability; Alembic copies the table and swaps it
BATCH_ALTER = revision(
    "a3",
    "a2",
    'with op.batch_alter_table("users") as batch:\n'
    '        batch.alter_column("name", existing_type=sa.String(50), nullable=False)\n'
    '        batch.add_column(sa.Column("email", sa.String(100)))',
    'with op.batch_alter_table("users") as batch:\n'
    '        batch.drop_column("email")\n'
    '        batch.alter_column("name", existing_type=sa.String(50), nullable=True)',
)


def test_clean_history_passes_on_a_file_in_the_temp_dir_chosen_from_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": CREATE_POSTS})
    # a temp dir of this test's own: other tests running at the same time make theirs in /tmp
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    before = set(Path(tempfile.gettempdir()).glob(f"{backend.TEMP_PREFIX}*"))
    code, report, err = run_db(capsys, str(project))  # no --backend: sqlalchemy.url says sqlite
    assert code == 0, err
    assert steps(report) == [
        ("load", None, True),
        ("upgrade", "a1", True),
        ("upgrade", "a2", True),
        ("check-heads", None, True),
        ("downgrade", "a2", True),
        ("upgrade", "a2", True),
        ("check-heads", None, True),
    ]
    assert not (project / "app.db").exists()  # the project's own database is never opened
    assert set(Path(tempfile.gettempdir()).glob(f"{backend.TEMP_PREFIX}*")) == before  # nothing left behind
    # the model comparison reads PostgreSQL's catalogs: here it says so instead of passing silently
    assert database(report)["models"]["notice"] == "the model comparison runs on PostgreSQL only (--backend sqlite)"


def test_a_downgrade_that_leaves_an_index_is_caught_with_the_schema_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": CREATE_POSTS, "a3.py": LEAVES_INDEX})
    code, report, _ = run_db(capsys, str(project), "--stairway")
    assert code == 1
    [problem] = failed(report)
    assert problem["name"] == "downgrade"
    assert problem["revision"] == "a3"
    assert "+ index CREATE INDEX ix_users_name ON main.users (name)" in str(problem["error"])


def test_a_batch_mode_migration_passes_up_down_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = sqlite_project(
        tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": CREATE_POSTS, "a3.py": BATCH_ALTER}, batch=True
    )
    code, report, err = run_db(capsys, str(project), "--stairway")
    assert code == 0, (err, failed(report))
    assert ("downgrade", "a3", True) in steps(report)


def test_a_batch_downgrade_that_forgets_a_column_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    forgets = BATCH_ALTER.replace('        batch.drop_column("email")\n', "")
    project = sqlite_project(
        tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": CREATE_POSTS, "a3.py": forgets}, batch=True
    )
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [problem] = failed(report)
    assert problem["name"] == "downgrade"
    assert problem["revision"] == "a3"
    assert "+ column main.users.email VARCHAR(100)" in str(problem["error"])


CREATE_USERS_CHECKED = CREATE_USERS.replace(
    'sa.Column("name", sa.String(50)))',
    'sa.Column("name", sa.String(50)), sa.CheckConstraint("length(name)  >  0", name="ck_name"))',
)
ADDS_CHECK = revision(
    "a3",
    "a2",
    'with op.batch_alter_table("users") as batch:\n        batch.create_check_constraint("ck_id", "id>0")',
    'with op.batch_alter_table("users") as batch:\n        batch.drop_constraint("ck_id", type_="check")',
)


def test_check_constraints_survive_batch_rewrites_and_a_forgotten_one_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CHECKs live only in the CREATE TABLE text, which batch mode writes anew (its own spacing):
    a round trip through batch mode is not a difference, a CHECK the downgrade leaves is."""
    assert CREATE_USERS_CHECKED != CREATE_USERS
    files = {"a1.py": CREATE_USERS_CHECKED, "a2.py": CREATE_POSTS}
    project = sqlite_project(tmp_path / "ok", {**files, "a3.py": BATCH_ALTER}, batch=True)
    code, report, err = run_db(capsys, str(project), "--stairway")
    assert code == 0, (err, failed(report))
    project = sqlite_project(tmp_path / "ok2", {**files, "a3.py": ADDS_CHECK}, batch=True)
    code, report, err = run_db(capsys, str(project), "--stairway")
    assert code == 0, (err, failed(report))
    forgets = ADDS_CHECK.replace('batch.drop_constraint("ck_id", type_="check")', "pass")
    project = sqlite_project(tmp_path / "bad", {**files, "a3.py": forgets}, batch=True)
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [problem] = failed(report)
    assert (problem["name"], problem["revision"]) == ("downgrade", "a3")
    assert "+ constraint main.users CHECK ck_id (id > 0)" in str(problem["error"])


def test_a_failing_upgrade_names_its_revision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = revision("a2", "a1", 'op.drop_table("nothing_here")', "pass")
    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": broken})
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [problem] = failed(report)
    assert (problem["name"], problem["revision"]) == ("upgrade", "a2")
    assert "no such table: nothing_here" in str(problem["error"])


def test_env_py_opening_another_file_is_stopped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The guard: a connection made around the redirect (a raw ``creator=``) to another file."""
    elsewhere = tmp_path / "elsewhere.db"
    sneaky = revision(
        "a2",
        "a1",
        f"sa.create_engine('sqlite://', creator=lambda: __import__('sqlite3').connect({str(elsewhere)!r}))"
        ".connect().close()",
        "pass",
    )
    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": sneaky})
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [problem] = failed(report)
    assert "not on headcheck's database server" in str(problem["error"])


def test_backend_flag_overrides_the_url_and_a_postgres_url_is_refused_by_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS}, url="driver://user:pass@localhost/dbname")
    code, report, err = run_db(capsys, str(project), "--backend", "sqlite")
    assert code == 0, err
    assert ("upgrade", "a1", True) in steps(report)
    code, _, err = run_db(capsys, str(project), "--backend", "sqlite", "--database-url", "postgresql://u:pw@h/db")
    assert code == 2
    assert "not a SQLite URL" in err
    assert "pw" not in err
    code, _, err = run_db(capsys, str(project), "--backend", "oracle")
    assert code == 2
    assert "unknown backend 'oracle'" in err


def test_database_url_must_be_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": CREATE_POSTS})
    target = tmp_path / "given.db"
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("CREATE TABLE keep_me (id integer)")
    code, _, err = run_db(capsys, str(project), "--database-url", f"sqlite:///{target}")
    assert code == 2
    assert "not empty" in err
    assert "keep_me" in err
    code, _, err = run_db(capsys, str(project), "--database-url", "sqlite:///relative.db")
    assert code == 2
    assert "absolute path: sqlite:////" in err
    empty = tmp_path / "empty.db"
    code, report, err = run_db(capsys, str(project), "--database-url", f"sqlite:///{empty}")
    assert code == 0, err
    assert ("downgrade", "a2", True) in steps(report)
    assert set(backend.take(lambda sql: sqlite3.connect(empty).execute(sql).fetchall())["tables"]) == {
        "table main.posts",
        "table main.users",
    }  # the migrations ran on the given file


def test_snapshot_reads_tables_columns_keys_indexes_views_and_triggers(tmp_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(tmp_path / "s.db")) as conn:
        conn.executescript(
            """
            CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
            CREATE TABLE users (id INTEGER PRIMARY KEY CHECK(id>0), name TEXT NOT NULL DEFAULT 'x', UNIQUE (name),
                                CONSTRAINT "ck "" n" CHECK (name <> 'CHECK (x)') /* CHECK (no) */);
            CREATE TABLE posts (id INTEGER, user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
                                PRIMARY KEY (id, user_id));
            CREATE INDEX ix_posts_user ON posts (user_id DESC) WHERE user_id > 0;
            CREATE VIEW v AS SELECT id FROM users;
            CREATE TRIGGER tr AFTER INSERT ON users BEGIN SELECT 1; END;
            """
        )
        snap = backend.take(lambda sql: conn.execute(sql).fetchall())
    assert snap["tables"][:2] == ("table main.posts", "table main.users")
    assert snap["tables"][2].startswith("view main.v ")
    assert snap["columns"] == (
        "main.posts.id INTEGER",
        "main.posts.user_id INTEGER",
        "main.users.id INTEGER",
        "main.users.name TEXT NOT NULL DEFAULT 'x'",
    )
    assert snap["constraints"] == (
        "main.posts FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE NO ACTION ON DELETE CASCADE",
        "main.posts PRIMARY KEY (id, user_id)",
        "main.users CHECK (id > 0)",
        "main.users CHECK ck \" n (name <> 'CHECK (x)')",
        "main.users PRIMARY KEY (id)",
        "main.users UNIQUE (name)",
    )
    [index] = snap["indexes"]
    assert index.startswith("CREATE INDEX ix_posts_user ON main.posts (user_id DESC) WHERE ")
    [trigger] = snap["triggers"]
    assert trigger.startswith("trigger tr ON main.users ")


def test_readonly_uri_opens_for_reading_only(tmp_path: Path) -> None:
    path = tmp_path / "odd name?#.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (id integer)")
    with contextlib.closing(backend.connect_readonly(path)) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError):
        backend.connect_readonly(tmp_path / "absent.db")
    assert not (tmp_path / "absent.db").exists()


MULTIDB_REVISION = '''"""the same table in both databases"""
import sqlalchemy as sa
from alembic import op

revision = "m1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(engine_name: str) -> None:
    op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))


def downgrade(engine_name: str) -> None:
    op.drop_table("t")
'''


def test_each_database_of_a_multidb_project_gets_a_file_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``alembic init -t multidb``: two engines, each creating table ``t``: on one file the second
    CREATE TABLE would fail. The project's own files are never opened."""
    project = tmp_path / "p"
    alembic_generate(project, "multidb")
    ini = project / "alembic.ini"
    text = ini.read_text()
    for name in ("dbname", "dbname2"):
        text = text.replace(f"driver://user:pass@localhost/{name}\n", f"sqlite:///{project / name}.db\n")
    ini.write_text(text)
    (project / "migrations" / "versions" / "m1.py").write_text(MULTIDB_REVISION)
    # no --backend: the dialect is read from the sections the [alembic] `databases` option lists
    code, report, err = run_db(capsys, str(project))
    assert code == 0, (err, failed(report))
    assert report["environments"][0]["database"]["server_version"].startswith("SQLite ")
    assert ("downgrade", "m1", True) in steps(report)
    assert not list(project.glob("*.db"))


HANG = revision(
    "a2", "a1", 'import os, pathlib, time; pathlib.Path(os.environ["HC_MARKER"]).touch(); time.sleep(600)', "pass"
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_killing_headcheck_mid_migration_leaves_nothing(tmp_path: Path, sig: int) -> None:
    from tests.db.test_db_cleanup import _runner_processes, _start, _wait_for

    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": HANG})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc, marker = _start(project, tmp)
    _wait_for(marker, proc)
    [tempdir] = [p for p in tmp.iterdir() if p.name.startswith(backend.TEMP_PREFIX)]
    assert (tempdir / "headcheck_0.db").exists()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, 143), err
    assert [p.name for p in tmp.iterdir()] == ["marker"]  # the test's own
    assert _runner_processes(str(marker)) == []


def test_from_schema_loads_an_sqlite_schema_dump_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The state of production as ``sqlite3 app.db .schema`` prints it, stamped at a1: only a2 runs."""
    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": CREATE_POSTS})
    schema = tmp_path / "schema.sql"
    schema.write_text("CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50), PRIMARY KEY (id));\n")
    code, report, err = run_db(capsys, str(project), "--from-schema", str(schema), "--stamp", "a1")
    assert code == 0, (err, failed(report))
    names = steps(report)
    assert names[:2] == [("load-schema", None, True), ("load", None, True)]
    assert ("upgrade", "a1", True) not in names
    assert ("downgrade", "a2", True) in names
    schema.write_text("CREATE TABLE broken (;\n")
    code, report, _ = run_db(capsys, str(project), "--from-schema", str(schema), "--stamp", "a1")
    assert code == 1
    [problem] = failed(report)
    assert problem["name"] == "load-schema"
    assert "syntax error" in str(problem["error"])


def test_stairway_rebuilds_the_file_after_a_broken_revision_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every broken revision in one run: after a3's downgrade leaves its index, the databases are
    recreated at a3's state (a ``restore`` step) and a4, broken too, is still judged."""
    a4 = revision("a4", "a3", 'op.add_column("posts", sa.Column("body", sa.Text))', "pass  # forgot drop_column")
    project = sqlite_project(
        tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": CREATE_POSTS, "a3.py": LEAVES_INDEX, "a4.py": a4}
    )
    code, report, _ = run_db(capsys, str(project), "--stairway")
    assert code == 1
    assert [(s["name"], s["revision"]) for s in failed(report)] == [("downgrade", "a3"), ("downgrade", "a4")]
    assert ("restore", "a3", True) in steps(report)
    assert "+ column main.posts.body TEXT" in str(failed(report)[1]["error"])


def test_two_heads_are_both_upgraded_and_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b2 = revision(
        "b2", "a1", 'op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("other")'
    )
    project = sqlite_project(tmp_path / "p", {"a1.py": CREATE_USERS, "a2.py": CREATE_POSTS, "b2.py": b2})
    code, report, err = run_db(capsys, str(project), "--max-heads", "2")
    assert code == 0, (err, failed(report))
    downs = sorted((rev for name, rev, _ in steps(report) if name == "downgrade"), key=str)
    assert downs == ["a2", "b2"]
    assert steps(report).count(("check-heads", None, True)) >= 1

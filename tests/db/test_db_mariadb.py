"""``headcheck db`` on a real throwaway MariaDB (issue 13 item 2): the cases of the PostgreSQL proof
tests (tests/db/test_db_command.py) plus what only a database without transactional DDL shows: a
revision left half-applied. Projects are made by ``alembic init -t generic`` with a MySQL URL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headcheck.cli import main
from headcheck.db.backends.mariadb import TEMP_PREFIX, MariaDB, sweep_stale
from tests.db.harness import database, failed, run_db, steps
from tests.db.mariadb_harness import mariadb, mariadb_db, mariadb_processes_under, needs_mariadb
from tests.project import alembic_generate

pytestmark = needs_mariadb
__all__ = ["mariadb", "mariadb_db"]  # the fixtures, used by name
CaptureFixture = pytest.CaptureFixture[str]
ROOT = Path(__file__).resolve().parents[2]
PROJECT_URL = "mysql+pymysql://app:secret@db.example.invalid:3306/app"  # never reached: redirected


def mysql_project(root: Path, revisions: dict[str, str], url: str = PROJECT_URL) -> Path:
    """``alembic init -t generic migrations`` in ``root``, sqlalchemy.url ``url``, the ``revisions``."""
    alembic_generate(root, "generic")
    ini = root / "alembic.ini"
    ini.write_text(
        "\n".join(
            f"sqlalchemy.url = {url}" if line.startswith("sqlalchemy.url") else line
            for line in ini.read_text().splitlines()
        )
        + "\n"
    )
    for name, source in revisions.items():
        (root / "migrations" / "versions" / name).write_text(source)
    return root


def revision(rev: str, down: object, upgrade: str, downgrade: str, labels: object = None) -> str:
    return (
        f'"""{rev}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = {labels!r}\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{textwrap.indent(upgrade, '    ')}\n\n\n"
        f"def downgrade() -> None:\n{textwrap.indent(downgrade, '    ')}\n"
    )


USERS = revision(
    "a1",
    None,
    'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))',
    'op.drop_table("users")',
)
EMAIL = revision(
    "b2",
    "a1",
    'op.add_column("users", sa.Column("email", sa.String(100), nullable=False))\n'
    'op.create_index("ix_users_email", "users", ["email"], unique=True)',
    'op.drop_index("ix_users_email", "users")\nop.drop_column("users", "email")',
)
ORDERS = revision(
    "c3",
    "b2",
    'op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True),\n'
    '    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),\n'
    '    sa.Column("total", sa.Numeric(10, 2), server_default="0"),\n'
    '    sa.CheckConstraint("total >= 0", name="ck_total"))',
    'op.drop_table("orders")',
)
CLEAN = {"a1_users.py": USERS, "b2_email.py": EMAIL, "c3_orders.py": ORDERS}


def test_clean_history_passes_on_mariadb_chosen_from_the_url(tmp_path: Path, capsys: CaptureFixture) -> None:
    project = mysql_project(tmp_path / "p", CLEAN)
    code, report, err = run_db(capsys, str(project))  # no --backend: the URL says mysql
    assert code == 0, (report, err)
    db = database(report)
    assert "MariaDB" in str(db["server_version"])
    assert db["schema_diffs"] == []
    assert steps(report) == [
        ("load", None, True),
        ("upgrade", "a1", True),
        ("upgrade", "b2", True),
        ("upgrade", "c3", True),
        ("check-heads", None, True),
        ("downgrade", "c3", True),
        ("upgrade", "c3", True),
        ("check-heads", None, True),
    ]
    assert main(["db", str(project)]) == 0
    assert "database proof on MariaDB 1" in capsys.readouterr().out


def test_a_downgrade_that_forgets_the_foreign_key_table_is_caught_with_a_schema_diff(
    tmp_path: Path, capsys: CaptureFixture
) -> None:
    broken = ORDERS.replace('op.drop_table("orders")', "pass")
    project = mysql_project(tmp_path / "p", {**CLEAN, "c3_orders.py": broken})
    code, report, _ = run_db(capsys, str(project), "--backend", "mariadb")
    assert code == 1
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("downgrade", "c3")
    assert "downgrade of c3 is not undone" in str(bad["error"])
    [diff] = database(report)["schema_diffs"]
    assert diff["check"] == "downgrade"
    lines = diff["lines"]
    assert "+ table headcheck_0.orders InnoDB utf8mb4_general_ci" in lines
    assert "+ column headcheck_0.orders.total decimal(10,2) DEFAULT 0.00" in lines
    assert any(line.startswith("+ constraint headcheck_0.orders ck_total CHECK") for line in lines)
    assert any(
        "FOREIGN KEY (user_id) REFERENCES headcheck_0.users (id) ON UPDATE RESTRICT ON DELETE CASCADE" in line
        for line in lines
    )


def test_a_downgrade_that_leaves_an_index_is_caught(tmp_path: Path, capsys: CaptureFixture) -> None:
    leaves_index = revision(
        "b2",
        "a1",
        'op.add_column("users", sa.Column("email", sa.String(100), nullable=False))\n'
        'op.create_index("ix_users_email", "users", ["email"], unique=True)',
        'op.add_column("users", sa.Column("spare", sa.Integer))',
    )
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "b2_email.py": leaves_index})
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [diff] = database(report)["schema_diffs"]
    assert set(diff["lines"]) == {
        "+ column headcheck_0.users.email varchar(100) NOT NULL COLLATE utf8mb4_general_ci",
        "+ column headcheck_0.users.spare int(11)",
        "+ constraint headcheck_0.users ix_users_email UNIQUE (email)",  # (MySQL: a unique index is one)
        "+ index CREATE UNIQUE INDEX ix_users_email ON headcheck_0.users USING BTREE (email)",
    }


def test_a_failing_upgrade_names_the_revision_and_the_error(tmp_path: Path, capsys: CaptureFixture) -> None:
    broken = revision("b2", "a1", 'op.add_column("nope", sa.Column("x", sa.Integer))', "pass")
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "b2_broken.py": broken, "c3_orders.py": ORDERS})
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("upgrade", "b2")
    assert "Table 'headcheck_0.nope' doesn't exist" in str(bad["error"])
    assert "b2_broken.py" in str(bad["error"])
    assert "site-packages" not in str(bad["error"])
    assert "half-applied" not in str(bad["error"])  # its only statement failed: nothing to undo
    assert database(report)["schema_diffs"] == []
    assert ("upgrade", "c3", True) not in steps(report)


def test_a_revision_left_half_applied_says_what_it_changed_before_failing(
    tmp_path: Path, capsys: CaptureFixture
) -> None:
    half = revision(
        "b2",
        "a1",
        'op.add_column("users", sa.Column("email", sa.String(100)))\n'
        'op.create_index("ix_users_email", "users", ["email"])\n'
        'op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.add_column("nope", sa.Column("x", sa.Integer))  # fails: the three statements above stay',
        "pass",
    )
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "b2_half.py": half})
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("upgrade", "b2")
    error = str(bad["error"])
    assert "Table 'headcheck_0.nope' doesn't exist" in error
    assert "b2 left half-applied: its upgrade changed the schema before failing" in error
    assert "DDL is not transactional" in error
    assert "alembic_version still names the revision before it" in error
    [diff] = database(report)["schema_diffs"]
    assert diff["revision"] == "b2"
    assert diff["check"] == "half-applied"
    assert set(diff["lines"]) == {
        "+ column headcheck_0.users.email varchar(100) COLLATE utf8mb4_general_ci",
        "+ index CREATE INDEX ix_users_email ON headcheck_0.users USING BTREE (email)",
        "+ table headcheck_0.audit InnoDB utf8mb4_general_ci",
        "+ column headcheck_0.audit.id int(11) NOT NULL auto_increment",
        "+ constraint headcheck_0.audit PRIMARY PRIMARY KEY (id)",
        "+ index CREATE UNIQUE INDEX PRIMARY ON headcheck_0.audit USING BTREE (id)",
    }
    assert main(["db", str(project)]) == 1
    out = capsys.readouterr().out
    assert "b2 left half-applied" in out
    assert "+ table headcheck_0.audit" in out


def test_a_half_applied_downgrade_is_measured_against_the_state_before_it(
    tmp_path: Path, capsys: CaptureFixture
) -> None:
    """The downgrade of the head drops one table, then fails: the "before" is every revision applied."""
    head = revision(
        "c3",
        "b2",
        'op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.create_table("lines", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("lines")\nop.drop_table("nope")',
    )
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "b2_email.py": EMAIL, "c3_two.py": head})
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("downgrade", "c3")
    [diff] = database(report)["schema_diffs"]
    assert diff["check"] == "half-applied"
    assert "- table headcheck_0.lines InnoDB utf8mb4_general_ci" in diff["lines"]
    assert not any("orders" in line or "users" in line for line in diff["lines"])


def test_two_labelled_heads_are_each_undone_once(tmp_path: Path, capsys: CaptureFixture) -> None:
    left = revision(
        "l1",
        "a1",
        'op.create_table("left_t", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("left_t")',
        labels=("left",),
    )
    right = revision(
        "r1",
        "a1",
        'op.create_table("right_t", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("right_t")',
        labels=("right",),
    )
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "l1.py": left, "r1.py": right})
    code, report, _ = run_db(capsys, str(project))
    assert code == 0, report
    assert sorted(s for s in steps(report) if s[0] == "downgrade") == [
        ("downgrade", "l1", True),
        ("downgrade", "r1", True),
    ]
    assert steps(report)[-1] == ("check-heads", None, True)


def test_existing_database_url_empty_and_nonempty(
    tmp_path: Path, capsys: CaptureFixture, mariadb: MariaDB, mariadb_db: str
) -> None:
    project = mysql_project(tmp_path / "p", CLEAN)
    url = mariadb.url(mariadb_db)
    code, report, _ = run_db(capsys, str(project), "--database-url", url)
    assert code == 0
    assert report["ok"] is True
    code, _, err = run_db(capsys, str(project), "--database-url", url)
    assert code == 2
    assert "the database is not empty" in err
    assert "table " in err
    assert mariadb.password not in err
    code, _, err = run_db(capsys, str(project), "--database-url", url.replace("mysql+", "postgresql+"))
    assert code == 2
    assert err.count("\n") == 1


def test_the_guard_stops_a_project_that_opens_another_server(
    tmp_path: Path, capsys: CaptureFixture, mariadb: MariaDB, mariadb_db: str
) -> None:
    """env.py builds its own engine with creator= (not redirectable): the guard refuses it."""
    project = mysql_project(tmp_path / "p", CLEAN)
    env = project / "migrations" / "env.py"
    rogue = (
        "import pymysql\n"
        "from sqlalchemy import create_engine as _ce\n"
        f"_other = lambda: pymysql.connect(host='127.0.0.1', port={mariadb.port}, user='root', "
        f"password={mariadb.password!r}, database={mariadb_db!r})\n"
    )
    text = env.read_text().replace(
        "    connectable = engine_from_config(",
        "    connectable = _ce('mysql+pymysql://', creator=_other, poolclass=pool.NullPool)\n    _unused = dict(",
    )
    env.write_text(rogue + text)
    code, report, _ = run_db(capsys, str(project))
    assert code == 1
    [bad] = failed(report)
    assert "not on headcheck's database server" in str(bad["error"])


HANG = '''"""hangs"""
import os, pathlib, time
revision = "b2"
down_revision = "a1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    marker = os.environ.get("HC_MARKER")
    if marker:
        pathlib.Path(marker).touch()
    time.sleep(600)


def downgrade() -> None:
    pass
'''


@pytest.fixture
def own_tmp() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="hc-", dir="/tmp"))
    base.chmod(0o711)
    yield base
    sweep_stale(base)
    shutil.rmtree(base, ignore_errors=True)


def test_step_timeout_kills_the_migration_and_leaves_nothing(
    tmp_path: Path, capsys: CaptureFixture, own_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(own_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "b2_hang.py": HANG})
    started = time.monotonic()
    code, report, _ = run_db(capsys, str(project), "--timeout", "3")
    assert code == 1
    assert time.monotonic() - started < 120
    [bad] = failed(report)
    assert (bad["name"], bad["revision"]) == ("upgrade", "b2")
    assert "timed out after 3 s" in str(bad["error"])
    assert list(own_tmp.glob(TEMP_PREFIX + "*")) == []
    assert mariadb_processes_under(own_tmp) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_mid_migration_leaves_no_server_no_child_no_temp_dir(
    tmp_path: Path, own_tmp: Path, sig: signal.Signals
) -> None:
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "b2_hang.py": HANG})
    marker = own_tmp / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-m", "headcheck", "db", str(project)],
        env={**os.environ, "TMPDIR": str(own_tmp), "HC_MARKER": str(marker), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()
    assert mariadb_processes_under(own_tmp)  # the server is running now
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert b"Traceback" not in err
    assert list(own_tmp.glob(TEMP_PREFIX + "*")) == []
    assert mariadb_processes_under(own_tmp) == []
    runners = [
        p.name
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _environ_has(p, str(marker).encode()) and _cmdline_has(p, b"headcheck.db.runner")
    ]
    assert runners == []


def _environ_has(proc: Path, needle: bytes) -> bool:
    try:
        return needle in (proc / "environ").read_bytes()
    except OSError:
        return False


def _cmdline_has(proc: Path, needle: bytes) -> bool:
    try:
        return needle in (proc / "cmdline").read_bytes()
    except OSError:
        return False


def test_a_project_url_with_a_unix_socket_still_reaches_only_our_server(tmp_path: Path, capsys: CaptureFixture) -> None:
    """env.py's own URL with ``?unix_socket=`` (PyMySQL, mysqlclient: it wins over host and port):
    the redirect drops it, so the connection still goes to headcheck's server."""
    project = mysql_project(tmp_path / "p", CLEAN)
    env = project / "migrations" / "env.py"
    hard_coded = "mysql+pymysql://app:secret@localhost/app?unix_socket=/nonexistent/mysqld.sock&charset=utf8mb4"
    text = env.read_text().replace(
        "    connectable = engine_from_config(",
        f"    from sqlalchemy import create_engine\n"
        f"    connectable = create_engine({hard_coded!r}, poolclass=pool.NullPool)\n    _unused = dict(",
    )
    env.write_text(text)
    code, report, err = run_db(capsys, str(project))
    assert code == 0, (report, err)


def test_stairway_rebuilds_the_database_after_a_broken_revision_and_goes_on(
    tmp_path: Path, capsys: CaptureFixture
) -> None:
    """--stairway: every revision up, down, up; a broken one is reported, the state after it rebuilt
    (drop and create the databases again) and the next revisions still checked."""
    broken = EMAIL.replace('op.drop_index("ix_users_email", "users")', "pass").replace(
        'op.drop_column("users", "email")', "pass"
    )
    forgets = ORDERS.replace('op.drop_table("orders")', "pass")
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "b2_email.py": broken, "c3_orders.py": forgets})
    code, report, _ = run_db(capsys, str(project), "--stairway")
    assert code == 1
    assert sorted((d["revision"], d["check"]) for d in database(report)["schema_diffs"]) == [
        ("b2", "downgrade"),
        ("c3", "downgrade"),
    ]
    assert ("restore", "b2", True) in steps(report)


MULTI = '''"""a1"""
import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_engine1() -> None:
    op.create_table("one", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_engine1() -> None:
    op.drop_table("one")


def upgrade_engine2() -> None:
    op.create_table("two", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_engine2() -> None:
    op.drop_table("two")
'''


def multidb_project(root: Path, revision_source: str) -> Path:
    """``alembic init -t multidb``: two databases (engine1, engine2) on two MySQL servers."""
    alembic_generate(root, "multidb")
    ini = root / "alembic.ini"
    text = ini.read_text()
    text = text.replace("driver://user:pass@localhost/dbname2", "mysql+pymysql://u:p@db2.example.invalid/second")
    text = text.replace("driver://user:pass@localhost/dbname", "mysql+pymysql://u:p@db1.example.invalid/first")
    ini.write_text(text)
    (root / "migrations" / "versions" / "a1_multi.py").write_text(revision_source)
    return root


def test_multidb_gets_a_database_per_engine_and_a_replayed_failure_is_not_called_half_applied(
    tmp_path: Path, capsys: CaptureFixture
) -> None:
    code, report, err = run_db(capsys, str(multidb_project(tmp_path / "ok", MULTI)), "--backend", "mariadb")
    assert code == 0, (report, err)
    broken = MULTI.replace(
        'def downgrade_engine2() -> None:\n    op.drop_table("two")', "def downgrade_engine2() -> None:\n    pass"
    )
    code, report, _ = run_db(capsys, str(multidb_project(tmp_path / "broken", broken)), "--backend", "mariadb")
    assert code == 1
    [bad] = failed(report)
    # engine2's downgrade left its table: its re-upgrade (the steps of engine1, replayed) fails there
    assert (bad["name"], bad["revision"]) == ("upgrade", "a1")
    assert "Table 'two' already exists" in str(bad["error"])
    assert "half-applied" not in str(bad["error"])
    assert database(report)["schema_diffs"] == []


def test_with_database_url_a_failed_step_may_be_half_applied_and_the_database_is_never_rebuilt(
    tmp_path: Path, capsys: CaptureFixture, mariadb: MariaDB, mariadb_db: str
) -> None:
    half = revision(
        "b2",
        "a1",
        'op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))\nop.drop_table("nope")',
        "pass",
    )
    project = mysql_project(tmp_path / "p", {"a1_users.py": USERS, "b2_half.py": half})
    code, report, _ = run_db(capsys, str(project), "--database-url", mariadb.url(mariadb_db))
    assert code == 1
    [bad] = failed(report)
    assert "b2 may be left half-applied" in str(bad["error"])
    assert "never rebuilt" in str(bad["error"])
    conn = mariadb.connect(mariadb_db)
    with conn.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        tables = sorted(str(row[0]) for row in cursor.fetchall())
    conn.close()
    assert tables == ["alembic_version", "audit", "users"]  # the caller's database, as the failure left it


def test_from_schema_loads_a_dump_then_stamps_and_upgrades(
    tmp_path: Path, capsys: CaptureFixture, mariadb: MariaDB, mariadb_db: str
) -> None:
    """Production's schema from ``mariadb-dump --no-data`` (a trigger included: DELIMITER lines),
    stamped at a1, then b2 and c3 on top; the password never on a command line."""
    conn = mariadb.connect(mariadb_db)
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE users (id int PRIMARY KEY AUTO_INCREMENT, name varchar(50))")
        cursor.execute("CREATE TRIGGER users_name BEFORE INSERT ON users FOR EACH ROW SET NEW.name = TRIM(NEW.name)")
    conn.close()
    dump = tmp_path / "schema.sql"
    with dump.open("wb") as out:
        subprocess.run(
            ["mariadb-dump", "--no-data", "--protocol=TCP", f"--port={mariadb.port}", "-uroot", mariadb_db],
            stdout=out,
            check=True,
            env={**os.environ, "MYSQL_PWD": mariadb.password},
        )
    assert b"DELIMITER" in dump.read_bytes()
    project = mysql_project(tmp_path / "p", CLEAN)
    code, report, err = run_db(capsys, str(project), "--from-schema", str(dump), "--stamp", "a1")
    assert code == 0, (report, err)
    assert steps(report)[:4] == [
        ("load-schema", None, True),
        ("load", None, True),
        ("stamp", "a1", True),
        ("upgrade", "b2", True),
    ]

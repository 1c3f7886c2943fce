"""``headcheck current`` on MySQL/MariaDB (a real throwaway MariaDB) and SQLite (a real file):
the same placement as on PostgreSQL, read-only on both."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from headcheck.cli import main
from headcheck.db.backends.mariadb import MariaDB
from tests.db.mariadb_harness import mariadb, mariadb_db, needs_mariadb
from tests.project import alembic_generate

__all__ = ["mariadb", "mariadb_db"]  # the fixtures, used by name
CaptureFixture = pytest.CaptureFixture[str]

REVISION = '''"""{rev}"""
revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def project(root: Path, url: str) -> Path:
    """``alembic init -t generic``, three linear revisions a1 <- b2 <- c3, sqlalchemy.url ``url``."""
    alembic_generate(root, "generic")
    ini = root / "alembic.ini"
    ini.write_text(
        "\n".join(
            f"sqlalchemy.url = {url}" if line.startswith("sqlalchemy.url") else line
            for line in ini.read_text().splitlines()
        )
        + "\n"
    )
    for rev, down in (("a1", None), ("b2", "a1"), ("c3", "b2")):
        (root / "migrations" / "versions" / f"{rev}.py").write_text(REVISION.format(rev=rev, down=down))
    return root


def _current(capsys: CaptureFixture, *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["current", *args, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


# --- MySQL / MariaDB ---------------------------------------------------------------------------------


def _mysql(server: MariaDB, dbname: str, *statements: str) -> list[tuple[object, ...]]:
    conn = server.connect(dbname)
    try:
        rows: list[tuple[object, ...]] = []
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
        return rows
    finally:
        conn.close()


def _stamp_mysql(server: MariaDB, dbname: str, *revisions: str) -> None:
    _mysql(
        server,
        dbname,
        "CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)",
        "DELETE FROM alembic_version",
        *(f"INSERT INTO alembic_version VALUES ('{rev}')" for rev in revisions),
    )


@needs_mariadb
def test_mysql_at_head_behind_and_never_migrated(
    tmp_path: Path, capsys: CaptureFixture, mariadb: MariaDB, mariadb_db: str
) -> None:
    url = mariadb.url(mariadb_db)
    root = project(tmp_path / "p", url)  # the URL from the ini, as Alembic reads it
    code, report, _ = _current(capsys, str(root))
    assert code == 1
    assert report["stamped"] is False
    assert report["pending"] == ["a1", "b2", "c3"]
    assert mariadb.password not in json.dumps(report)
    _stamp_mysql(mariadb, mariadb_db, "a1")
    code, report, _ = _current(capsys, str(root))
    assert code == 1
    assert report["rows"] == [
        {"revision": "a1", "status": "behind", "behind": 2, "message": "2 revision(s) behind the heads (c3)"}
    ]
    _stamp_mysql(mariadb, mariadb_db, "c3")
    # any MySQL URL spelling: the driver named in it need not be installed (PyMySQL reads)
    for spelling in (
        url,
        url.replace("mysql+pymysql", "mysql"),
        url.replace("mysql+pymysql", "mariadb+mariadbconnector"),
    ):
        code, report, _ = _current(capsys, "--database-url", spelling, str(root))
        assert code == 0, report
        assert report["ok"] is True, report


@needs_mariadb
def test_mysql_unknown_revision_and_a_select_only_account(
    tmp_path: Path, capsys: CaptureFixture, mariadb: MariaDB, mariadb_db: str
) -> None:
    """Production credentials are often read-only: SELECT is all the command needs."""
    _stamp_mysql(mariadb, mariadb_db, "deadbeef0000")
    _mysql(
        mariadb,
        mariadb_db,
        "CREATE USER IF NOT EXISTS 'reader'@'127.0.0.1' IDENTIFIED BY 'r3ad'",
        f"GRANT SELECT ON `{mariadb_db}`.* TO 'reader'@'127.0.0.1'",
    )
    url = f"mysql+pymysql://reader:r3ad@127.0.0.1:{mariadb.port}/{mariadb_db}"
    root = project(tmp_path / "p", "mysql+pymysql://app@db.example.invalid/app")
    assert main(["current", "--database-url", url, str(root)]) == 1
    out = capsys.readouterr().out
    assert "deadbeef0000: ERROR:" in out
    assert "Can't locate revision identified by 'deadbeef0000'" in out
    assert "r3ad" not in out


@needs_mariadb
def test_mysql_current_sends_only_reads_in_a_read_only_transaction(
    tmp_path: Path, capsys: CaptureFixture, mariadb: MariaDB, mariadb_db: str
) -> None:
    """Every statement the command sends, as the server's general log records them."""
    _stamp_mysql(mariadb, mariadb_db, "c3")
    root = project(tmp_path / "p", mariadb.url(mariadb_db))
    _mysql(mariadb, mariadb_db, "SET GLOBAL log_output = 'TABLE'", "TRUNCATE mysql.general_log")
    _mysql(mariadb, mariadb_db, "SET GLOBAL general_log = 1")
    try:
        assert main(["current", str(root)]) == 0
    finally:
        _mysql(mariadb, mariadb_db, "SET GLOBAL general_log = 0")
    capsys.readouterr()
    rows = _mysql(
        mariadb,
        mariadb_db,
        "SELECT thread_id, CONVERT(argument USING utf8mb4) FROM mysql.general_log "
        "WHERE command_type = 'Query' ORDER BY event_time",
    )
    by_thread: dict[object, list[str]] = {}
    for thread, statement in rows:
        by_thread.setdefault(thread, []).append(str(statement))
    [ours] = [
        s
        for s in by_thread.values()
        if any("alembic_version" in x for x in s) and not any("general_log" in x for x in s)
    ]
    # PyMySQL's own session set-up, then read-only before anything is read
    assert ours[:4] == [
        "SET NAMES utf8mb4",
        "SET AUTOCOMMIT = 0",
        "SET SESSION TRANSACTION READ ONLY",
        "START TRANSACTION READ ONLY",
    ], ours
    assert all(statement.upper().startswith(("SELECT", "ROLLBACK")) for statement in ours[4:]), ours


def test_mysql_unreachable_is_one_line_exit_2_without_the_password(tmp_path: Path, capsys: CaptureFixture) -> None:
    root = project(tmp_path / "p", "sqlite:///unused.db")
    code = main(["current", "--database-url", "mysql+pymysql://app:s3cret@127.0.0.1:1/app", str(root)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "s3cret" not in err
    assert "cannot read" in err


# --- SQLite ------------------------------------------------------------------------------------------


def _stamp_sqlite(path: Path, *revisions: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute("DELETE FROM alembic_version")
        conn.executemany("INSERT INTO alembic_version VALUES (?)", [(r,) for r in revisions])
    conn.close()


def test_sqlite_file_at_head_behind_and_never_migrated(tmp_path: Path, capsys: CaptureFixture) -> None:
    db = tmp_path / "app.db"
    root = project(tmp_path / "p", f"sqlite:///{db}")
    sqlite3.connect(db).close()  # an empty database file
    code, report, _ = _current(capsys, str(root))
    assert code == 1
    assert report["stamped"] is False
    assert report["pending"] == ["a1", "b2", "c3"]
    _stamp_sqlite(db, "b2")
    code, report, _ = _current(capsys, str(root))
    assert code == 1
    assert report["rows"][0]["status"] == "behind"
    _stamp_sqlite(db, "c3")
    before = db.read_bytes()
    code, report, _ = _current(capsys, str(root))
    assert code == 0
    assert report["ok"] is True
    assert db.read_bytes() == before  # read-only: not a byte changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "p"]  # no journal, no -wal/-shm left


def test_sqlite_is_opened_read_only(tmp_path: Path, capsys: CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write attempted on the connection the command opens fails (``mode=ro``)."""
    db = tmp_path / "app.db"
    _stamp_sqlite(db, "c3")
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def spy(database: str, *, uri: bool = False) -> sqlite3.Connection:  # the command's call
        conn = real_connect(database, uri=uri)
        opened.append(conn)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("CREATE TABLE intruder (x)")
        return conn

    monkeypatch.setattr(sqlite3, "connect", spy)
    assert main(["current", "--database-url", f"sqlite:///{db}", str(project(tmp_path / "p", "sqlite://"))]) == 0
    capsys.readouterr()
    assert len(opened) == 1


def test_sqlite_missing_file_or_memory_is_one_line_exit_2_and_creates_nothing(
    tmp_path: Path, capsys: CaptureFixture
) -> None:
    missing = tmp_path / "nowhere.db"
    root = project(tmp_path / "p", f"sqlite:///{missing}")
    assert main(["current", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no such SQLite database file" in err
    assert not missing.exists()
    assert main(["current", "--database-url", "sqlite://", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "in-memory" in err

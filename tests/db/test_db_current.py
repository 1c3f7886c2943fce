"""``headcheck current``: where a live database stands, read with SELECTs only."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headcheck.cli import main
from headcheck.db.server import Server, create_database
from tests.db.harness import needs_postgres

pytestmark = needs_postgres
CaptureFixture = pytest.CaptureFixture[str]


@pytest.fixture
def live(server: Server, request: pytest.FixtureRequest) -> tuple[str, str]:
    """(libpq conninfo, postgresql:// URL) of a new database."""
    name = "cur_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:40].lower()
    create_database(server, name)
    return server.conninfo(name), server.url(name).replace("+psycopg", "")


def _current(capsys: CaptureFixture, project: Path, url: str) -> tuple[int, dict[str, Any]]:
    code = main(["current", "--database-url", url, str(project), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def _stamp(conninfo: str, *revisions: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("DELETE FROM alembic_version")
        for rev in revisions:
            conn.execute("INSERT INTO alembic_version VALUES (%s)", [rev])


def test_at_head_behind_and_never_migrated(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture
) -> None:
    conninfo, url = live
    project = example("clean")
    code, report = _current(capsys, project, url)
    assert code == 1
    assert report["stamped"] is False
    assert len(report["pending"]) == 3
    _stamp(conninfo, "a1b2c3d4e5f6")
    code, report = _current(capsys, project, url)
    assert code == 1
    assert report["rows"] == [
        {
            "revision": "a1b2c3d4e5f6",
            "status": "behind",
            "behind": 2,
            "message": "2 revision(s) behind the heads (c3d4e5f6a7b8)",
        }
    ]
    _stamp(conninfo, "c3d4e5f6a7b8")
    code, report = _current(capsys, project, url)
    assert code == 0
    assert report["ok"] is True
    assert report["rows"][0]["status"] == "head"


def test_unknown_revision_says_what_alembic_will_say_and_how_to_recover(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture
) -> None:
    conninfo, url = live
    _stamp(conninfo, "deadbeef0000")
    assert main(["current", "--database-url", url, str(example("clean"))]) == 1
    out = capsys.readouterr().out
    assert "deadbeef0000: ERROR:" in out
    assert "Can't locate revision identified by 'deadbeef0000'" in out
    assert "restore the migration file" in out
    assert "alembic stamp" in out
    assert "pending" not in out  # issue 8.5: "5 revision(s) pending" read as "run everything again"
    assert "current: stamped at unknown revision deadbeef0000, which no migration file defines" in out
    code, report = _current(capsys, example("clean"), url)
    assert code == 1
    assert report["pending"] is None


def test_two_labelled_heads_one_behind(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture
) -> None:
    conninfo, url = live
    _stamp(conninfo, "b2c3d4e5f6a7", "d4e5f6a7b8c9")
    code, report = _current(capsys, example("labelled-heads"), url)
    assert code == 1
    statuses = {row["revision"]: (row["status"], row["behind"]) for row in report["rows"]}
    assert statuses == {"b2c3d4e5f6a7": ("head", 0), "d4e5f6a7b8c9": ("behind", 1)}
    assert report["pending"] == ["e5f6a7b8c9d0"]


def test_current_only_selects(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture, server: Server
) -> None:
    """Every statement the command sends, as the server logs them, only reads."""
    conninfo, url = live
    _stamp(conninfo, "c3d4e5f6a7b8")
    dbname = conninfo.rsplit("dbname=", 1)[1]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {dbname} SET log_statement = 'all'")
    log = server.logfile
    offset = log.stat().st_size
    assert main(["current", "--database-url", url, str(example("clean"))]) == 0
    capsys.readouterr()
    with psycopg.connect(conninfo, autocommit=True) as conn:  # a new session ends the old one's logging
        conn.execute(f"ALTER DATABASE {dbname} RESET log_statement")
    logged = [
        line.split("statement: ", 1)[1].strip()
        for line in log.read_bytes()[offset:].decode(errors="replace").splitlines()  # offset: bytes, not chars
        if "statement: " in line
    ]
    ours = [s for s in logged if "ALTER DATABASE" not in s]
    assert ours, ours
    assert all(s.upper().startswith("SELECT") for s in ours), ours


def test_unreachable_database_is_a_one_line_error(example: Callable[[str], Path], capsys: CaptureFixture) -> None:
    code = main(["current", "--database-url", "postgresql://nobody@127.0.0.1:1/x", str(example("clean"))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("headcheck: error: cannot read postgresql://nobody@127.0.0.1:1/x")
    assert err.count("\n") == 1


def test_overlapping_rows_are_an_error_not_zero_pending(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture
) -> None:
    """Issue 9.7: an ancestor and its descendant both stamped: alembic upgrade fails on it."""
    conninfo, url = live
    _stamp(conninfo, "a1b2c3d4e5f6", "c3d4e5f6a7b8")
    assert main(["current", "--database-url", url, str(example("clean"))]) == 1
    out = capsys.readouterr().out
    assert "a1b2c3d4e5f6: ERROR: an ancestor of c3d4e5f6a7b8" in out
    assert "DELETE FROM alembic_version WHERE version_num = 'a1b2c3d4e5f6'" in out
    assert "0 revision" not in out
    assert "overlapping" in out
    # The oracle: Alembic itself refuses to upgrade from this state.
    from alembic import command
    from alembic.config import Config

    project = _with_ini_url(example("clean"), url)
    with pytest.raises(Exception, match="overlaps with other requested revisions"):
        command.upgrade(Config(str(project / "alembic.ini")), "heads")


def _with_ini_url(project: Path, url: str) -> Path:
    ini = project / "alembic.ini"
    text = "\n".join(
        f"sqlalchemy.url = {url}" if line.startswith("sqlalchemy.url") else line
        for line in ini.read_text().splitlines()
    )
    ini.write_text(text + "\n")
    return project


def test_the_url_comes_from_the_ini_or_url_env(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8.5: --database-url was required every time."""
    conninfo, url = live
    _stamp(conninfo, "c3d4e5f6a7b8")
    project = _with_ini_url(example("clean"), url.replace("postgresql://", "postgresql+psycopg2://"))
    assert main(["current", str(project)]) == 0
    assert "current: at heads" in capsys.readouterr().out
    monkeypatch.setenv("APP_DB", url)
    other = _with_ini_url(example("clean"), "driver://user:pass@localhost/dbname")
    assert main(["current", "--url-env", "APP_DB", str(other)]) == 0
    capsys.readouterr()
    assert main(["current", str(other)]) == 2
    err = capsys.readouterr().err
    assert "sqlalchemy.url in alembic.ini" in err
    assert "reads PostgreSQL, MySQL/MariaDB and SQLite databases" in err
    assert "user:***@localhost" in err
    assert "pass@" not in err
    assert main(["current", "--url-env", "NOT_SET_ANYWHERE", str(other)]) == 2
    assert "--url-env NOT_SET_ANYWHERE: the variable is not set" in capsys.readouterr().err


def test_current_and_the_gate_name_the_environment_alike(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture
) -> None:
    project = example("clean")
    assert main([str(project), "--no-cache"]) == 0
    gate_title = capsys.readouterr().out.splitlines()[0]
    main(["current", "--database-url", live[1], str(project)])
    current_title = capsys.readouterr().out.splitlines()[0]
    label = gate_title.split(": ", 1)[0]
    assert label.endswith("(alembic.ini)")
    assert current_title.startswith(label + ": ")

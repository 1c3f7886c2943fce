"""``headcheck current``: where the URL comes from, what it supports, and states Alembic cannot upgrade."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from headcheck.cli import main
from headcheck.db.server import Server, create_database
from tests.db.harness import needs_postgres

pytestmark = needs_postgres
CaptureFixture = pytest.CaptureFixture[str]


@pytest.fixture
def live(server: Server, request: pytest.FixtureRequest) -> tuple[str, str]:
    """(libpq conninfo, SQLAlchemy URL) of a new database."""
    name = "src_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:40].lower()
    create_database(server, name)
    return server.conninfo(name), server.url(name)


def _set_ini_url(project: Path, url: str) -> None:
    ini = project / "alembic.ini"
    text = re.sub(r"(?m)^sqlalchemy\.url = .*$", "sqlalchemy.url = " + url.replace("%", "%%"), ini.read_text())
    ini.write_text(text)


def _stamp(conninfo: str, *revisions: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) NOT NULL)")
        for rev in revisions:
            conn.execute("INSERT INTO alembic_version VALUES (%s)", [rev])


def _json(capsys: CaptureFixture, argv: list[str]) -> tuple[int, dict[str, object]]:
    code = main(["current", *argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_url_from_the_ini_as_alembic_reads_it(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture
) -> None:
    conninfo, url = live
    project = example("clean")
    _set_ini_url(project, url)
    _stamp(conninfo, "c3d4e5f6a7b8")
    code, report = _json(capsys, [str(project)])
    assert code == 0 and report["ok"] is True and report["url_from"] == "sqlalchemy.url in alembic.ini"


def test_url_from_the_variable_env_py_reads(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    conninfo, url = live
    project = example("clean")  # its ini names a database that does not exist: the variable wins
    monkeypatch.setenv("APP_DATABASE_URL", url)
    _stamp(conninfo, "a1b2c3d4e5f6")
    code, report = _json(capsys, [str(project), "--url-env", "APP_DATABASE_URL"])
    assert code == 1 and report["url_from"] == "--url-env APP_DATABASE_URL"
    assert report["pending"] == ["b2c3d4e5f6a7", "c3d4e5f6a7b8"]


def test_no_url_and_other_databases_are_one_line_errors(
    example: Callable[[str], Path], capsys: CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = example("clean")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    assert main(["current", str(project), "--url-env", "NOT_SET_ANYWHERE"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--url-env NOT_SET_ANYWHERE: the variable is not set" in err
    assert "--database-url" in err
    _set_ini_url(project, "sqlite:///app.db")
    assert main(["current", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "PostgreSQL databases only" in err and "SQLite are not supported" in err


def test_an_unknown_revision_is_not_called_pending_work(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture
) -> None:
    conninfo, url = live
    project = example("clean")
    _stamp(conninfo, "ffffffffffff")
    code, report = _json(capsys, ["--database-url", url, str(project)])
    assert code == 1 and report["pending"] is None
    main(["current", "--database-url", url, str(project)])
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("current: stamped at unknown revision ffffffffffff, which no migration file defines")
    assert "pending" not in last


def test_two_rows_on_one_branch_are_an_error_as_alembic_upgrade_says(
    example: Callable[[str], Path], live: tuple[str, str], capsys: CaptureFixture
) -> None:
    from alembic import command
    from alembic.config import Config

    conninfo, url = live
    project = example("clean")
    _set_ini_url(project, url)
    _stamp(conninfo, "a1b2c3d4e5f6", "b2c3d4e5f6a7")  # b2c3 revises a1b2: they overlap
    code, report = _json(capsys, [str(project)])
    assert code == 1 and report["ok"] is False
    rows = {row["revision"]: row["status"] for row in report["rows"]}  # type: ignore[union-attr]
    assert rows == {"a1b2c3d4e5f6": "overlap", "b2c3d4e5f6a7": "behind"}
    # The oracle: Alembic refuses to upgrade from this state.
    with pytest.raises(Exception, match="overlaps with other requested revisions"):
        command.upgrade(Config(str(project / "alembic.ini")), "heads")

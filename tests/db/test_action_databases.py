"""The Action's ``database: mariadb`` and ``database: sqlite`` (issue 13 item 5), run in-process as
GitHub runs it: MariaDB through ``database-url`` (the service-container recipe; the image carries no
MariaDB server), SQLite on a file in headcheck's temp dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from headcheck.commands import action as action_module
from headcheck.db.backends import mariadb as mariadb_module
from headcheck.db.backends.mariadb import MariaDB
from tests.db.mariadb_harness import mariadb, mariadb_db, needs_mariadb
from tests.db.test_db_mariadb import CLEAN, mysql_project
from tests.test_action import action

__all__ = ["action", "mariadb", "mariadb_db"]  # the fixtures, used by name


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """Where the ``action`` fixture looks when it is given no example."""
    return tmp_path / "workspace"


def test_mariadb_without_a_server_or_url_is_one_line_exit_2(
    action: Any, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the image: no mariadbd anywhere."""

    def nothing(_mysql_bin: Path | None = None) -> mariadb_module.Binaries:
        raise mariadb_module.ServerError("no MariaDB server found")

    monkeypatch.setattr(mariadb_module, "find_mysql_bin", nothing)
    mysql_project(workspace, CLEAN)
    run = action(None, INPUT_DATABASE="mariadb")
    assert run.code == 2
    [error] = [c for c in run.commands if c.kind == "error"]
    assert error.message == f"database proof: {action_module.MARIADB_NEEDS_A_SERVICE}"
    assert run.err.count("\n") == 1
    assert "database-url: mysql+pymysql://" in run.err


@needs_mariadb
def test_mariadb_through_database_url_runs_the_proof(
    action: Any, workspace: Path, mariadb: MariaDB, mariadb_db: str
) -> None:
    """The recipe: a MariaDB service container, reached with database-url."""
    mysql_project(workspace, CLEAN)
    url = mariadb.url(mariadb_db)
    run = action(None, INPUT_DATABASE="mariadb", **{"INPUT_DATABASE-URL": url})
    assert run.code == 0, (run.out, run.err)
    report = json.loads((workspace / "headcheck-report.json").read_text())
    database = report["environments"][0]["database"]
    assert database["ok"] is True
    assert [s["name"] for s in database["steps"]].count("upgrade") == 4
    assert mariadb.password not in run.out + run.err + run.summary


@needs_mariadb
def test_mariadb_on_a_machine_that_has_it_starts_its_own(action: Any, workspace: Path) -> None:
    mysql_project(workspace, CLEAN)
    run = action(None, INPUT_DATABASE="mariadb")
    assert run.code == 0, (run.out, run.err)
    assert "**Database proof** ✅: MariaDB 1" in run.summary  # (its version, not "PostgreSQL 10.11-MariaDB")


def test_sqlite_runs_the_proof_on_a_file_of_its_own(action: Any, workspace: Path) -> None:
    app_db = workspace / "app.db"
    mysql_project(workspace, CLEAN, url=f"sqlite:///{app_db}")
    run = action(None, INPUT_DATABASE="sqlite")
    assert run.code == 0, (run.out, run.err)
    report = json.loads((workspace / "headcheck-report.json").read_text())
    assert report["environments"][0]["database"]["ok"] is True
    assert not app_db.exists()  # the project's own database file is never touched

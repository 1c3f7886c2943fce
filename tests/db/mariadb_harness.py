"""A real throwaway MariaDB for the tests: skipped, with one reason, only when mariadbd is absent."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from headcheck.db.backends.mariadb import MariaDB, create_database, find_mysql_bin, throwaway_server
from tests.db.harness import live_processes


def have_mariadb() -> bool:
    try:
        find_mysql_bin()
    except Exception:
        return False
    return True


needs_mariadb = pytest.mark.skipif(
    not have_mariadb(), reason="MariaDB server binaries (mariadbd, mariadb-install-db) not installed"
)


def mariadb_processes(datadir: Path) -> list[str]:
    """Live (not zombie) mariadbd processes serving this data directory (a prefix: also finds those
    under it)."""
    return live_processes(f"--datadir={datadir}")


def mariadb_processes_under(folder: Path) -> list[str]:
    """Live mariadbd processes whose data directory is anywhere under ``folder``."""
    return mariadb_processes(folder)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    """One MariaDB for the tests that only need a database (not the ones testing the server)."""
    if not have_mariadb():
        pytest.skip("MariaDB server binaries (mariadbd, mariadb-install-db) not installed")
    with throwaway_server() as srv:
        yield srv


@pytest.fixture
def mariadb_db(mariadb: MariaDB, request: pytest.FixtureRequest) -> str:
    """The name of a new, empty database on the shared MariaDB."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:40].lower() + "_" + digest
    create_database(mariadb, name)
    return name

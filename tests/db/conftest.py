"""Fixtures for the database proof: a real throwaway PostgreSQL and copies of examples/db."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headcheck.db.server import Server, throwaway_server
from tests.db.harness import EXAMPLES, databases, drop_databases, have_postgres, new_database


@pytest.fixture
def example(tmp_path: Path) -> Callable[[str], Path]:
    """``example("clean")``: a private copy of examples/db/clean."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        while target.exists():
            target = target.with_name(target.name + "-again")
        shutil.copytree(EXAMPLES / name, target)
        return target

    return copy


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One server for the tests that only need a database (not the ones testing the server)."""
    if not have_postgres():
        pytest.skip("PostgreSQL server binaries not installed")
    with throwaway_server() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _drop_new_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the shared server, the databases it created there are dropped: the
    server's files stay small and its teardown fast (it used to spend 12-19 s deleting ~25)."""
    if "server" not in request.fixturenames:
        yield
        return
    server: Server = request.getfixturevalue("server")
    before = databases(server)
    yield
    drop_databases(server, databases(server) - before)


@pytest.fixture
def fresh_db(server: Server, request: pytest.FixtureRequest) -> list[str]:
    """``--database-url URL`` of a new, empty database on the shared server: for tests about the
    migrations rather than the server (saves starting one per test). Dropped after the test."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:40].lower() + "_" + digest
    return ["--database-url", new_database(server, name)]

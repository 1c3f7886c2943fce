"""Fixtures for the database proof: a real throwaway PostgreSQL and copies of examples/db."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headcheck.db.server import Server, create_database, throwaway_server
from tests.db.harness import EXAMPLES, have_postgres


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


@pytest.fixture
def fresh_db(server: Server, request: pytest.FixtureRequest) -> list[str]:
    """``--database-url URL`` of a new, empty database on the shared server: for tests about the
    migrations rather than the server (saves starting one per test)."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:40].lower() + "_" + digest
    create_database(server, name)
    return ["--database-url", server.url(name)]

"""Test-wide setup: keep headcheck's parse cache out of the home directory; generate each Alembic
template once per session (``tests.project.alembic_generate``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests import project


@pytest.fixture(autouse=True, scope="session")
def _private_parse_cache() -> object:
    with tempfile.TemporaryDirectory(prefix="headcheck-test-cache-") as tmp:
        old = os.environ.get("HEADCHECK_CACHE_DIR")
        os.environ["HEADCHECK_CACHE_DIR"] = tmp
        yield
        if old is None:
            os.environ.pop("HEADCHECK_CACHE_DIR", None)
        else:
            os.environ["HEADCHECK_CACHE_DIR"] = old


@pytest.fixture(autouse=True, scope="session")
def _generated_projects() -> object:
    with tempfile.TemporaryDirectory(prefix="headcheck-test-generated-") as tmp:
        project.generated_root = Path(tmp)
        yield
        project.generated_root = None

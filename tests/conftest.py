"""Test-wide setup: keep headcheck's parse cache out of the home directory."""

from __future__ import annotations

import os
import tempfile

import pytest


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

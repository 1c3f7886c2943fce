"""Test-wide setup: keep headcheck's parse cache out of the home directory; generate each Alembic
template once per session (``tests.project.alembic_generate``); Ctrl-C reaches the processes the
tests interrupt."""

from __future__ import annotations

import os
import signal
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


@pytest.fixture(autouse=True, scope="session")
def _sigint_not_ignored() -> None:
    """Started in the background by a shell without job control (``nohup pytest &``, ``cmd &`` in a
    script), pytest and its xdist workers get SIGINT ignored, and every child inherits that: the
    tests that interrupt ``headcheck db`` with SIGINT would wait for a process that cannot hear it.
    Children of the tests get the default disposition back."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)

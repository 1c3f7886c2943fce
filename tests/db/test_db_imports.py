"""The database commands must not slow down or break the static gate: stdlib only at import."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("alembic", "sqlalchemy", "psycopg")


def test_importing_the_db_commands_loads_no_database_library() -> None:
    code = (
        "import sys, headcheck.cli, headcheck.commands.db, headcheck.commands.current\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_help_works_without_starting_anything() -> None:
    done = subprocess.run([sys.executable, "-m", "headcheck", "db", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for flag in (
        "--stairway",
        "--database-url",
        "--url-env",
        "--timeout",
        "--from-schema",
        "--stamp",
        "--pg-bin",
        "--force",
    ):
        assert flag in done.stdout

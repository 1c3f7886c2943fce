"""Issue 8.2: a missing optional dependency is one line and exit 2, naming the extra and the pip command.

The module is made unimportable in a subprocess (``sys.modules[name] = None``, what Python does for
an import that must fail); everything else is the real command.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.db.harness import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
SECOND_HEAD = '''"""a second head"""
revision = "e0e0e0e0e0e0"
down_revision = "b2c3d4e5f6a7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def _without(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    code = f"import sys; sys.modules[{module!r}] = None\nfrom headcheck.cli import main\nsys.exit(main({list(argv)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(
    ("module", "command", "extra"),
    [
        ("sqlalchemy", ["db"], "postgres"),
        ("psycopg", ["db"], "postgres"),
        ("psycopg", ["current", "--database-url", "postgresql://u@127.0.0.1:1/x"], "postgres"),
        ("mako", ["merge"], "fix"),
    ],
)
def test_missing_extra_is_one_line_exit_2(module: str, command: list[str], extra: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "clean", project)
    (project / "migrations" / "versions" / "e0e0e0e0e0e0_second.py").write_text(SECOND_HEAD)
    if command[0] != "merge":
        (project / "migrations" / "versions" / "e0e0e0e0e0e0_second.py").unlink()
    done = _without(module, *command, str(project))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"pip install 'headcheck[{extra}]'" in done.stderr
    assert module in done.stderr
    assert "Traceback" not in done.stderr

"""A missing optional dependency is one line and exit 2 naming the extra, never a traceback.

Each case runs headcheck in a fresh interpreter whose import system refuses the named packages,
as on a machine where only ``pip install headcheck`` was run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

BLOCK = """
import sys
from importlib.abc import MetaPathFinder

class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Block())
from headcheck.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _run(blocked: set[str], argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK.format(blocked=blocked), *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("blocked", "argv", "extra"),
    [
        ({"port_for", "pytest_postgresql", "mirakuru"}, ["db", "."], "postgres"),
        ({"psycopg"}, ["current", "--database-url", "postgresql://127.0.0.1:1/x", "."], "postgres"),
        ({"mako"}, ["merge", "."], "fix"),
    ],
)
def test_missing_extra_is_one_line_exit_2(tmp_path: Path, blocked: set[str], argv: list[str], extra: str) -> None:
    project = tmp_path / "p"
    shutil.copytree(EXAMPLES / "two-heads" if argv[0] == "merge" else EXAMPLES / "db" / "clean", project)
    done = _run(blocked, argv, project)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert f"needs the {extra!r} extra" in lines[0] and f"pip install 'headcheck[{extra}]'" in lines[0]
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr

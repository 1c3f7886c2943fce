"""Issue 9 item 6: ``python -m headcheck`` run from the checked repository's root.

``-m`` puts the current folder first on ``sys.path``; a repository that commits ``argparse.py``
(or any module headcheck imports) would run its own code in the gate. Real interpreter, real
files: every top-level module a gate run imports is planted in the repository, each one
recording that it ran.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

_LIST_IMPORTS = """
import sys
before = {name.partition('.')[0] for name in sys.modules}
from headcheck.cli import main
for fmt in ('text', 'json', 'github', 'sarif'):
    main(['check', sys.argv[1], '--format', fmt, '--output', sys.argv[2]])
main(['graph', sys.argv[1], '--output', sys.argv[2]])
after = {name.partition('.')[0] for name in sys.modules}
print('\\n'.join(sorted(after - before - {'headcheck', '__main__'})))
"""


def _imported_by_a_run(project: Path, tmp_path: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-P", "-c", _LIST_IMPORTS, str(project), str(tmp_path / "out.txt")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    names = done.stdout.split()
    assert "argparse" in names  # the example: imported by every run
    return names


def _plant(repo: Path, names: list[str]) -> Path:
    marker = repo.parent / "ran.txt"
    for name in [*names, "argparse", "typing", "json", "ast", "tokenize", "configparser"]:
        (repo / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n")
    return marker


@pytest.mark.parametrize("flags", [(), ("-P",)], ids=["python -m", "python -P -m"])
def test_repository_modules_do_not_shadow_the_standard_library(tmp_path: Path, flags: tuple[str, ...]) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "two-heads", repo)
    marker = _plant(repo, _imported_by_a_run(repo, tmp_path))
    done = subprocess.run(
        [sys.executable, *flags, "-m", "headcheck", "."], cwd=repo, capture_output=True, text=True, check=False
    )
    assert not marker.exists(), f"repository modules ran: {marker.read_text().split()}"
    assert done.returncode == 1, done.stderr  # the gate itself ran: two heads
    assert "HC101" in done.stdout


def test_python_P_ignores_a_planted_headcheck_package(tmp_path: Path) -> None:
    """Only ``-P`` (or the console script) also keeps a committed ``headcheck/`` package out."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "two-heads", repo)
    (repo / "headcheck").mkdir()
    (repo / "headcheck" / "__init__.py").write_text("")
    (repo / "headcheck" / "__main__.py").write_text("raise SystemExit(42)\n")
    done = subprocess.run([sys.executable, "-P", "-m", "headcheck", "."], cwd=repo, capture_output=True, check=False)
    assert done.returncode == 1
    done = subprocess.run([sys.executable, "-m", "headcheck", "."], cwd=repo, capture_output=True, check=False)
    assert done.returncode == 42  # why the README says -P

"""``headcheck graph``: the picture command on top of headcheck.picture."""

from __future__ import annotations

from pathlib import Path

import pytest

from headcheck.cli import main
from tests.git_project import add_revision, alembic_project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_text_marks_heads_and_the_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(EXAMPLES / "two-heads")]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[1]: line for line in out.splitlines() if line.strip()}
    assert "head" in lines["3c4d5e6f7081"]
    assert "HC101" in lines["3c4d5e6f7081"]
    assert "head" in lines["4d5e6f708192"]
    assert "HC101" in lines["4d5e6f708192"]
    assert "branch point" in lines["2b3c4d5e6f70"]
    assert "base" in lines["1a2b3c4d5e6f"]


@pytest.mark.parametrize(("fmt", "start"), [("mermaid", "flowchart"), ("dot", "digraph")])
def test_mermaid_and_dot(fmt: str, start: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(EXAMPLES / "two-heads"), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out.startswith(start)
    for rev in ("1a2b3c4d5e6f", "2b3c4d5e6f70", "3c4d5e6f7081", "4d5e6f708192"):
        assert rev in out


def test_long_linear_history_is_collapsed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alembic_project(tmp_path)
    down = None
    for i in range(40):
        rev = f"r{i:03d}"
        add_revision(tmp_path, rev, down)
        down = rev
    assert main(["graph", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) < 10
    assert "r039" in out
    assert "r000" in out


def test_output_file_and_usage_errors(tmp_path: Path) -> None:
    target = tmp_path / "graph.dot"
    assert main(["graph", str(EXAMPLES / "clean"), "-f", "dot", "-o", str(target)]) == 0
    assert target.read_text().startswith("digraph")
    assert main(["graph", str(tmp_path / "nothing-here")]) == 2
    assert main(["graph", str(EXAMPLES / "clean"), "-f", "png"]) == 2

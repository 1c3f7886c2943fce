"""The project's Python, not headcheck's: syntax newer than requires-python / --python-version fails."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from headcheck.cli import main
from headcheck.settings import oldest_python
from tests.alembic_oracle import load_versions
from tests.project import revision_file, write_project

MATCH_BODY = "\n\ndef helper(x):\n    match x:\n        case 1:\n            return 1\n"


def _project(root: Path) -> Path:
    versions = write_project(root, {"a.py": ("aaaa1", None)})
    (versions / "b.py").write_text(revision_file("bbbb2", "aaaa1") + MATCH_BODY)
    return versions


def test_requires_python_older_than_the_syntax_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = _project(tmp_path)
    assert load_versions(versions).heads == ["bbbb2"]  # Alembic on this Python loads it
    assert main([str(tmp_path)]) == 0
    capsys.readouterr()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nrequires-python = ">=3.8"\n')
    assert main([str(tmp_path)]) == 1  # the content-hash cache must not hide it
    out = capsys.readouterr().out
    assert "HC201" in out
    assert "Pattern matching is only supported in Python 3.10" in out
    assert "the project supports Python 3.8" in out


def test_python_version_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path)
    assert main([str(tmp_path), "--python-version", "3.9"]) == 1
    assert "HC201" in capsys.readouterr().out
    assert main([str(tmp_path), "--python-version", "3.10"]) == 0
    capsys.readouterr()
    assert main([str(tmp_path), "--python-version", "2.7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--python-version" in err


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (">=3.8", (3, 8)),
        (">=3.8, <4", (3, 8)),
        ("~=3.9", (3, 9)),
        ("==3.10.*", (3, 10)),
        (">=3.7,>=3.9", (3, 9)),
        ("<4", None),
        (">=2.7", (3, 4)),  # the oldest grammar ast can parse
        (">=3.2", (3, 4)),
        (f">={sys.version_info[0]}.{sys.version_info[1]}", None),  # not older than the running one
    ],
)
def test_oldest_python(spec: str, expected: tuple[int, int] | None) -> None:
    assert oldest_python(spec) == expected

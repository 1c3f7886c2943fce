"""``--format github``: annotations a plain ``pip install headcheck`` step can print."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from headcheck.cli import main
from tests.github_runner import parse_commands
from tests.project import revision_file, write_project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["--format", "github", *argv])
    return code, capsys.readouterr().out


def test_two_heads_annotates_the_revision_file_relative_to_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLES / "two-heads", tmp_path / "services" / "api")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    code, out = _run(capsys, str(tmp_path / "services" / "api"))
    assert code == 1
    (command,) = parse_commands(out)
    assert command.kind == "error"
    assert command.properties == {
        "file": "services/api/alembic/versions/4d5e6f708192_add_users_phone.py",
        "line": "16",
        "title": "HC101 multiple-heads",
    }
    assert command.message.startswith("2 heads: 3c4d5e6f7081")
    assert "\nfix: Run `headcheck merge`" in command.message
    # the human-readable report follows for the log
    assert "failed: 1 error(s)" in out


def test_without_github_workspace_paths_are_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLES / "dangling", tmp_path / "repo")
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path / "repo")
    code, out = _run(capsys, ".")
    assert code == 1
    (command,) = parse_commands(out)
    assert command.properties["file"] == "alembic/versions/3c4d5e6f7081_create_orders.py"
    assert command.properties["title"] == "HC102 dangling-down-revision"


def test_clean_history_prints_no_workflow_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, str(EXAMPLES / "clean"))
    assert code == 0
    assert parse_commands(out) == []
    assert "ok: 0 error(s)" in out


def test_warnings_are_warnings_unless_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # HC301: the docstring's Revises: line disagrees with down_revision
    text = revision_file("b2", "a1").replace("Revises: a1", "Revises: zz")
    write_project(tmp_path, {"a1_first.py": ("a1", None), "b2_second.py": text})
    code, out = _run(capsys, str(tmp_path))
    assert code == 0
    assert [c.kind for c in parse_commands(out)] == ["warning"]
    code, out = _run(capsys, "--strict", str(tmp_path))
    assert code == 1
    assert [c.kind for c in parse_commands(out)] == ["error"]


def test_many_findings_stop_at_ten_errors_and_a_counting_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    revisions: dict[str, object] = {"a0_base.py": ("a0", None)}
    for k in range(1, 13):
        revisions[f"b{k:02d}_broken.py"] = (f"b{k:02d}", f"missing{k:02d}")
    write_project(tmp_path, revisions)
    code, out = _run(capsys, str(tmp_path))
    assert code == 1
    commands = parse_commands(out)
    assert [c.kind for c in commands].count("error") == 10
    assert commands[-1].kind == "notice"
    assert "error(s) more not shown" in commands[-1].message or "more not shown" in commands[-1].message
    assert out.count("HC102 error") >= 12  # the log still lists every finding


def test_a_finding_about_a_folder_is_attached_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_project(tmp_path, {"a1_x.py": ("a1", None)})
    (versions / "archive").mkdir()
    (versions / "archive" / "b2_old.py").write_text(revision_file("b2", "a1"))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    code, out = _run(capsys, str(tmp_path))
    assert code == 0
    (command,) = parse_commands(out)
    assert command.kind == "warning"
    assert command.properties["title"] == "HC302 ignored-subfolder"
    assert command.properties["file"] == "alembic.ini"
    assert "line" not in command.properties


def test_github_sarif_summary_and_action_import_only_the_standard_library() -> None:
    """The house rule for the static path: nothing heavy at import time."""
    code = (
        "import sys, headcheck.report.github, headcheck.report.sarif, headcheck.summary, headcheck.picture, "
        "headcheck.commands.action, headcheck.github\n"
        "heavy = {'alembic', 'sqlalchemy', 'yaml', 'mako', 'psycopg', 'jsonschema'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

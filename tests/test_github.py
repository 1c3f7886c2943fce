"""headcheck.github: the file and workflow commands, checked against the runner's parsers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from headcheck.github import (
    Annotation,
    InputError,
    annotation_lines,
    append_summary,
    format_annotation,
    get_bool_input,
    get_input,
    input_variable,
    safe_directory_environment,
    workspace_relative,
    write_outputs,
)
from tests.github_runner import parse_commands, parse_output_file


def test_input_names_keep_hyphens_and_turn_spaces_into_underscores() -> None:
    assert input_variable("fail-on") == "INPUT_FAIL-ON"
    assert input_variable("database url") == "INPUT_DATABASE_URL"
    env = {"INPUT_FAIL-ON": "  warning \n", "INPUT_CONFIG": ""}
    assert get_input("fail-on", env) == "warning"
    assert get_input("config", env) == ""
    assert get_input("absent", env) == ""


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("TRUE", True), ("False", False), ("", True)])
def test_boolean_inputs_follow_get_boolean_input(raw: str, expected: bool) -> None:
    assert get_bool_input("stairway", True, {"INPUT_STAIRWAY": raw}) is expected


@pytest.mark.parametrize("raw", ["yes", "1", "tRue"])
def test_boolean_inputs_reject_what_the_toolkit_rejects(raw: str) -> None:
    with pytest.raises(InputError, match="stairway"):
        get_bool_input("stairway", False, {"INPUT_STAIRWAY": raw})


def test_annotation_round_trips_through_the_runner_parser() -> None:
    message = "100% broken:\r\nline two, with: colons"
    line = format_annotation(Annotation("error", message, "dir,with:odd%/x.py", 7, "HC101 multiple-heads: a,b"))
    assert "\n" not in line
    assert "\r" not in line
    (command,) = parse_commands(line)
    assert command.kind == "error"
    assert command.message == message.replace("\r\n", "\n")  # line breaks kept, normalised (logsafe.block)
    assert command.properties == {"file": "dir,with:odd%/x.py", "line": "7", "title": "HC101 multiple-heads: a,b"}


def test_annotation_without_file_has_no_line() -> None:
    assert format_annotation(Annotation("warning", "m", None, 3)) == "::warning::m"


def test_at_most_ten_annotations_per_kind_then_one_notice_with_the_count() -> None:
    items = [Annotation("error", f"e{k}", "a.py", k + 1) for k in range(25)]
    items += [Annotation("warning", f"w{k}") for k in range(3)]
    items += [Annotation("notice", f"n{k}") for k in range(12)]
    commands = parse_commands("\n".join(annotation_lines(items)))
    kinds = [c.kind for c in commands]
    assert kinds.count("error") == 10
    assert kinds.count("warning") == 3
    assert kinds.count("notice") == 10  # 9 of ours + the count, so the count itself is shown
    assert [c.message for c in commands if c.kind == "error"] == [f"e{k}" for k in range(10)]
    last = commands[-1]
    assert last.kind == "notice"
    assert "15 error(s)" in last.message
    assert "3 notice(s)" in last.message


def test_no_overflow_notice_when_everything_fits() -> None:
    items = [Annotation("error", f"e{k}") for k in range(10)] + [Annotation("notice", f"n{k}") for k in range(10)]
    assert len(annotation_lines(items)) == 20


def test_outputs_survive_any_value(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.write_text("earlier=1\n", encoding="utf-8")  # other steps' lines stay
    values = {
        "ok": "false",
        "heads": '["a", "b"]',
        "multi": "line one\nEOF\nghadelimiter_x\n\nlast",
        "empty": "",
        "unicode": "révision ✓",
    }
    write_outputs(out, values)
    assert parse_output_file(out) == {"earlier": "1", **values}


def test_summary_over_the_limit_is_replaced_by_a_note(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    assert append_summary(path, "# ok\n", limit=1000)
    assert not append_summary(path, "x" * 2000, limit=1000)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ok\n")
    assert "over GitHub's" in text
    assert "x" * 10 not in text
    assert path.stat().st_size < 1000


def test_workspace_relative_paths(tmp_path: Path) -> None:
    assert workspace_relative(tmp_path / "a" / "b.py", tmp_path) == "a/b.py"
    assert workspace_relative(tmp_path.parent / "c.py", tmp_path) == "../c.py"


def test_safe_directory_environment_appends_to_existing_config() -> None:
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.pager", "GIT_CONFIG_VALUE_0": "cat"}
    extra = safe_directory_environment(Path("/github/workspace"), env)
    assert extra == {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_1": "safe.directory",
        "GIT_CONFIG_VALUE_1": "/github/workspace",
    }
    assert safe_directory_environment(Path("/github/workspace"), {**env, **extra}) == {}


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root, as in the action container")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_trusts_a_foreign_owned_workspace_only_with_the_environment(tmp_path: Path) -> None:
    """The action container's situation: root, a checkout owned by the runner's uid (actions/runner#2033)."""
    repo = tmp_path / "workspace"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for dirpath, _, filenames in os.walk(repo):
        os.chown(dirpath, 1001, 1001)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), 1001, 1001)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base.update(HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1")
    plain = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=repo, env=base, capture_output=True, text=True)
    assert plain.returncode != 0
    assert "dubious ownership" in plain.stderr
    trusted = {**base, **safe_directory_environment(repo, base)}
    ok = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=repo, env=trusted, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert not (tmp_path / ".gitconfig").exists()


def test_an_absent_input_takes_the_default_but_an_empty_one_stays_empty() -> None:
    assert get_input("report", {}, default="headcheck-report.json") == "headcheck-report.json"
    assert get_input("report", {"INPUT_REPORT": ""}, default="headcheck-report.json") == ""

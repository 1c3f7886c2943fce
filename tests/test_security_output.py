"""Issue 9 items 3 and 4: the attacks as reported, one test each (the fuzz test generalises them).

Item 3: revision ids, file and folder names reach the CI log raw, so the runner takes them as
workflow commands (``##[error ...]`` anywhere in a line, ``::error::`` at a line start after a
newline in a folder name, ``##[stop-commands]`` silencing headcheck's own annotations).
Item 4: a revision id with a newline or a backtick closes the inline code span and the Mermaid
fence of the job summary; an ini section name lands in a heading unescaped.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from headcheck import summary
from headcheck.cli import main
from headcheck.gate import run_gate
from headcheck.settings import Settings
from tests.git_project import git
from tests.github_runner import action_environment, parse_commands, runner_commands

SPOOF = "bbbb##[error title=Security]headcheck found a vulnerability"
STOP = "cccc##[stop-commands]tok"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BREAK_OUT = "dddd`\n## Owned\n![x](https://evil.example/x.png) <img src=x>\n```\n"


def _revision(rev: str, down: str | None) -> str:
    return f"revision = {rev!r}\ndown_revision = {down!r}\n"


def _project(root: Path, section: str = "alembic") -> Path:
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(f"[{section}]\nscript_location = %(here)s/alembic\n")
    (versions / "a_base.py").write_text(_revision("aaaa", None))
    (versions / "b_spoof.py").write_text(_revision(SPOOF, "aaaa"))
    (versions / "c_stop.py").write_text(_revision(STOP, "aaaa"))
    (versions / "d_break.py").write_text(_revision(BREAK_OUT, "aaaa"))
    return versions


@pytest.mark.parametrize("fmt", ["text", "github", "json", "sarif"])
def test_revision_ids_do_not_become_workflow_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    _project(tmp_path)
    assert main(["check", str(tmp_path), "--format", fmt]) == 1
    out, err = capsys.readouterr()
    found = runner_commands(out + err)
    if fmt == "github":  # headcheck's own annotations, nothing else
        annotations = parse_commands(out)
        assert [c.line for c in found] == [line for line in out.splitlines() if line.startswith("::")]
        assert len(found) == len(annotations) >= 1
        assert all(re.fullmatch(r"HC\d{3} [a-z-]+", a.properties["title"]) for a in annotations)
        assert any("bbbb#\\x23[error title=Security]" in a.message for a in annotations)
    else:
        assert found == []
    if fmt == "text":
        assert "bbbb#\\x23[error title=Security]headcheck found a vulnerability" in out
        assert "dddd`\\n## Owned" in out  # the newline is shown, not obeyed


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_base_description_does_not_obey_newlines_in_folder_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--base``'s "your change adds ..." line names the new files: a folder with ``\\n::error``."""
    repo = tmp_path / "repo"
    versions = repo / "versions"
    versions.mkdir(parents=True)
    (versions / "a_base.py").write_text(_revision("aaaa", None))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    folder = versions / "x\n::error title=From the PR::owned\n##[add-mask]y"
    folder.mkdir()
    (folder / "b_next.py").write_text(_revision("bbbb::error::x", "aaaa"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feature")
    code = main(["check", "--versions", str(versions), "--recursive", "--base", "main", str(repo)])
    out, err = capsys.readouterr()
    assert code == 1, out + err  # HC110: ':' is not allowed in an id
    # The newline is shown as \n, so "::error" is not at a line start and needs nothing more.
    assert "your change adds 1 revision(s): bbbb::error::x (versions/x\\n::error title=From" in err
    assert len(err.splitlines()) == 2
    assert runner_commands(out + err) == []


def test_an_error_quoting_a_hostile_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x\n::error::owned\r##[stop-commands]t"
    path.mkdir()
    assert main(["check", str(path)]) == 2
    _, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert "\r" not in err
    assert runner_commands(err) == []


def test_job_summary_keeps_its_structure_with_hostile_ids_and_section_names(tmp_path: Path) -> None:
    _project(tmp_path, section="## <img src=x> [l](https://evil.example) `|`")
    (tmp_path / "alembic.ini").write_text(
        (tmp_path / "alembic.ini").read_text() + "\n[second]\nscript_location = %(here)s/other\n"
    )
    (tmp_path / "other" / "versions").mkdir(parents=True)
    (tmp_path / "other" / "versions" / "o.py").write_text(_revision(BREAK_OUT + "2", None))
    result = run_gate(tmp_path, Settings())
    text = summary.render(result, base=tmp_path, environ={})
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    flat = [c for t in tokens for c in [t, *(t.children or [])]]
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h2", "h3", "h3"]
    assert not [t for t in flat if t.type in ("image", "link_open")]
    assert {t.content for t in flat if t.type == "html_inline"} <= {"<br>"}
    assert [t.info for t in tokens if t.type == "fence"] == ["mermaid", "mermaid"]
    assert sum(t.type == "tr_open" for t in tokens) == 3  # the header and one per environment, none of the author's
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert {len(re.findall(r"(?<!\\)\|", row)) for row in rows} == {7}  # six cells each
    heading = next(tokens[k + 1] for k, t in enumerate(tokens) if t.tag == "h3")
    shown = "".join(c.content for c in heading.children or [] if c.type in ("text", "code_inline"))
    assert "## <img src=x> [l](https://evil.example) `|`" in shown
    for fence in (t for t in tokens if t.type == "fence"):
        assert "\n## Owned" not in fence.content
        assert "https://evil.example" in fence.content


@pytest.mark.parametrize("fmt", ["text", "mermaid", "dot", "table"])
def test_graph_output_with_hostile_names(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    _project(tmp_path, section="x %%{init: {'securityLevel': 'loose'}}%% ##[error]y")
    (tmp_path / "alembic.ini").write_text(
        (tmp_path / "alembic.ini").read_text() + "\n[second]\nscript_location = %(here)s/other\n"
    )
    (tmp_path / "other" / "versions").mkdir(parents=True)
    (tmp_path / "other" / "versions" / "o.py").write_text(_revision(BREAK_OUT, None))
    assert main(["graph", str(tmp_path), "--format", fmt]) == 0
    out, _ = capsys.readouterr()
    assert runner_commands(out) == []
    assert "\n## Owned" not in out
    if fmt == "mermaid":
        assert "%%{" not in out


MIGRATION_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "versions/b.py", line 3, in upgrade\n'
    "RuntimeError: boom\n::error title=From the migration::owned\r##[add-mask]x\n\x1b[2J##[stop-commands]t"
)


def test_the_database_proof_log_keeps_migration_output_inert(capsys: pytest.CaptureFixture[str]) -> None:
    """A migration's own output (its exception message) is the pull request's: text report and Action log."""
    from headcheck.commands.action import _print_database_log
    from headcheck.db.proof import Proof, Step
    from headcheck.db.report import text_section

    proof = Proof("15.18", 1.0, (Step("upgrade", SPOOF, 0.1, False, MIGRATION_ERROR),), ())
    section = text_section(f"alembic {STOP}", proof)
    assert runner_commands(section) == []
    assert "\x1b" not in section
    assert "\r" not in section
    assert "       :\\x3aerror title=From the migration::owned" in section  # one log line per error line

    result = run_gate(EXAMPLES / "clean", Settings())
    _print_database_log(result, [proof])
    out, _ = capsys.readouterr()
    assert runner_commands(out) == []
    assert "RuntimeError: boom" in out


def test_the_action_log_has_only_headcheck_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "workspace"
    _project(workspace, section="x ##[error]y")
    files = tmp_path / "files"
    files.mkdir()
    action_environment(monkeypatch, workspace, files, {"INPUT_SARIF": "headcheck.sarif"})
    monkeypatch.chdir(workspace)
    assert main(["action"]) == 1
    out, err = capsys.readouterr()
    found = runner_commands(out + err)
    assert found
    assert [c.line for c in found] == [line for line in out.splitlines() if line.startswith("::")]
    assert all(re.fullmatch(r"HC\d{3} [a-z-]+", c.properties["title"]) for c in parse_commands(out))
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse((files / "summary.md").read_text())
    flat = [c for t in tokens for c in [t, *(t.children or [])]]
    assert not [t for t in flat if t.type in ("image", "link_open")]
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h2", "h3"]


def test_action_outputs_echoed_by_a_later_step_start_no_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``echo "heads: $HEADS"`` in the user's next step (examples/github/pr-gate.yml)."""
    import json

    from tests.github_runner import parse_output_file

    workspace = tmp_path / "workspace"
    _project(workspace)
    files = tmp_path / "files"
    files.mkdir()
    (files / "output").write_text("")
    for key in [k for k in os.environ if k.startswith(("INPUT_", "GIT_CONFIG_"))]:
        monkeypatch.delenv(key)
    for key in ("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0"):
        monkeypatch.setenv(key, "-")
        monkeypatch.delenv(key)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workspace))
    monkeypatch.setenv("GITHUB_OUTPUT", str(files / "output"))
    monkeypatch.chdir(workspace)
    assert main(["action"]) == 1
    capsys.readouterr()
    outputs = parse_output_file(files / "output")
    assert SPOOF in json.loads(outputs["heads"])  # the data, exactly
    assert runner_commands(f"heads: {outputs['heads']}\n{outputs['heads-by-environment']}") == []

"""Fix texts are commands that work as printed, and never advice that breaks the history further."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from headcheck.cli import main
from tests.git_project import (
    add_revision,
    alembic_heads,
    alembic_project,
    commit_all,
    forked_repo,
    git,
)


def _report(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    main([str(path), "--format", "json", "--no-cache"])
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


def _findings(report: dict[str, object], code: str) -> list[dict[str, object]]:
    envs = report["environments"]
    assert isinstance(envs, list)
    return [f for env in envs for f in env["findings"] if f["code"] == code]


def _commands(fix: str) -> list[list[str]]:
    """Every `headcheck ...` command quoted in a fix text."""
    return [shlex.split(cmd)[1:] for cmd in re.findall(r"`(headcheck [^`]*)`", fix)]


@pytest.mark.parametrize("heads", [2, 3])
def test_every_headcheck_command_in_the_hc101_fix_runs_as_printed(
    tmp_path: Path, heads: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    alembic_project(tmp_path)
    add_revision(tmp_path, "aaaa", None)
    for k in range(heads):
        add_revision(tmp_path, f"b{k}b{k}", "aaaa")
    add_revision(tmp_path, "b1c1", "b1b1")  # one branch is longer: it stays
    monkeypatch.chdir(tmp_path)
    (finding,) = _findings(_report(tmp_path, capsys), "HC101")
    fix = finding["fix"]
    assert isinstance(fix, str)
    commands = _commands(fix)
    assert [c[0] for c in commands] == ["merge", "rebase"]
    for argv in commands:
        snapshot = {p: p.read_bytes() for p in (tmp_path / "alembic" / "versions").glob("*.py")}
        assert main(argv) == 0, argv
        after = alembic_heads(tmp_path)
        assert len(after) == (1 if argv[0] == "merge" else heads - 1), (argv, after)
        for p in (tmp_path / "alembic" / "versions").glob("*.py"):  # undo, then try the next command
            if p not in snapshot:
                p.unlink()
        for p, data in snapshot.items():
            p.write_bytes(data)
    capsys.readouterr()


def _recursion_project(root: Path, legacy: dict[str, object]) -> None:
    alembic_project(root)
    add_revision(root, "aaaa", None)
    add_revision(root, "bbbb", "aaaa")
    sub = root / "alembic" / "versions" / "legacy"
    sub.mkdir()
    for rev, down in legacy.items():
        src = (root / "alembic" / "versions" / "bbbb_add.py").read_text()
        (sub / f"{rev}_old.py").write_text(src.replace("'bbbb'", repr(rev)).replace("'aaaa'", repr(down)))


def _heads_with_recursion(root: Path) -> list[str]:
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text() + "recursive_version_locations = true\n")
    try:
        return alembic_heads(root)
    except Exception as exc:  # Alembic's verdict, whatever it is
        return [f"error: {exc}"]


@pytest.mark.parametrize(
    ("legacy", "suggested"),
    [
        ({"cccc": "bbbb"}, True),  # a continuation of the history: recursion is the fix
        ({"bbbb": "aaaa"}, False),  # an excluded copy: recursion would duplicate bbbb
        ({"zzzz": None}, False),  # an excluded separate base: recursion would add a head
    ],
)
def test_hc302_suggests_recursion_only_when_alembic_then_has_one_head(
    tmp_path: Path, legacy: dict[str, object], suggested: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    _recursion_project(tmp_path, legacy)
    (finding,) = _findings(_report(tmp_path, capsys), "HC302")
    fix = str(finding["fix"])
    assert ("would" not in fix) is suggested, fix
    assert fix.startswith("Set `recursive_version_locations = true`") is suggested, fix
    heads = _heads_with_recursion(tmp_path)
    # The oracle: with recursion on, Alembic has exactly one clean head only where we suggested it.
    assert heads == [next(iter(legacy))] if suggested else heads != ["bbbb"], heads


def test_hc102_after_rebase_onto_an_unmerged_branch_says_merge_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = forked_repo(tmp_path)  # feature: aaaa -> bbbb -> cccc; main also has dddd on bbbb
    monkeypatch.chdir(repo)
    assert main(["rebase", "--base", "main"]) == 0
    out = capsys.readouterr().out
    assert "cccc now revises dddd" in out
    assert "next: dddd exists on main only; merge main into your branch (`git merge main`)" in out
    commit_all(repo, "rebase cccc onto dddd")

    (finding,) = _findings(_report(repo, capsys), "HC102")
    assert finding["fix"] == (
        "dddd exists on main: merge or rebase main into your branch (`git merge main`), "
        "then run headcheck again; do not change down_revision"
    )
    git(repo, "merge", "-q", "--no-edit", "main")
    assert main([str(repo), "--no-cache"]) == 0
    assert alembic_heads(repo) == ["cccc"]


def test_hc102_without_any_branch_defining_the_parent_keeps_the_usual_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = forked_repo(tmp_path)
    add_revision(repo, "eeee", "ffff")  # ffff exists nowhere; a file merely mentioning it does not count
    (repo / "alembic" / "versions" / "notes.py").write_text("# ffff is planned\n")
    commit_all(repo, "dangling")
    git(repo, "branch", "other")
    (finding,) = _findings(_report(repo, capsys), "HC102")
    assert "exists on" not in str(finding["fix"])
    assert "to an existing revision" in str(finding["fix"])


def test_one_revision_is_not_plural(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alembic_project(tmp_path)
    add_revision(tmp_path, "aaaa", None)
    assert main([str(tmp_path), "--no-cache"]) == 0
    assert "alembic (alembic.ini): 1 revision, heads: aaaa" in capsys.readouterr().out
    add_revision(tmp_path, "bbbb", "aaaa")
    assert main([str(tmp_path), "--no-cache"]) == 0
    assert "alembic (alembic.ini): 2 revisions, heads: bbbb" in capsys.readouterr().out


def test_graph_table_keeps_messages_out_of_the_title_column(capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    assert main(["graph", str(examples / "dangling"), "--format", "table"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["| revision", "title", "role / findings", "revises |"]
    (missing,) = [r for r in rows if r[0] == "| `2b3c4d5e6f70_add_users_name`"]
    assert missing[1] == ""
    assert "no such revision" in missing[2]


def test_json_counts_revisions_as_alembic_does_and_files_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alembic_project(tmp_path)
    add_revision(tmp_path, "aaaa", None)
    add_revision(tmp_path, "bbbb", "aaaa")
    (tmp_path / "alembic" / "versions" / "bbbb_copy.py").write_text(
        (tmp_path / "alembic" / "versions" / "bbbb_add.py").read_text()
    )
    report = _report(tmp_path, capsys)
    envs = report["environments"]
    assert isinstance(envs, list)
    (env,) = envs
    assert (env["revisions"], env["files"]) == (2, 3)
    with pytest.warns(UserWarning, match="Revision bbbb is present more than once"):
        alembic_heads(tmp_path)  # Alembic loads it, keeping one bbbb: two revisions

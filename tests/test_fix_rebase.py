"""``headcheck rebase``: one branch moves onto the other head with a minimal, in-place edit."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from headcheck.cli import main
from headcheck.fix import FixError
from headcheck.fix.rebase import rewrite_down_revision
from tests.git_project import (
    add_revision,
    alembic_heads,
    alembic_project,
    alembic_upgrade_heads,
    commit_all,
    forked_repo,
    git,
    revision_text,
)


def changed_lines(old: str, new: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def two_heads(root: Path) -> None:
    alembic_project(root)
    add_revision(root, "aaaa", None)
    add_revision(root, "bbbb", "aaaa")
    add_revision(root, "cccc", "aaaa")
    add_revision(root, "cccd", "cccc")  # cccc's branch has two revisions; only its root moves


def test_refuses_without_a_choice_and_lists_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two_heads(tmp_path)
    assert main(["rebase", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "`headcheck rebase bbbb` moves bbbb" in err
    assert "`headcheck rebase cccd` moves cccd" in err
    assert alembic_heads(tmp_path) == ["bbbb", "cccd"]


def test_rebase_a_branch_minimal_diff_and_alembic_one_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two_heads(tmp_path)
    root_file = tmp_path / "alembic" / "versions" / "cccc_add.py"
    before = root_file.read_text()
    assert main(["rebase", "cccd", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "moved cccd on top of bbbb: cccc now revises bbbb (was aaaa)" in out
    after = root_file.read_text()
    assert changed_lines(before, after) == [
        "-Revises: aaaa",
        "+Revises: bbbb",
        "-down_revision: Union[str, Sequence[str], None] = 'aaaa'",
        "+down_revision: Union[str, Sequence[str], None] = 'bbbb'",
    ]
    assert alembic_heads(tmp_path) == ["cccd"]
    assert alembic_upgrade_heads(tmp_path) == ["alembic_version", "t_aaaa", "t_bbbb", "t_cccc", "t_cccd"]


def test_a_lone_path_argument_and_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two_heads(tmp_path)
    assert main(["rebase", "bbbb", "--onto", "cccd", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+down_revision: Union[str, Sequence[str], None] = 'cccd'" in out
    assert alembic_heads(tmp_path) == ["bbbb", "cccd"]  # nothing written
    assert main(["rebase", str(tmp_path)]) == 1  # the lone positional is the path, no REV: refuse


def test_rebase_with_base_moves_the_change_and_then_merges_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = forked_repo(tmp_path)  # feature adds cccc on bbbb; main has dddd on bbbb
    assert main(["rebase", str(repo), "--base", "main"]) == 0
    assert "moved cccc on top of dddd" in capsys.readouterr().out
    assert main(["check", str(repo), "--base", "main"]) == 0
    commit_all(repo, "rebase migration")
    git(repo, "merge", "-q", "--no-edit", "main")
    assert alembic_heads(repo) == ["cccc"]
    assert alembic_upgrade_heads(repo) == ["alembic_version", "t_aaaa", "t_bbbb", "t_cccc", "t_dddd"]


def test_keeps_quotes_crlf_and_other_forms() -> None:
    crlf = revision_text("cccc", "aaaa").replace("'aaaa'", '"aaaa"').replace("\n", "\r\n").encode()
    new = rewrite_down_revision(crlf, "bbbb", ("aaaa",))
    assert b'down_revision: Union[str, Sequence[str], None] = "bbbb"\r\n' in new
    assert b"Revises: bbbb\r\n" in new
    assert new.count(b"\r\n") == crlf.count(b"\r\n")
    assert b"\n" not in new.replace(b"\r\n", b"")

    unpacked = b'"""x\n\nRevises: aaaa\n"""\nrevision, down_revision = "cccc", "aaaa"  # ids\n'
    assert rewrite_down_revision(unpacked, "bbbb", ("aaaa",)) == (
        b'"""x\n\nRevises: bbbb\n"""\nrevision, down_revision = "cccc", "bbbb"  # ids\n'
    )
    no_doc = b"revision = 'cccc'\ndown_revision = ('aaaa',)\n"
    assert rewrite_down_revision(no_doc, "bbbb", ("aaaa",)) == b"revision = 'cccc'\ndown_revision = 'bbbb'\n"
    with pytest.raises(FixError, match="no longer"):
        rewrite_down_revision(no_doc, "bbbb", ("zzzz",))


def test_refuses_separate_bases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alembic_project(tmp_path)
    add_revision(tmp_path, "aaaa", None)
    add_revision(tmp_path, "xxxx", None)
    assert main(["rebase", "xxxx", str(tmp_path)]) == 1
    assert "share no history; use headcheck merge" in capsys.readouterr().err


def test_rebase_never_writes_through_a_symlinked_revision_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull request may commit its revision file as a symlink to a file outside the repository."""
    project = tmp_path / "p"
    two_heads(project)
    outside = tmp_path / "outside.py"
    root_file = project / "alembic" / "versions" / "cccc_add.py"
    outside.write_bytes(root_file.read_bytes())
    root_file.unlink()
    root_file.symlink_to(outside)
    before = outside.read_bytes()
    assert main(["rebase", "cccd", str(project)]) == 2
    assert "is a symbolic link: refusing to write through it" in capsys.readouterr().err
    assert outside.read_bytes() == before

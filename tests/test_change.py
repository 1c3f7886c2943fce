"""``headcheck check --base REF``: the post-merge history, read from real git repositories.

Also holds the small builders the fix and git tests share: a real Alembic project on SQLite
(real env.py, the generic script.py.mako) inside a real git repository.
"""

from __future__ import annotations

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
    revision_text,
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_out_of_date_branch_fails_only_against_its_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = forked_repo(tmp_path)
    code, out, _ = run(capsys, "check", str(repo))
    assert code == 0, out  # the branch alone is linear

    code, out, err = run(capsys, "check", str(repo), "--base", "main")
    assert code == 1
    assert (
        "your revision cccc (alembic/versions/cccc_add.py:16) revises bbbb, but main already has dddd on top of bbbb; "
        "set down_revision = 'dddd' or run headcheck rebase" in out
    )
    assert "alembic/versions/cccc_add.py:16: HC101" in out
    assert "your change adds 1 revision(s): cccc (alembic/versions/cccc_add.py)" in err
    assert "merge base" in err


def test_json_output_stays_clean_with_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    repo = forked_repo(tmp_path)
    code, out, _ = run(capsys, "check", str(repo), "--base", "main", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert "HC101" in json.dumps(data)


def test_branch_that_merged_its_base_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = forked_repo(tmp_path)
    git(repo, "merge", "-q", "--no-edit", "main")
    add_revision(repo, "eeee", ("cccc", "dddd"), "merge")
    commit_all(repo, "merge revision")
    code, out, err = run(capsys, "check", str(repo), "--base", "main")
    assert code == 0, out
    assert "adds 2 revision(s): cccc" in err
    assert "eeee" in err
    assert alembic_heads(repo) == ["eeee"]


def test_base_only_file_deleted_after_fork_is_not_resurrected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    alembic_project(repo)
    add_revision(repo, "aaaa", None)
    add_revision(repo, "zzzz", "aaaa")  # a mistake main removes later
    commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    add_revision(repo, "cccc", "aaaa")
    (repo / "alembic" / "versions" / "zzzz_add.py").unlink()
    commit_all(repo, "feature drops zzzz too and adds cccc")
    git(repo, "checkout", "-q", "main")
    (repo / "alembic" / "versions" / "zzzz_add.py").unlink()
    commit_all(repo, "main: drop zzzz")
    git(repo, "checkout", "-q", "feature")
    code, out, _ = run(capsys, "check", str(repo), "--base", "main")
    assert code == 0, out


def test_edited_applied_revision_is_an_error_with_opt_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = forked_repo(tmp_path)
    git(repo, "merge", "-q", "--no-edit", "main")
    (repo / "alembic" / "versions" / "cccc_add.py").write_text(revision_text("cccc", "dddd"))
    bbbb = repo / "alembic" / "versions" / "bbbb_add.py"
    bbbb.write_text(bbbb.read_text().replace("CREATE TABLE t_bbbb (id INTEGER)", "CREATE TABLE t_bbbb (id TEXT)"))
    code, out, _ = run(capsys, "check", str(repo), "--base", "main")
    assert code == 1
    assert "alembic/versions/bbbb_add.py:22: HC501 error: revision bbbb already exists on main" in out
    assert "HC101" not in out

    code, out, _ = run(capsys, "check", str(repo), "--base", "main", "--allow-history-edits")
    assert code == 0, out
    code, out, _ = run(capsys, "check", str(repo), "--base", "main", "--ignore", "HC501")
    assert code == 0, out


def test_comment_only_edit_is_not_a_history_edit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = forked_repo(tmp_path)
    git(repo, "merge", "-q", "--no-edit", "main")
    (repo / "alembic" / "versions" / "cccc_add.py").write_text(revision_text("cccc", "dddd"))
    bbbb = repo / "alembic" / "versions" / "bbbb_add.py"
    bbbb.write_text(bbbb.read_text().replace("def upgrade() -> None:", "# reviewed\ndef upgrade() -> None:"))
    code, out, _ = run(capsys, "check", str(repo), "--base", "main")
    assert code == 0, out


def test_reparented_and_deleted_applied_revisions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = forked_repo(tmp_path)
    # The feature branch re-parents main's bbbb and deletes nothing yet.
    (repo / "alembic" / "versions" / "bbbb_add.py").write_text(revision_text("bbbb", None))
    (repo / "alembic" / "versions" / "aaaa_add.py").unlink()
    code, out, _ = run(capsys, "check", str(repo), "--base", "main")
    assert code == 1
    assert "HC503 error: revision bbbb revises aaaa on main, but your change re-parents it onto None" in out
    assert "HC502 error: revision aaaa exists on main (alembic/versions/aaaa_add.py) and your change deletes it" in out


def test_renamed_file_is_not_a_deletion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = forked_repo(tmp_path)
    git(repo, "merge", "-q", "--no-edit", "main")
    (repo / "alembic" / "versions" / "cccc_add.py").write_text(revision_text("cccc", "dddd"))
    versions = repo / "alembic" / "versions"
    (versions / "aaaa_add.py").rename(versions / "aaaa_initial.py")
    code, out, _ = run(capsys, "check", str(repo), "--base", "main")
    assert code == 0, out


def test_unknown_ref_and_no_repository_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = forked_repo(tmp_path)
    code, _, err = run(capsys, "check", str(repo), "--base", "origin/nope")
    assert code == 2
    assert "unknown git ref 'origin/nope'" in err
    assert "Traceback" not in err
    plain = tmp_path / "plain"
    alembic_project(plain)
    add_revision(plain, "aaaa", None)
    code, _, err = run(capsys, "check", str(plain), "--base", "main")
    assert code == 2
    assert "not inside a git work tree" in err


def test_shallow_clone_with_fetched_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    origin = forked_repo(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{origin}", str(clone))
    code, _, err = run(capsys, "check", str(clone), "--base", "origin/main")
    assert code == 2
    assert "git fetch" in err
    git(clone, "fetch", "-q", "--depth", "2", "origin", "main:refs/remotes/origin/main")
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    code, out, err = run(capsys, "check", str(clone), "--base", "origin/main")
    assert code == 1
    assert "your revision cccc (alembic/versions/cccc_add.py:16) revises bbbb, but origin/main already has dddd" in out
    assert "no merge base" in err


def test_shallow_clone_fetch_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    origin = forked_repo(tmp_path)  # origin's HEAD is the feature branch
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(clone))
    git(clone, "fetch", "-q", "--depth", "3", "origin", "main")  # single-branch clone: only FETCH_HEAD
    code, out, _ = run(capsys, "check", str(clone), "--base", "FETCH_HEAD")
    assert code == 1
    assert "but FETCH_HEAD already has dddd on top of bbbb" in out


def test_shallow_clone_after_rebase_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    origin = forked_repo(tmp_path)
    (origin / "alembic" / "versions" / "cccc_add.py").write_text(revision_text("cccc", "dddd"))
    commit_all(origin, "feature: cccc on top of dddd")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{origin}", str(clone))
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    code, out, _ = run(capsys, "check", str(clone), "--base", "origin/main")
    assert code == 0, out


def test_recursive_locations_read_subfolders_at_ref(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    alembic_project(repo, "recursive_version_locations = true\n")
    add_revision(repo, "aaaa", None)
    commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    add_revision(repo, "cccc", "aaaa")
    commit_all(repo, "feature")
    git(repo, "checkout", "-q", "main")
    sub = repo / "alembic" / "versions" / "2026"
    sub.mkdir()
    (sub / "dddd_add.py").write_text(revision_text("dddd", "aaaa"))
    (sub / "__pycache__").mkdir()
    (sub / "__pycache__" / "junk.py").write_text("x = 1\n")  # never a revision, even if committed
    git(repo, "add", "-f", "-A")
    git(repo, "commit", "-q", "-m", "main: dddd in a subfolder")
    git(repo, "checkout", "-q", "feature")
    code, out, _ = run(capsys, "check", str(repo), "--base", "main")
    assert code == 1
    assert "main already has dddd on top of aaaa" in out
    assert "junk" not in out

"""headcheck.git: reading another commit's files through git plumbing, in full and shallow clones."""

from __future__ import annotations

from pathlib import Path

import pytest

from headcheck.git import GitError, is_shallow, ls_tree, merge_base, read_blobs, resolve, toplevel
from tests.git_project import commit_all, forked_repo, git


def test_reads_files_at_a_ref_not_from_disk(tmp_path: Path) -> None:
    repo = forked_repo(tmp_path)  # feature checked out: main's dddd is not on disk
    assert not (repo / "alembic" / "versions" / "dddd_add.py").exists()
    main = resolve(repo, "main")
    entries = ls_tree(repo, main, "alembic/versions", recursive=False)
    names = sorted(e.path for e in entries)
    assert names == [f"alembic/versions/{r}_add.py" for r in ("aaaa", "bbbb", "dddd")]
    blobs = read_blobs(repo, [e.sha for e in entries])
    dddd = next(e for e in entries if e.path.endswith("dddd_add.py"))
    assert b"revision: str = 'dddd'" in blobs[dddd.sha]
    assert ls_tree(repo, main, "no/such/folder", recursive=True) == []


def test_read_blobs_handles_binary_and_empty_content(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "empty.py").write_bytes(b"")
    (repo / "bin.py").write_bytes(b"\x00\n\xff\n\n")
    commit_all(repo, "files")
    entries = {e.path: e.sha for e in ls_tree(repo, resolve(repo, "HEAD"), "", recursive=True)}
    blobs = read_blobs(repo, entries.values())
    assert blobs[entries["empty.py"]] == b""
    assert blobs[entries["bin.py"]] == b"\x00\n\xff\n\n"


def test_merge_base_full_and_shallow(tmp_path: Path) -> None:
    repo = forked_repo(tmp_path)
    fork = git(repo, "rev-parse", "main~1").strip()
    assert merge_base(repo, resolve(repo, "main"), "HEAD") == fork
    assert not is_shallow(repo)

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{repo}", str(clone))
    with pytest.raises(GitError, match="unknown git ref 'origin/main'"):
        resolve(clone, "origin/main")
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    assert is_shallow(clone)
    main = resolve(clone, "origin/main")
    assert merge_base(clone, main, "HEAD") is None  # the fork point was never fetched
    assert any(e.path.endswith("dddd_add.py") for e in ls_tree(clone, main, "alembic/versions", recursive=False))


def test_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git work tree"):
        toplevel(tmp_path)
    repo = forked_repo(tmp_path)
    assert toplevel(repo / "alembic") == repo.resolve()
    for bad in ("", "-rf", "nope"):
        with pytest.raises(GitError):
            resolve(repo, bad)

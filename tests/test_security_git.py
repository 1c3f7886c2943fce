"""Issue 9 item 2: a pull request must not bypass ``--base`` with a planted git repository.

The branch edits an applied revision (HC501) and commits, inside the checked folder ``db``, the
files of a second repository (``HEAD``, ``config`` with ``bare = false`` and ``worktree = .``,
``objects/``, ``refs/heads/main``) whose ``main`` already has the edited file. git's discovery
from ``db`` takes that folder as the repository, so REF, the merge base and every history
comparison came from the author's objects and the edit passed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from headcheck.cli import main
from tests.git_project import git
from tests.github_runner import action_environment

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

BBBB = 'revision = "bbbb"\ndown_revision = "aaaa"\n\n\ndef upgrade():\n    {}\n'


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def planted(tmp_path: Path) -> Path:
    """The repository after the pull request's checkout (branch ``feature``; ``main`` is honest)."""
    repo = tmp_path / "repo"
    versions = repo / "db" / "alembic" / "versions"
    versions.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "db" / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/alembic\n")
    (versions / "aaaa.py").write_text('revision = "aaaa"\ndown_revision = None\n')
    (versions / "bbbb.py").write_text(BBBB.format("pass"))
    _commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (versions / "bbbb.py").write_text(BBBB.format("op.drop_table('users')"))
    fake = tmp_path / "fake"
    shutil.copytree(repo / "db", fake)
    git(fake, "init", "-q", "-b", "main")
    _commit(fake, "main, as the attacker wants it")
    for name in ("HEAD", "objects", "refs"):
        source = fake / ".git" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, repo / "db" / name)
    (repo / "db" / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = .\n")
    _commit(repo, "edit bbbb")
    assert "db/refs/heads/main" in git(repo, "ls-files")  # committed, as a pull request would
    return repo


def test_the_planted_repository_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = planted(tmp_path)
    assert main(["check", str(repo / "db"), "--base", "main"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("headcheck: error: ")
    assert err.count("\n") == 1
    assert "db is laid out as a git repository" in err
    assert "refusing to read --base" in err
    # From the root, the real repository is found and the edit of an applied revision is caught.
    assert main(["check", str(repo), "--base", "main"]) == 1
    assert "HC501" in capsys.readouterr().out


def test_a_folder_below_the_planted_repository_is_refused_too(tmp_path: Path) -> None:
    from headcheck.git import planted_repository, toplevel

    repo = planted(tmp_path)
    assert planted_repository(repo / "db" / "alembic") == repo / "db"
    assert planted_repository(repo) is None
    assert toplevel(repo / "db" / ".." / "db" / "..") == repo.resolve()


def test_git_itself_never_uses_a_bare_folder_of_the_work_tree(tmp_path: Path) -> None:
    """Even past the Python check (GIT_DIR set elsewhere), git runs with safe.bareRepository=explicit."""
    from headcheck.git import GitError, resolve

    repo = planted(tmp_path)
    with pytest.raises(GitError):
        resolve(repo / "db", "main")


def test_the_action_with_path_db_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = planted(tmp_path)
    files = tmp_path / "files"
    files.mkdir()
    action_environment(monkeypatch, repo, files, {"INPUT_PATH": "db", "INPUT_BASE": "main", "INPUT_REPORT": ""})
    monkeypatch.chdir(repo)
    assert main(["action"]) == 2
    out, _ = capsys.readouterr()
    assert "::error title=headcheck%3A configuration::" in out
    assert "refusing to read --base" in out


def test_the_action_refuses_a_submodule_of_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``path: db`` where ``db`` is a submodule (``submodules: true`` in actions/checkout): its
    objects, and so its ``main``, come from wherever the pull request's ``.gitmodules`` points."""
    fake = tmp_path / "fake"
    versions = fake / "alembic" / "versions"
    versions.mkdir(parents=True)
    (fake / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/alembic\n")
    (versions / "aaaa.py").write_text('revision = "aaaa"\ndown_revision = None\n')
    git(fake, "init", "-q", "-b", "main")
    _commit(fake, "the attacker's main")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("x\n")
    _commit(repo, "base")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(fake), "db")
    _commit(repo, "add the submodule")
    assert (repo / "db" / ".git").is_file()

    # The command line has no workspace to compare with: the submodule is the user's choice there.
    assert main(["check", str(repo / "db"), "--base", "main"]) == 0
    capsys.readouterr()

    files = tmp_path / "files"
    files.mkdir()
    action_environment(monkeypatch, repo, files, {"INPUT_PATH": "db", "INPUT_BASE": "main", "INPUT_REPORT": ""})
    monkeypatch.chdir(repo)
    assert main(["action"]) == 2
    _, err = capsys.readouterr()
    assert "is a git repository nested inside" in err
    assert "--base reads REF only from the checked-out" in err

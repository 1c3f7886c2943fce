""".pre-commit-hooks.yaml, run by the real pre-commit against real git repositories.

The hook repository is a git copy of this checkout's package files; pre-commit's
``language: python`` pip-installs it (the build needs setuptools from PyPI), so the install is
done once per module in a private PRE_COMMIT_HOME and reused: about 5-15 s, then ~0.3 s per run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.git_project import git

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
needs_pre_commit = pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pip install pre-commit")


def _hooks() -> dict[str, dict[str, object]]:
    return {hook["id"]: hook for hook in yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))}


@needs_pre_commit
def test_manifest_validates() -> None:
    result = subprocess.run(["pre-commit", "validate-manifest", str(MANIFEST)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_pre_commit
def test_validate_manifest_does_reject_a_bad_language(tmp_path: Path) -> None:
    bad = tmp_path / ".pre-commit-hooks.yaml"
    bad.write_text(MANIFEST.read_text(encoding="utf-8").replace("language: python", "language: pythn", 1))
    result = subprocess.run(["pre-commit", "validate-manifest", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "pythn" in result.stdout


def test_hooks_are_declared_as_the_issue_asks() -> None:
    hooks = _hooks()
    gate, db = hooks["headcheck"], hooks["headcheck-db"]
    for hook in (gate, db):
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert hook["require_serial"] is True
    assert gate["entry"] == "headcheck"
    assert "stages" not in gate
    assert db["entry"] == "headcheck db"
    assert db["stages"] == ["manual"]


def test_db_hook_installs_exactly_the_postgres_extra() -> None:
    """pre-commit installs the hook repo without extras, so the extra's requirements are listed."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert (
        _hooks()["headcheck-db"]["additional_dependencies"] == pyproject["project"]["optional-dependencies"]["postgres"]
    )


@pytest.mark.parametrize(
    ("path", "runs"),
    [
        ("alembic/versions/1a2b3c4d5e6f_create_users.py", True),
        ("services/api/migrations/versions/x.py", True),
        ("db/alembic/env.py", True),
        ("migrations/env.py", True),
        ("alembic.ini", True),
        ("services/api/alembic_prod.ini", True),
        ("pyproject.toml", True),
        ("services/api/pyproject.toml", True),
        ("README.md", False),
        ("app/models.py", False),
        ("setup.cfg", False),
    ],
)
def test_files_pattern(path: str, runs: bool) -> None:
    pattern = str(_hooks()["headcheck"]["files"])
    assert bool(re.search(pattern, path)) is runs  # pre-commit uses re.search on the posix path
    assert _hooks()["headcheck-db"]["files"] == pattern


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """(hook repository, its commit, a PRE_COMMIT_HOME shared by this module's runs)."""
    base = tmp_path_factory.mktemp("precommit")
    repo = base / "headcheck"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "headcheck", repo / "headcheck", ignore=ignore)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "hooks")
    return repo, git(repo, "rev-parse", "HEAD").strip(), base / "store"


def _consumer(tmp_path: Path, example: str, hook_repo: tuple[Path, str, Path]) -> Path:
    repo, sha, _ = hook_repo
    work = tmp_path / example
    shutil.copytree(EXAMPLES / example, work)
    config = {"repos": [{"repo": str(repo), "rev": sha, "hooks": [{"id": "headcheck"}, {"id": "headcheck-db"}]}]}
    (work / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (work / "README.md").write_text("notes\n", encoding="utf-8")
    git(work, "init", "-q")
    git(work, "add", ".")
    return work


def _pre_commit(work: Path, hook_repo: tuple[Path, str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env["PRE_COMMIT_HOME"] = str(hook_repo[2])
    return subprocess.run(["pre-commit", "run", *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)


@needs_pre_commit
@pytest.mark.slow
def test_two_heads_fail_the_commit_with_the_message(tmp_path: Path, hook_repo: tuple[Path, str, Path]) -> None:
    work = _consumer(tmp_path, "two-heads", hook_repo)
    result = _pre_commit(work, hook_repo, "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"headcheck \(Alembic migration history\)\.+Failed", out)
    assert "HC101 error: 2 heads: 3c4d5e6f7081" in out
    assert "fix: Run `headcheck merge`" in out
    assert "headcheck db" not in out  # manual stage: not part of a normal commit


@needs_pre_commit
@pytest.mark.slow
def test_clean_history_passes_and_unrelated_files_skip_the_hook(
    tmp_path: Path, hook_repo: tuple[Path, str, Path]
) -> None:
    work = _consumer(tmp_path, "clean", hook_repo)
    result = _pre_commit(work, hook_repo, "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"headcheck \(Alembic migration history\)\.+Passed", result.stdout)
    broken = _consumer(tmp_path / "b", "two-heads", hook_repo)
    skipped = _pre_commit(broken, hook_repo, "--files", "README.md")
    assert skipped.returncode == 0
    assert "(no files to check)Skipped" in skipped.stdout
    touched = _pre_commit(broken, hook_repo, "--files", "alembic/versions/4d5e6f708192_add_users_phone.py")
    assert touched.returncode == 1
    assert "HC101" in touched.stdout


@needs_pre_commit
@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("HEADCHECK_TEST_DB_HOOK"),
    reason="a second pip install (the postgres extra) into a pre-commit env, ~17 s: set HEADCHECK_TEST_DB_HOOK=1",
)
@pytest.mark.skipif(
    shutil.which("pg_ctl") is None and not any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
    reason="needs the PostgreSQL server binaries",
)
def test_db_hook_proves_the_migrations_in_the_manual_stage(tmp_path: Path, hook_repo: tuple[Path, str, Path]) -> None:
    good = _consumer(tmp_path / "good", "db/clean", hook_repo)
    result = _pre_commit(good, hook_repo, "headcheck-db", "--hook-stage", "manual", "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"headcheck db \(migrations on a throwaway PostgreSQL\)\.+Passed", result.stdout)
    bad = _consumer(tmp_path / "bad", "db/broken-upgrade", hook_repo)
    result = _pre_commit(bad, hook_repo, "headcheck-db", "--hook-stage", "manual", "--all-files")
    assert result.returncode == 1
    assert 'relation "user" does not exist' in result.stdout

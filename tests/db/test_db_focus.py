"""``headcheck db`` judging the change's revisions: ``--base REF``, and the branches a merge head joins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.db.harness import database, failed, needs_postgres, revision_source, run_db, steps
from tests.git_project import alembic_project, commit_all, forked_repo, git

pytestmark = needs_postgres
CaptureFixture = pytest.CaptureFixture[str]


def write(root: Path, rev: str, down: object, upgrade: str, downgrade: str) -> None:
    path = root / "alembic" / "versions" / f"{rev}_r.py"
    path.write_text(revision_source(rev, down, upgrade, downgrade))


def create(rev: str) -> tuple[str, str]:
    return f'op.create_table("t_{rev}", sa.Column("id", sa.Integer))', f'op.drop_table("t_{rev}")'


def add_column(rev: str, *, forget: bool = False) -> tuple[str, str]:
    """A column on the first revision's table (an existing table: a lock finding); ``forget``: the
    downgrade does not drop it."""
    up = f'op.add_column("t_aaaa", sa.Column("c_{rev}", sa.Integer))'
    return up, "pass" if forget else f'op.drop_column("t_aaaa", "c_{rev}")'


def project(root: Path) -> Path:
    alembic_project(root)
    write(root, "aaaa", None, *create("aaaa"))
    return root


def test_a_merge_head_does_not_hide_a_merged_branchs_broken_downgrade(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    root = project(tmp_path / "p")
    write(root, "bbbb", "aaaa", *add_column("bbbb", forget=True))
    write(root, "cccc", "aaaa", *create("cccc"))
    write(root, "mmmm", ("bbbb", "cccc"), "pass", "pass")  # what `headcheck merge` writes
    code, report, _ = run_db(capsys, str(root), *fresh_db)
    assert code == 1
    bad = failed(report)
    assert [(s["name"], s["revision"]) for s in bad] == [("downgrade", "bbbb")]
    assert "downgrade of bbbb" in str(bad[0]["error"])
    assert "c_bbbb" in str(bad[0]["error"])
    assert database(report)["schema_diffs"]


def test_a_clean_merge_judges_each_merged_revision(tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]) -> None:
    root = project(tmp_path / "p")
    write(root, "bbbb", "aaaa", *create("bbbb"))
    write(root, "cccc", "aaaa", *create("cccc"))
    write(root, "mmmm", ("bbbb", "cccc"), "pass", "pass")
    code, report, _ = run_db(capsys, str(root), *fresh_db)
    assert code == 0, report
    downs = [rev for name, rev, _ in steps(report) if name == "downgrade"]
    assert sorted(downs, key=str) == ["bbbb", "cccc", "mmmm"]  # aaaa, below the fork point, is not undone


def feature_repo(tmp_path: Path, *, broken: bool) -> Path:
    """main: aaaa <- bbbb (bbbb adds a column to t_aaaa); feature, checked out: + cccc on bbbb."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    project(repo)
    write(repo, "bbbb", "aaaa", *add_column("bbbb"))
    commit_all(repo, "main")
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "cccc", "bbbb", *add_column("cccc", forget=broken))
    commit_all(repo, "feature: cccc")
    return repo


def hc6(report: dict[str, object]) -> set[tuple[str, str]]:
    """(code, file name) of the lock and rewrite findings."""
    envs = report["environments"]
    assert isinstance(envs, list)
    return {(f["code"], Path(f["path"]).name) for f in envs[0]["findings"] if f["code"].startswith("HC6")}


def test_base_judges_only_the_revisions_the_change_adds(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    repo = feature_repo(tmp_path, broken=True)
    code, report, _ = run_db(capsys, str(repo), "--base", "main", *fresh_db)
    assert code == 1
    assert steps(report)[1:] == [
        ("upgrade", "aaaa", True),
        ("upgrade", "bbbb", True),
        ("upgrade", "cccc", True),
        ("downgrade", "cccc", False),
    ]
    assert "downgrade of cccc" in str(failed(report)[0]["error"])


def test_base_on_a_clean_change_passes_and_keeps_the_changes_lock_findings_only(
    tmp_path: Path, capsys: CaptureFixture, fresh_db: list[str]
) -> None:
    repo = feature_repo(tmp_path, broken=False)
    code, report, _ = run_db(capsys, str(repo), "--base", "main", *fresh_db)
    assert code == 0, report
    assert steps(report)[1:] == [
        ("upgrade", "aaaa", True),
        ("upgrade", "bbbb", True),
        ("upgrade", "cccc", True),
        ("downgrade", "cccc", True),
        ("upgrade", "cccc", True),
        ("check-heads", None, True),
    ]
    found = hc6(report)
    assert found
    assert {name for _, name in found} == {"cccc_r.py"}
    # without --base: every revision's (on PostgreSQL, whose lock trace this is: the project's url is sqlite)
    _, whole, _ = run_db(capsys, str(repo), "--backend", "postgres")
    assert {name for _, name in hc6(whole)} == {"bbbb_r.py", "cccc_r.py"}


def test_base_without_the_bases_revisions_in_the_work_tree_exits_2(tmp_path: Path, capsys: CaptureFixture) -> None:
    repo = forked_repo(tmp_path)  # feature lacks main's dddd
    code, report, err = run_db(capsys, str(repo), "--base", "main")
    assert code == 2
    assert report == {}
    assert len(err.strip().splitlines()) == 1
    assert "dddd" in err
    assert "merge main first" in err

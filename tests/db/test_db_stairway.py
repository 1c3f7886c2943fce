"""Issue 10.4: one ``--stairway`` run reports every broken revision, and nothing they cause.

The history has three independent broken downgrades of different kinds (a type left behind, a NOT
NULL not reverted, a downgrade that crashes) between good revisions. Before, the run stopped at the
first one; a re-upgrade after a downgrade that left a type behind failed as a second, unexplained error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.db.harness import database, failed, needs_postgres, run_db, steps, write_history

pytestmark = needs_postgres

IMPORTS = "from sqlalchemy.dialects import postgresql\n"
REVISIONS = [
    (
        "r1",
        "a good one",
        'op.create_table("t1", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text))',
        'op.drop_table("t1")',
    ),
    (
        "r2",
        "leaves its enum type behind",
        'op.create_table("t2", sa.Column("mood", postgresql.ENUM("ok", "sad", name="mood")))',
        'op.drop_table("t2")',
    ),
    ("r3", "NOT NULL not reverted", 'op.alter_column("t1", "name", nullable=False)', "pass"),
    ("r4", "a good one", 'op.add_column("t1", sa.Column("extra", sa.Integer))', 'op.drop_column("t1", "extra")'),
    (
        "r5",
        "its downgrade crashes",
        'op.create_index("ix_t1_extra", "t1", ["extra"])',
        'op.drop_index("ix_does_not_exist", table_name="t1")',
    ),
    ("r6", "a good one", 'op.create_table("t6", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("t6")'),
]


def _history(project: Path) -> list[str]:
    ids = [f"{n:02d}{name}aaaaaaaaa"[:12] for n, (name, *_) in enumerate(REVISIONS)]
    revisions = [(f"{rev}.py", rev, doc, up, dn) for rev, (_, doc, up, dn) in zip(ids, REVISIONS, strict=True)]
    return write_history(project, revisions, imports=IMPORTS)


def test_every_broken_downgrade_in_one_run_and_no_knock_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _history(tmp_path / "project")
    code, report, err = run_db(capsys, str(tmp_path / "project"), "--stairway")
    assert code == 1, err
    broken = [(s["name"], s["revision"]) for s in failed(report)]
    assert broken == [("downgrade", ids[1]), ("downgrade", ids[2]), ("downgrade", ids[4])]
    assert "exists" not in str(failed(report))  # no knock-on "type/column already exists"
    diffs = {d["revision"]: d["lines"] for d in database(report)["schema_diffs"]}
    assert set(diffs) == {ids[1], ids[2]}
    assert any("type" in line and "mood" in line for line in diffs[ids[1]])
    assert any("NOT NULL" in line for line in diffs[ids[2]])
    assert "ix_does_not_exist" in str(failed(report)[2]["error"])
    done = steps(report)
    for rev in ids:  # every revision was tried: up, then down
        assert ("upgrade", rev, True) in done
        assert ("downgrade", rev) in [(n, r) for n, r, _ in done]
    restores = [(n, r, ok) for n, r, ok in done if n == "restore"]
    assert restores == [("restore", ids[1], True), ("restore", ids[2], True), ("restore", ids[4], True)]
    # the good ones after a broken one really went up, down and up again
    assert [(n, ok) for n, r, ok in done if r == ids[5]] == [("upgrade", True), ("downgrade", True), ("upgrade", True)]


def test_declared_irreversible_revisions_are_reported_not_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10.5: `pass` downgrades documented as impossible could never give a green nightly."""
    project = tmp_path / "project"
    ids = _history(project)
    (project / "pyproject.toml").write_text(f'[tool.headcheck]\nirreversible = ["{ids[1]}"]\n')
    code, report, err = run_db(capsys, str(project), "--stairway", "--irreversible", ids[2][:6])
    assert code == 1, err
    assert [(s["name"], s["revision"]) for s in failed(report)] == [("downgrade", ids[4])]  # undeclared: still an error
    done = steps(report)
    assert [(n, ok) for n, r, ok in done if r == ids[1]] == [("upgrade", True), ("irreversible", True)]
    assert [(n, ok) for n, r, ok in done if r == ids[2]] == [("upgrade", True), ("irreversible", True)]


def test_no_downgrade_checks_at_or_below_the_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    ids = _history(project)
    code, report, err = run_db(capsys, str(project), "--stairway", "--downgrade-floor", ids[4], "--no-rows")
    assert code == 0, err
    downgraded = [r for n, r, _ in steps(report) if n == "downgrade"]
    assert downgraded == [ids[5]]


def test_an_unknown_irreversible_revision_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    _history(project)
    code, report, _ = run_db(capsys, str(project), "--irreversible", "nosuchrev")
    assert code == 1
    assert "irreversible 'nosuchrev': no such revision" in str(failed(report)[0]["error"])

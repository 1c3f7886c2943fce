"""A long ``--stairway`` on headcheck's own server is split between two workers (issue 11, speed).

The second worker upgrades the first worker's revisions unjudged, with the rows filled before each
one as the stairway fills them, then runs the stairway of the rest on a database of its own. The
report must be the one a single worker (``--jobs 1``) gives: the same steps, schema differences,
restores, findings (locks, rows) and traces, in the same order; when the first half stops, the
stairway stops there; when the second worker cannot start, the first goes on alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest

from headcheck.db import proof
from headcheck.db.backends import ServerError
from headcheck.db.child import FORKS, Forked
from tests.db.harness import database, failed, needs_postgres, run_db, steps, write_history

pytestmark = needs_postgres

COUNT = 60  # first worker: the first 25 (one chunk), second worker: the other 35


def _revision(n: int) -> tuple[str, str]:
    """(upgrade, downgrade) of revision ``n``: a table, a column on it, an index on it, in turn."""
    table = f"t{n - n % 3}"
    if n % 3 == 0:
        up = f'op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text))'
        return up, f'op.drop_table("{table}")'
    if n % 3 == 1:
        return f'op.add_column("{table}", sa.Column("c", sa.Integer))', f'op.drop_column("{table}", "c")'
    return f'op.create_index("ix_{table}", "{table}", ["name"])', f'op.drop_index("ix_{table}", table_name="{table}")'


def _history(project: Path, special: dict[int, tuple[str, str]] | None = None) -> list[str]:
    revisions = []
    for n in range(COUNT):
        rev = f"{n:04d}split{n:03d}"[:12]
        up, down = (special or {}).get(n) or _revision(n)
        revisions.append((f"{rev}_r{n}.py", rev, f"revision {n}", up, down))
    return write_history(project, revisions)


BROKEN = {
    10: ('op.add_column("t9", sa.Column("c", sa.Integer))', "pass"),  # first half: a column left behind
    # second half: NOT NULL without a default fails on the rows the tables hold (and only then)
    40: ('op.add_column("t39", sa.Column("d", sa.Integer, nullable=False))', 'op.drop_column("t39", "d")'),
    47: ('op.create_index("ix_t45", "t45", ["name"])', 'op.drop_index("ix_nope", table_name="t45")'),  # crashes
}


class _Recording(proof._SecondHalf):  # noqa: SLF001 -- what the split did, seen from the test
    made: ClassVar[list[proof._SecondHalf]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Recording.made.append(self)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[proof._SecondHalf]:
    made: list[proof._SecondHalf] = []
    monkeypatch.setattr(_Recording, "made", made)
    monkeypatch.setattr(proof, "_SecondHalf", _Recording)
    return made


def _without_timings(report: dict[str, Any]) -> str:
    for env in report["environments"]:
        env["database"].pop("slowest", None)
    text = json.dumps(report, sort_keys=True)
    return re.sub(r'"(seconds|startup_seconds|ms)": [0-9.e-]+', '"t": 0', text)


def _both(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report of one worker and of two, each with its exit code checked equal."""
    one = run_db(capsys, str(project), "--stairway", "--jobs", "1", *args)
    two = run_db(capsys, str(project), "--stairway", "--jobs", "2", *args)
    assert one[0] == two[0], (one[2], two[2])
    return one[1], two[1]


def test_two_workers_report_what_one_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: list[proof._SecondHalf]
) -> None:
    ids = _history(tmp_path / "project", BROKEN)
    one, two = _both(capsys, tmp_path / "project")
    [second] = recording
    assert second.ready  # split: the second worker ran its half
    assert len(second.first) == proof.STAIRWAY_CHUNK
    if FORKS:  # its migration process: a fork of the first worker's, not a second interpreter
        assert second.child is not None
        assert isinstance(second.child.process, Forked)
    assert _without_timings(one) == _without_timings(two)
    # and what they report is the real thing, from both halves
    broken = [(s["name"], s["revision"]) for s in failed(two)]
    assert broken == [("downgrade", ids[10]), ("downgrade", ids[47])]
    assert [(n, r) for n, r, _ in steps(two) if n == "restore"] == [("restore", ids[10]), ("restore", ids[47])]
    assert [d["revision"] for d in database(two)["schema_diffs"]] == [ids[10]]
    codes = {(f["code"], r) for f in two["environments"][0]["findings"] for r in f["revisions"]}
    assert ("HC630", ids[40]) in codes  # rows: fails only with the rows the second worker filled
    assert ("HC601", ids[49]) in codes  # a lock seen by the second worker's trace
    assert steps(two)[-1] == ("check-heads", None, True)
    assert len([s for s in steps(two) if s[0] == "load"]) == 1


def test_when_the_first_half_stops_the_stairway_stops_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: list[proof._SecondHalf]
) -> None:
    """Revision 13's downgrade crashes and its upgrade fails the second time it runs in a process:
    the rebuild of the state after it fails, so the stairway stops (as one worker's would), while the
    second worker, which upgrades it only once, is busy: it is stopped, its steps dropped."""
    flaky = (
        "import builtins\n"
        "builtins.hc_runs = getattr(builtins, 'hc_runs', 0) + 1\n"
        "if builtins.hc_runs > 1:\n"
        "    raise RuntimeError('only once per process')\n"
        'op.add_column("t12", sa.Column("c", sa.Integer))'
    )
    ids = _history(tmp_path / "project", {13: (flaky, 'op.drop_column("t12", "nope")')})
    one, two = _both(capsys, tmp_path / "project")
    [second] = recording  # (stopped while it prepared or ran its half: that depends on the machine)
    assert not second.thread.is_alive()
    assert second.child is None or second.child.process.poll() is not None
    assert _without_timings(one) == _without_timings(two)
    assert steps(two)[-1] == ("restore", ids[13], False)
    assert all(r not in ids[25:] for _, r, _ in steps(two))


def test_when_the_second_worker_cannot_start_the_first_goes_on_alone(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    recording: list[proof._SecondHalf],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _history(tmp_path / "project", BROKEN)
    one = run_db(capsys, str(tmp_path / "project"), "--stairway", "--jobs", "1")

    def no_room(*_args: Any) -> Any:
        def make() -> str:
            raise ServerError("no room for another database")

        return make

    monkeypatch.setattr(proof, "_database_maker", no_room)
    two = run_db(capsys, str(tmp_path / "project"), "--stairway")
    [second] = recording
    assert not second.ready
    assert (one[0], _without_timings(one[1])) == (two[0], _without_timings(two[1]))


def test_short_histories_database_urls_and_one_worker_are_not_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: list[proof._SecondHalf]
) -> None:
    project = tmp_path / "project"
    revisions = [(f"{n:04d}short{n:03d}.py", f"{n:04d}short{n:03d}"[:12], "r", *_revision(n)) for n in range(30)]
    write_history(project, revisions)
    code, _, err = run_db(capsys, str(project), "--stairway", "--jobs", "2")
    assert code == 0, err
    assert recording == []  # 30 < PARALLEL_MIN
    _history(tmp_path / "long")
    code, _, err = run_db(capsys, str(tmp_path / "long"), "--stairway", "--jobs", "1")
    assert code == 0, err
    assert recording == []


def test_jobs_takes_one_or_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _history(tmp_path / "project")
    from headcheck.cli import main

    assert main(["db", str(tmp_path / "project"), "--jobs", "3"]) == 2
    assert "--jobs: expected 1 or 2, got '3'" in capsys.readouterr().err

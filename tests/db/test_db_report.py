"""The text section of ``headcheck db`` (issue 8.7: alignment with long ids, "1 revisions")."""

from __future__ import annotations

from headcheck.db.proof import Proof, Step
from headcheck.db.report import text_section


def test_columns_stay_aligned_with_long_revision_ids() -> None:
    steps = (
        Step("load", None, 0.2, True, None),
        Step("upgrade", "a1", 0.01, True, None),
        Step("upgrade", "20240101_add_a_very_long_revision_id", 1.5, True, None),
        Step("check-heads", None, 0.0, True, None),
    )
    text = text_section("env", Proof("15.1", 1.0, steps, ()))
    rows = [line for line in text.splitlines() if line.startswith("  ok")]
    assert len(rows) == 4
    assert len({line.index(" s", len(line) - 3) for line in rows}) == 1  # the seconds end in one column
    assert len({line.rindex(".") for line in rows}) == 1


def test_one_step_is_singular() -> None:
    text = text_section("env", Proof("15.1", 1.0, (Step("load", None, 0.2, True, None),), ()))
    assert "database: ok (1 step)" in text

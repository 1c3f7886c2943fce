"""headcheck.db.plan: which steps run and which snapshots must match (pure)."""

from __future__ import annotations

from headcheck.db.plan import INITIAL, PlanStep, default_plan, heads_last, stairway_plan


def test_linear_history_upgrades_all_then_undoes_and_redoes_the_head() -> None:
    initial, plan = default_plan(["a", "b", "c"], ["c"])
    assert not initial
    assert [(p.direction, p.revision) for p in plan] == [
        ("up", "a"),
        ("up", "b"),
        ("up", "c"),
        ("down", "c"),
        ("up", "c"),
    ]
    assert plan[1].save == ("pre:c",)  # the schema just before the head
    assert plan[3] == PlanStep("down", "c", compare="pre:c", check="downgrade")
    assert plan[4].compare == "post:c" and plan[4].check == "reupgrade"
    assert [p.check_heads for p in plan] == [False, False, True, False, True]


def test_two_heads_go_last_and_are_undone_in_reverse() -> None:
    # a <- b (head), a <- x <- y (head): the heads move to the end, still topological
    _initial, plan = default_plan(["a", "b", "x", "y"], ["b", "y"])
    moves = [(p.direction, p.revision) for p in plan]
    assert moves == [
        ("up", "a"),
        ("up", "x"),
        ("up", "b"),
        ("up", "y"),
        ("down", "y"),
        ("down", "b"),
        ("up", "b"),
        ("up", "y"),
    ]
    by_step = {(p.direction, p.revision, k >= 4): p for k, p in enumerate(plan)}
    assert by_step[("down", "y", True)].compare == "pre:y"
    assert "pre:y" in by_step[("up", "b", False)].save  # y came right after b
    assert by_step[("down", "b", True)].compare == "pre:b"


def test_single_revision_compares_its_downgrade_with_the_empty_schema() -> None:
    initial, plan = default_plan(["a"], ["a"])
    assert initial
    assert plan[1] == PlanStep("down", "a", compare=INITIAL, check="downgrade")


def test_nothing_pending_means_no_steps() -> None:
    assert default_plan([], ["a"]) == (False, [])


def test_stairway_goes_up_down_up_for_every_revision() -> None:
    initial, plan = stairway_plan(["a", "b"])
    assert initial
    assert [(p.direction, p.revision) for p in plan] == [("up", "a"), ("down", "a"), ("up", "a")] * 1 + [
        ("up", "b"),
        ("down", "b"),
        ("up", "b"),
    ]
    assert plan[1].compare == INITIAL
    assert plan[4].compare == plan[2].save[0]  # b's downgrade must give the schema after a's redo
    assert plan[5].compare == "post:b" and plan[5].check_heads


def test_heads_last_keeps_the_rest_in_order() -> None:
    assert heads_last(["a", "h1", "b", "h2", "c"], ["h2", "h1"]) == ["a", "b", "c", "h1", "h2"]

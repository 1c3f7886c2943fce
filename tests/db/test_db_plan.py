"""headcheck.db.plan: which steps run and which snapshots must match (pure)."""

from __future__ import annotations

from headcheck.db.plan import INITIAL, PlanStep, default_plan, focused_plan, heads_last, stairway_plan


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
    assert plan[4].compare == "post:c"
    assert plan[4].check == "reupgrade"
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
    assert plan[5].compare == "post:b"
    assert plan[5].check_heads


def test_heads_last_keeps_the_rest_in_order() -> None:
    assert heads_last(["a", "h1", "b", "h2", "c"], ["h2", "h1"]) == ["a", "b", "c", "h1", "h2"]


def test_focused_plan_upgrades_the_base_then_judges_the_focus_then_the_rest() -> None:
    # a <- b <- c (focus) <- d; x hangs on a and is not in the focus: it goes up with the base
    parents = {"a": (), "b": ("a",), "x": ("a",), "c": ("b",), "d": ("c",)}
    initial, plan = focused_plan(["a", "b", "x", "c", "d"], ["c"], parents=parents)
    assert not initial
    assert [(p.direction, p.revision) for p in plan] == [
        ("up", "a"),
        ("up", "b"),
        ("up", "x"),
        ("up", "c"),
        ("down", "c"),
        ("up", "c"),
        ("up", "d"),
    ]
    assert [p.snapshot for p in plan[:2]] == [False, False]  # the base's state: no checks, no snapshots
    assert plan[2].save == ("pre:c",)
    assert plan[4] == PlanStep("down", "c", compare="pre:c", check="downgrade")
    assert plan[5].compare == "post:c"
    assert plan[5].check == "reupgrade"
    assert [p.check_heads for p in plan] == [False] * 6 + [True]


def test_focused_plan_is_the_stairway_of_the_focus_when_it_starts_at_the_base() -> None:
    parents = {"a": (), "b": ("a",)}
    initial, plan = focused_plan(["a", "b"], ["a", "b"], ["b"], parents=parents)
    assert initial
    assert (initial, plan) == stairway_plan(["a", "b"], no_down=["b"])
    assert plan[1].compare == INITIAL


def test_focused_plan_without_focus_upgrades_and_checks_the_heads() -> None:
    initial, plan = focused_plan(["a", "b"], [], parents={"a": (), "b": ("a",)})
    assert not initial
    assert plan == [PlanStep("up", "a"), PlanStep("up", "b", check_heads=True)]


def test_focused_plan_judges_several_focus_revisions_in_order() -> None:
    # a <- b <- m (merge of b and c) and a <- c: focus b, c, m
    parents = {"a": (), "b": ("a",), "c": ("a",), "m": ("b", "c")}
    _initial, plan = focused_plan(["a", "b", "c", "m"], ["m", "c", "b"], parents=parents)
    assert [(p.direction, p.revision) for p in plan] == [
        ("up", "a"),
        ("up", "b"),
        ("down", "b"),
        ("up", "b"),
        ("up", "c"),
        ("down", "c"),
        ("up", "c"),
        ("up", "m"),
        ("down", "m"),
        ("up", "m"),
    ]
    assert plan[0].save == ("pre:b",)
    assert plan[2].compare == "pre:b"
    assert plan[5].compare == "pre:b+"  # c's before: the state after b
    assert plan[-1].check_heads
    assert not any(p.check_heads for p in plan[:-1])

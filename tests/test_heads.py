"""The heads policy and fork points (``headcheck.heads``): pure questions about a graph."""

from __future__ import annotations

from headcheck.graph import build
from headcheck.heads import branch_root, common_ancestors, fork_points, policy_violation, winning_heads
from headcheck.settings import Settings
from tests.test_graph import node


def test_winning_heads_drop_the_phantom_of_a_duplicate() -> None:
    graph = build([node("a", None), node("b", "a"), node("b", "a")])
    assert graph.ids(graph.heads) == ["b", "b"]
    assert graph.ids(winning_heads(graph)) == ["b"]


def test_fork_point_and_branch_root() -> None:
    graph = build([node("a", None), node("b", "a"), node("c", "b"), node("x", "b"), node("y", "x")])
    heads = winning_heads(graph)
    assert graph.ids(fork_points(graph, heads)) == ["b"]
    fork = graph.by_id["b"]
    assert graph.nodes[branch_root(graph, graph.by_id["y"], fork)].revision == "x"
    assert graph.nodes[branch_root(graph, graph.by_id["c"], fork)].revision == "c"


def test_the_fork_is_the_newest_common_ancestor_across_a_merge() -> None:
    """Both heads sit on a merge of two branches: everything below the merge is common; the fork
    the picture and the HC101 message name is the merge itself, not the older branch point."""
    graph = build(
        [node("a", None), node("b", "a"), node("c", "a"), node("m", ("b", "c")), node("x", "m"), node("y", "m")]
    )
    heads = winning_heads(graph)
    assert sorted(graph.ids(common_ancestors(graph, heads))) == ["a", "b", "c", "m"]
    assert graph.ids(fork_points(graph, heads)) == ["m"]


def test_separate_roots_have_no_fork_point() -> None:
    graph = build([node("a", None), node("x", None)])
    assert fork_points(graph, winning_heads(graph)) == []
    assert graph.nodes[branch_root(graph, graph.by_id["x"], None)].revision == "x"


def test_one_head_passes_two_unlabelled_heads_fail() -> None:
    one = build([node("a", None), node("b", "a")])
    two = build([node("a", None), node("b", "a"), node("c", "a")])
    assert policy_violation(one, Settings()) == []
    assert sorted(two.ids(policy_violation(two, Settings()))) == ["b", "c"]


def test_heads_addressable_by_their_own_label_pass() -> None:
    # The trunk may stay unlabelled; every other head needs a label no other head carries.
    labelled = build([node("a", None), node("b", "a"), node("c", "a", labels=["reports"])])
    assert policy_violation(labelled, Settings()) == []
    shared = build([node("a", None, labels=["core"]), node("b", "a"), node("c", "a")])
    assert len(policy_violation(shared, Settings())) == 2  # both heads inherit "core": not addressable


def test_max_heads_replaces_the_policy_with_a_count() -> None:
    two = build([node("a", None), node("b", "a"), node("c", "a")])
    assert policy_violation(two, Settings(max_heads=2)) == []
    three = build([node("a", None), node("b", "a"), node("c", "a"), node("d", "a", labels=["x"])])
    assert len(policy_violation(three, Settings(max_heads=2))) == 3


def test_heads_on_a_broken_reference_are_left_to_their_own_rule() -> None:
    graph = build([node("a", None), node("b", "a"), node("c", "missing")])
    assert policy_violation(graph, Settings()) == []

"""``headcheck.graph.build`` against Alembic's own ``RevisionMap``, in memory (no files, no import).

The parity tests go through files and the whole gate; these pin the graph layer alone, with
Alembic's ``Revision`` objects built from the same normalised nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from alembic.script.revision import DependencyCycleDetected, Revision, RevisionError, RevisionMap

from headcheck.graph import build
from headcheck.records import Node


def node(rev: str, down: str | tuple[str, ...] | None, labels: Sequence[str] = (), deps: Sequence[str] = ()) -> Node:
    downs = (down,) if isinstance(down, str) else (down or ())
    return Node(rev, downs, down is None, tuple(deps), bool(deps), tuple(labels))


def alembic_map(nodes: Sequence[Node]) -> RevisionMap:
    def revisions() -> list[Revision]:
        return [
            Revision(
                n.revision,
                None if n.is_base else (n.down[0] if len(n.down) == 1 else n.down),
                branch_labels=n.labels or None,
                dependencies=n.depends_on or None,
            )
            for n in nodes
        ]

    return RevisionMap(revisions)


HISTORIES: dict[str, list[Node]] = {
    "linear": [node("a", None), node("b", "a"), node("c", "b")],
    "two heads": [node("a", None), node("b", "a"), node("c", "a")],
    "merged": [node("a", None), node("b", "a"), node("c", "a"), node("m", ("b", "c"))],
    "two bases": [node("a", None), node("x", None), node("b", "a")],
    "labelled branches": [node("a", None), node("b", "a", labels=["left"]), node("c", "a", labels=["right"])],
    "depends_on ties heads": [node("a", None), node("b", "a"), node("x", None), node("y", "x", deps=["b"])],
    "depends_on a label": [node("a", None, labels=["core"]), node("x", None), node("y", "x", deps=["core"])],
}


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_heads_real_heads_and_bases_are_alembics(name: str) -> None:
    nodes = HISTORIES[name]
    graph = build(nodes)
    oracle = alembic_map(nodes)
    assert sorted(graph.ids(graph.heads)) == sorted(oracle.heads)
    assert sorted(graph.ids(graph.real_heads)) == sorted(oracle._real_heads)  # noqa: SLF001 -- pins headcheck against Alembic's own real heads
    assert sorted(graph.ids(graph.bases)) == sorted(oracle.bases)


def test_merge_and_branch_points() -> None:
    graph = build(HISTORIES["merged"])
    assert graph.ids(graph.merge_points) == ["m"]
    assert graph.ids(graph.branch_points) == ["a"]
    m = graph.by_id["m"]
    assert sorted(graph.ids(graph.ancestors(m))) == ["a", "b", "c", "m"]
    assert sorted(graph.ids(graph.descendants(graph.by_id["a"]))) == ["a", "b", "c", "m"]


def test_a_later_duplicate_wins_and_the_loser_stays_a_phantom_head() -> None:
    nodes = [node("a", None), node("b", "a"), node("b", None)]
    graph = build(nodes)
    assert graph.problems.duplicates == {"b": (1, 2)}
    assert graph.by_id["b"] == 2
    with pytest.warns(UserWarning, match="Revision b is present more than once"):
        heads = list(alembic_map(nodes).heads)
    assert graph.ids(graph.heads) == heads


def test_dangling_references_are_collected_not_raised() -> None:
    graph = build([node("a", None), node("b", "zzz"), node("c", "a", deps=["nope"])])
    assert graph.problems.dangling_down == ((1, "zzz"),)
    assert graph.problems.dangling_depends == ((2, "nope"),)


@pytest.mark.parametrize(
    "nodes",
    [
        [node("a", None), node("b", ("a", "c")), node("c", "b")],  # no head left: every id is named
        [node("a", None), node("b", ("a", "c")), node("c", "b"), node("d", "a")],
        [node("a", None), node("b", "b")],  # a self-loop
    ],
)
def test_cycles_are_named_as_alembic_names_them(nodes: list[Node]) -> None:
    graph = build(nodes)
    with pytest.raises(Exception, match=r"(Cycle|Self-loop) is detected in revisions") as raised:
        _ = alembic_map(nodes).heads
    named = str(raised.value).split("(", 1)[1].rstrip(")").split(", ")
    assert sorted(graph.problems.cycle) == sorted(named)


def test_labels_flow_to_descendants() -> None:
    graph = build([node("a", None, labels=["core"]), node("b", "a"), node("x", None)])
    assert graph.branch_labels[graph.by_id["b"]] == frozenset({"core"})
    assert graph.by_id["x"] not in graph.branch_labels
    assert graph.label_owner == {"core": 0}


def test_a_taken_branch_name_is_alembics_revision_error() -> None:
    """``_map_branch_labels``: a label shares the namespace of ids and of earlier labels."""
    nodes = [node("a", None, labels=["core"]), node("b", "a", labels=["core"])]
    # Alembic meets the labelled revisions in set order: either may be named first.
    with pytest.raises(RevisionError, match=r"Branch name 'core' in revision [ab] already used by revision [ab]"):
        _ = alembic_map(nodes).heads
    graph = build(nodes)
    assert graph.problems.label_collisions == ((1, "core", 0),)
    assert graph.label_owner == {"core": 0}  # the structure keeps only the names that were free
    # An id is a taken name too.
    nodes = [node("a", None), node("b", "a", labels=["a"])]
    with pytest.raises(RevisionError, match="Branch name 'a' in revision b already used by revision a"):
        _ = alembic_map(nodes).heads
    assert build(nodes).problems.label_collisions == ((1, "a", 0),)


def test_depends_on_resolves_labels_to_ids_and_ties_real_heads() -> None:
    """``_add_depends_on``: a label resolves to the revision declaring it; the dependency is then no
    real head (``heads --resolve-dependencies``), while ``heads`` still lists it."""
    nodes = HISTORIES["depends_on a label"]
    graph = build(nodes)
    assert graph.resolved_depends_on[graph.by_id["y"]] == ("a",)
    assert graph.ids(graph.real_heads) == list(alembic_map(nodes)._real_heads) == ["y"]  # noqa: SLF001 -- pins headcheck against Alembic's own real heads
    assert sorted(graph.ids(graph.heads)) == sorted(alembic_map(nodes).heads) == ["a", "y"]


def test_a_dependency_cycle_is_named_as_alembic_names_it() -> None:
    nodes = [node("a", None), node("b", "a", deps=["c"]), node("c", "a", deps=["b"])]
    with pytest.raises(DependencyCycleDetected) as raised:
        _ = alembic_map(nodes).heads
    graph = build(nodes)
    assert graph.problems.cycle == ()
    assert list(graph.problems.dependency_cycle) == sorted(raised.value.revisions)
    assert [graph.ids(group) for group in graph.problems.dependency_cycles] == [["b", "c"]]

"""The heads policy, and where competing heads fork: pure questions about a graph.

Used by the findings (the multiple-heads message), the fixers (which branch to move) and the
pull-request check (which head the change added).
"""

from __future__ import annotations

from collections.abc import Sequence

from headcheck.graph import Graph
from headcheck.settings import Settings

__all__ = ["branch_root", "common_ancestors", "fork_points", "policy_violation", "winning_heads"]


def winning_heads(graph: Graph) -> list[int]:
    """Heads as ``alembic heads`` lists them, without the phantom heads of duplicate ids."""
    return list(dict.fromkeys(h for h in graph.heads if graph.by_id.get(graph.nodes[h].revision) == h))


def common_ancestors(graph: Graph, heads: Sequence[int]) -> set[int]:
    """Every revision all ``heads`` descend from (each head counts as its own ancestor)."""
    common: set[int] | None = None
    for head in heads:
        ancestry = graph.ancestors(head)
        common = ancestry if common is None else common & ancestry
    return common or set()


def fork_points(graph: Graph, heads: Sequence[int]) -> list[int]:
    """The newest revisions every head descends from (empty for separate roots): where they fork."""
    common = common_ancestors(graph, heads)
    return sorted(node for node in common if not any(child in common for child in graph.children.get(node, ())))


def branch_root(graph: Graph, head: int, fork: int | None) -> int:
    """The first revision of ``head``'s branch after ``fork`` (or its base)."""
    node = head
    seen = {node}
    while True:
        parents = graph.parents(node)
        if not parents or fork in parents or parents[0] in seen:  # a cycle below: stop at its edge
            return node
        node = parents[0]
        seen.add(node)


def policy_violation(graph: Graph, settings: Settings) -> list[int]:
    """Winning heads when they break the policy, else [].

    Default policy: one head; several pass when every head but at most one (the trunk) is
    reachable through a branch label no other head carries (``alembic upgrade label@head``).
    ``max-heads`` replaces the policy with a plain count.
    """
    broken = {i for i, _ in graph.problems.dangling_down} | {i for i, _, _ in graph.problems.down_labels}
    broken |= {i for i, node in enumerate(graph.nodes) if not node.is_base and not node.down}  # unusable refs
    broken |= {graph.by_id[rev] for rev in graph.problems.cycle if rev in graph.by_id}
    # Phantom heads of duplicate ids, and heads sitting on a broken reference or a cycle, are
    # reported by their own rules; counting them here would only repeat the same problem.
    heads = [i for i in winning_heads(graph) if not broken or not (graph.ancestors(i) & broken)]
    if settings.max_heads is not None:
        return heads if len(heads) > settings.max_heads else []
    if len(heads) <= 1:
        return []
    counts: dict[str, int] = {}
    for head in heads:
        for label in graph.branch_labels.get(head, ()):
            counts[label] = counts.get(label, 0) + 1
    unaddressable = [h for h in heads if not any(counts[label] == 1 for label in graph.branch_labels.get(h, ()))]
    return heads if len(unaddressable) > 1 else []

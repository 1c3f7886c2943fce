"""The view model of a graph picture: boxes and arrows, before any format.

Edges point the way ``alembic upgrade`` walks: from a revision to the revisions that name it in
``down_revision``. Marked nodes: heads (``alembic heads``), bases (``down_revision = None``),
merge points (several down revisions), branch points (several children) and every revision a
finding names. Long linear runs of unmarked revisions are folded into one node, so a history
of 500 revisions with one fork at the top still draws as a handful of boxes.

Labels are revision ids and file names from the pull request, kept raw here: each renderer
escapes them for its own syntax.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from headcheck.gate import EnvironmentResult
from headcheck.graph import Graph
from headcheck.heads import common_ancestors, fork_points

__all__ = ["Edge", "Item", "View", "focus_nodes", "node_marks", "parent_boxes", "view"]

COLLAPSE_MIN = 3  # fold linear runs of at least this many unmarked revisions
CONTEXT_DEPTH = 3  # revisions shown under each head when there is nothing to report


class Item(NamedTuple):
    """One box of the picture."""

    key: str  # identifier in mermaid/dot: r<node>, run<node>, missing<k>, older<node>, newer<node>
    kind: str  # "revision", "run", "missing", "older" or "newer"
    label: str  # revision id, "12 revisions", the missing reference, ...
    detail: str  # the file's slug, the run's first and last id, ...
    marks: tuple[str, ...]  # head, base, merge point, branch point, finding codes
    nodes: tuple[int, ...]  # graph nodes drawn by this box

    @property
    def problem(self) -> bool:
        return any(mark.startswith("HC") for mark in self.marks) or self.kind == "missing"

    @property
    def names_a_revision(self) -> bool:
        """The label is a revision id (shown as code), not a count of folded revisions."""
        return self.kind in ("revision", "missing")


class Edge(NamedTuple):
    parent: str
    child: str
    style: str  # "down" (down_revision), "depends" (depends_on) or "missing" (a broken reference)


class View(NamedTuple):
    items: tuple[Item, ...]  # bases first, in upgrade order
    edges: tuple[Edge, ...]
    hidden: int  # revisions left out of a focused view
    title: str  # the environment's name (names the dot digraph)


def _slug(env: EnvironmentResult, node: int) -> str:
    """What the file name says about the revision: ``4d5e…_add_users_phone.py`` -> "add users phone"."""
    stem = env.node_files[node].path.stem
    revision = env.graph.nodes[node].revision
    if stem.startswith(revision):
        stem = stem[len(revision) :]
    slug = stem.strip("_ ").replace("_", " ")
    return slug if len(slug) <= 40 else slug[:39] + "…"


def node_marks(env: EnvironmentResult) -> dict[int, list[str]]:
    """Roles and finding codes per node (only nodes that have any)."""
    graph = env.graph
    marks: dict[int, list[str]] = {}

    def add(node: int, mark: str) -> None:
        bucket = marks.setdefault(node, [])
        if mark not in bucket:
            bucket.append(mark)

    for node in graph.heads:
        add(node, "head")
    for node in graph.bases:
        add(node, "base")
    for node in graph.merge_points:
        add(node, "merge point")
    for node in graph.branch_points:
        add(node, "branch point")
    for finding in env.findings:
        for revision in finding.revisions:
            for node in graph.problems.duplicates.get(revision, ()) or (
                (graph.by_id[revision],) if revision in graph.by_id else ()
            ):
                add(node, finding.code)
    for node, _ in graph.problems.dangling_down:
        add(node, "HC102")
    for node, _, _ in graph.problems.down_labels:
        add(node, "HC104")
    for node, _ in graph.problems.dangling_depends:
        add(node, "HC103")
    for group in graph.problems.cycles:
        for node in group:
            add(node, "HC105")
    return marks


def focus_nodes(env: EnvironmentResult) -> set[int]:
    """The part of the graph that explains the verdict.

    Several heads: the newest common ancestor (the fork) and every revision from it up to each
    head. A broken reference: the revision holding it and everything built on it. Other findings:
    the named revisions with their parents and children. A clean history: each head and the
    few revisions under it.
    """
    graph = env.graph
    shown: set[int] = set()
    for finding in env.findings:
        if finding.code == "HC101":
            heads = [graph.by_id[r] for r in finding.revisions if r in graph.by_id]
            common = common_ancestors(graph, heads)
            for head in heads:
                shown |= graph.ancestors(head) - common
            shown |= set(fork_points(graph, heads))
        else:
            for revision in finding.revisions:
                for node in graph.problems.duplicates.get(revision, ()) or (
                    (graph.by_id[revision],) if revision in graph.by_id else ()
                ):
                    shown |= {node, *graph.parents(node), *graph.children.get(node, ())}
    for node, _ in (*graph.problems.dangling_down, *graph.problems.dangling_depends):
        # The other heads are where the reference most likely should point (a typo, a prefix).
        shown |= graph.descendants(node) | {head for head in graph.heads if head != node}
    for node, _, owner in graph.problems.down_labels:
        shown |= graph.descendants(node) | {owner}
    for group in graph.problems.cycles:
        shown |= set(group)
    if not shown:
        for head in graph.heads:
            layer = {head}
            for _ in range(CONTEXT_DEPTH):
                shown |= layer
                layer = {parent for node in layer for parent in graph.parents(node)}
    return shown


def _order(nodes: Iterable[int], graph: Graph) -> list[int]:
    """Upgrade order (parents first), ties in load order; nodes in a cycle come last."""
    pending = set(nodes)
    waiting = {n: sum(p in pending for p in graph.parents(n)) for n in pending}
    ready = sorted(n for n, count in waiting.items() if count == 0)
    ordered: list[int] = []
    while ready:
        node = ready.pop(0)
        ordered.append(node)
        for child in graph.children.get(node, ()):
            if child in waiting:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
                    ready.sort()
    placed = set(ordered)
    ordered += sorted(pending - placed)
    return ordered


def view(env: EnvironmentResult, nodes: set[int] | None = None, collapse_min: int = COLLAPSE_MIN) -> View:
    """Boxes and arrows for ``nodes`` (default: the whole graph), linear runs folded."""
    graph = env.graph
    everything = set(range(len(graph.nodes)))
    shown = everything if nodes is None else nodes & everything
    marks = node_marks(env)
    depends_edges = {
        (dep, n)
        for n, deps in graph.resolved_depends_on.items()
        for d in deps
        for dep in [graph.by_id.get(d)]
        if dep is not None
    }
    in_depends = {n for pair in depends_edges for n in pair}

    def plain(node: int) -> bool:
        parents = graph.parents(node)
        children = graph.children.get(node, ())
        return (
            node in shown
            and node not in marks
            and node not in in_depends
            and len(parents) == 1
            and len(graph.nodes[node].down) == 1
            and parents[0] in shown
            and len(children) == 1
            and children[0] in shown
        )

    run_of: dict[int, str] = {}
    runs: dict[str, list[int]] = {}
    for node in _order(shown, graph):
        if node in run_of or not plain(node):
            continue
        parent = graph.parents(node)[0]
        if plain(parent):
            continue  # not the start of its run
        chain = [node]
        while True:
            child = graph.children[chain[-1]][0]
            if not plain(child) or child in chain:
                break
            chain.append(child)
        if len(chain) >= collapse_min:
            key = f"run{chain[0]}"
            runs[key] = chain
            for member in chain:
                run_of[member] = key

    def key_of(node: int) -> str:
        return run_of.get(node, f"r{node}")

    items: list[Item] = []
    edges: list[Edge] = []
    extra: list[Item] = []
    emitted: set[str] = set()
    for node in _order(shown, graph):
        key = key_of(node)
        if key in emitted:
            continue
        emitted.add(key)
        if key in runs:
            chain = runs[key]
            first, last = graph.nodes[chain[0]].revision, graph.nodes[chain[-1]].revision
            items.append(Item(key, "run", f"{len(chain)} revisions", f"{first} … {last}", (), tuple(chain)))
            node = chain[0]
            last_node = chain[-1]
        else:
            revision = graph.nodes[node].revision
            items.append(Item(key, "revision", revision, _slug(env, node), tuple(marks.get(node, ())), (node,)))
            last_node = node
        for parent in graph.parents(node):
            if parent in shown:
                edges.append(Edge(key_of(parent), key, "down"))
            else:
                hidden = len(graph.ancestors(parent) - shown)
                extra.append(Item(f"older{node}", "older", f"{hidden} older revision{'s' * (hidden != 1)}", "", (), ()))
                edges.append(Edge(f"older{node}", key, "down"))
        hidden_children = [child for child in graph.children.get(last_node, ()) if child not in shown]
        if hidden_children:  # one box for everything built on this revision that is not drawn
            newer: set[int] = set().union(*(graph.descendants(child) for child in hidden_children)) - shown
            label = f"{len(newer)} newer revision{'s' * (len(newer) != 1)}"
            extra.append(Item(f"newer{last_node}", "newer", label, "", (), ()))
            edges.append(Edge(key, f"newer{last_node}", "down"))
    for dependency, dependent in sorted(depends_edges):
        if dependency in shown and dependent in shown:
            edges.append(Edge(key_of(dependency), key_of(dependent), "depends"))
    broken = [(n, ref, "HC102") for n, ref in graph.problems.dangling_down] + [
        (n, ref, "HC103") for n, ref in graph.problems.dangling_depends
    ]
    for k, (node, ref, code) in enumerate(broken):
        if node in shown:
            detail = "no such revision" if code == "HC102" else "no such revision or label"
            extra.append(Item(f"missing{k}", "missing", ref, detail, (code,), ()))
            edges.append(Edge(f"missing{k}", key_of(node), "missing"))
    unique_extra = list({item.key: item for item in extra}.values())
    edges = list(dict.fromkeys(edges))
    return View(tuple(unique_extra + items), tuple(edges), len(everything - shown), env.environment.name)


def parent_boxes(v: View) -> dict[str, list[tuple[str, Item | None]]]:
    """Per box: (how it depends, the parent box) for every arrow into it."""
    items = {item.key: item for item in v.items}
    parents: dict[str, list[tuple[str, Item | None]]] = {}
    for edge in v.edges:
        prefix = "missing " if edge.style == "missing" else ("depends on " if edge.style == "depends" else "")
        parents.setdefault(edge.child, []).append((prefix, items.get(edge.parent)))
    return parents

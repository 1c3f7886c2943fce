"""The revision graph, built as ``alembic.script.revision.RevisionMap._revision_map`` builds it.

Pure: knows nothing about files. Nodes come in Alembic's load order and are referred to by
their position in that order, because duplicate revision ids are distinct objects to Alembic too
(the earlier one stays a head or base candidate: the "phantom head").

Where Alembic stops at the first problem, this module records every problem in a separate value
(``GraphProblems``) and keeps going with the broken reference left out, so the findings layer
can report all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from headcheck.records import Node

__all__ = ["Graph", "GraphProblems", "Node", "build"]


class GraphProblems(NamedTuple):
    """Everything that would stop ``RevisionMap._revision_map`` (or that it only warns about)."""

    duplicates: dict[str, tuple[int, ...]]
    """id -> every node declaring it, in load order ("Revision %s is present more than once")."""
    label_collisions: tuple[tuple[int, str, int], ...]
    """(node, label, node already owning the name): ``_map_branch_labels``'s RevisionError."""
    dangling_down: tuple[tuple[int, str], ...]
    """(node, missing id in down_revision): "Revision %s referenced from %s is not present"."""
    down_labels: tuple[tuple[int, str, int], ...]
    """(node, label used as down_revision, label owner): linked, then a KeyError in ``_detect_cycles``."""
    dangling_depends: tuple[tuple[int, str], ...]
    """(node, unknown depends_on entry): a KeyError in ``_add_depends_on``."""
    cycle: tuple[str, ...]
    """Ids Alembic's ``CycleDetected`` would name, () when none."""
    cycles: tuple[tuple[int, ...], ...]
    """Strongly connected groups over down_revision (the loops themselves, for messages)."""
    dependency_cycle: tuple[str, ...]
    """Ids ``DependencyCycleDetected`` would name, () when none (or when ``cycle`` is set)."""
    dependency_cycles: tuple[tuple[int, ...], ...]
    """Strongly connected groups over down_revision and depends_on edges."""


class Graph(NamedTuple):
    """The linked structure (Alembic's ``RevisionMap``), with its problems kept apart."""

    nodes: tuple[Node, ...]
    by_id: dict[str, int]
    """revision id -> winning node (the last loaded, as ``map_[revision.revision] = revision``)."""
    label_owner: dict[str, int]
    """declared branch label -> declaring node (the labels ``_map_branch_labels`` added)."""
    heads: tuple[int, ...]
    """``ScriptDirectory.get_heads()`` / ``alembic heads``: not named in any down_revision.

    What ``upgrade head``, ``stamp head`` and ``alembic revision`` need to be exactly one."""
    real_heads: tuple[int, ...]
    """``get_heads(consider_depends_on=True)`` / ``alembic heads --resolve-dependencies``:
    also not named by any resolved depends_on. ``upgrade heads`` targets these."""
    bases: tuple[int, ...]
    """``get_bases()``: down_revision is None (depends_on may be set)."""
    real_bases: tuple[int, ...]
    """Bases with no depends_on (``Revision._is_real_base``); only dependency-cycle detection uses them."""
    children: dict[int, tuple[int, ...]]
    """Versioned edges, parent -> children (``Revision.nextrev``)."""
    dependents: dict[int, tuple[int, ...]]
    """Every edge, down_revision and depends_on: dependency -> dependents (``Revision._all_nextrev``)."""
    resolved_depends_on: dict[int, tuple[str, ...]]
    """node -> resolved dependency ids (``Revision._resolved_dependencies``)."""
    branch_labels: dict[int, frozenset[str]]
    """Declared labels propagated to descendants (``_add_branches``)."""
    problems: GraphProblems

    def ids(self, nodes: Iterable[int]) -> list[str]:
        return [self.nodes[i].revision for i in nodes]

    @property
    def merge_points(self) -> tuple[int, ...]:
        """Winning revisions with more than one down_revision (``Revision.is_merge_point``)."""
        return tuple(i for i in self.by_id.values() if len(self.nodes[i].down) > 1)

    @property
    def branch_points(self) -> tuple[int, ...]:
        """Winning revisions with more than one child (``Revision.is_branch_point``)."""
        return tuple(i for i in self.by_id.values() if len(self.children.get(i, ())) > 1)

    def parents(self, node: int) -> tuple[int, ...]:
        """Winning nodes named in ``node``'s down_revision (broken references left out)."""
        return tuple(dict.fromkeys(self.by_id[d] for d in self.nodes[node].down if d in self.by_id))

    def ancestors(self, node: int) -> set[int]:
        """``node`` and everything below it through down_revision."""
        return _reach([node], self.parents)

    def descendants(self, node: int) -> set[int]:
        """``node`` and everything above it through down_revision."""
        return _reach([node], self.children)


def _reach(starts: Iterable[int], step: Mapping[int, Sequence[int]] | Callable[[int], Iterable[int]]) -> set[int]:
    """Every node reachable from ``starts`` (included) through ``step`` (a mapping or a function)."""
    seen: set[int] = set()
    todo = list(starts)
    if callable(step):
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(step(current))
        return seen
    get = step.get
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(get(current, ()))
    return seen


def _strongly_connected(nodes: Sequence[int], step: dict[int, list[int]]) -> list[tuple[int, ...]]:
    """Tarjan's algorithm, iterative; only groups that really loop (size > 1)."""
    index_of: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    groups: list[tuple[int, ...]] = []
    counter = 0
    for start in nodes:
        if start in index_of:
            continue
        work = [(start, iter(step.get(start, ())))]
        index_of[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index_of:
                    index_of[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(step.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index_of[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index_of[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(tuple(sorted(group)))
    return sorted(groups)


class _Names(NamedTuple):
    """The map once ``_map_branch_labels`` added the declared labels to the ids."""

    names: dict[str, int]  # id or label -> node
    label_owner: dict[str, int]
    collisions: tuple[tuple[int, str, int], ...]


class _Links(NamedTuple):
    """What linking every down_revision and resolved depends_on produced."""

    children: dict[int, tuple[int, ...]]
    dependents: dict[int, tuple[int, ...]]
    heads: tuple[int, ...]
    real_heads: tuple[int, ...]
    dangling_down: tuple[tuple[int, str], ...]
    down_labels: tuple[tuple[int, str, int], ...]


class _Cycles(NamedTuple):
    cycle: tuple[str, ...]
    cycles: tuple[tuple[int, ...], ...]
    dependency_cycle: tuple[str, ...]
    dependency_cycles: tuple[tuple[int, ...], ...]


def build(nodes: Sequence[Node]) -> Graph:
    """Link ``nodes`` (in load order) into a graph the way ``RevisionMap._revision_map`` does.

    The same steps in the same order: the id map, ``_map_branch_labels``, ``_add_depends_on``,
    linking each down_revision (``add_nextrev``), ``_detect_cycles``, ``_add_branches``.
    ``_normalize_depends_on`` is left out: it only trims dependencies already reached through
    down_revision, which changes no head, base or problem.
    """
    nodes = tuple(nodes)
    by_id, duplicates = _revision_map(nodes)
    bases = tuple(i for i, n in enumerate(nodes) if n.is_base)
    real_bases = tuple(i for i, n in enumerate(nodes) if n.is_base and not n.has_dependencies)
    names = _map_branch_labels(nodes, by_id)
    resolved, dangling_depends = _add_depends_on(nodes, names.names)
    links = _link_down_revisions(nodes, by_id, names.names, resolved)
    cycles = _detect_cycles(nodes, by_id, names.names, resolved, links, dangling_depends, bases, real_bases)
    return Graph(
        nodes=nodes,
        by_id=by_id,
        label_owner=names.label_owner,
        heads=links.heads,
        real_heads=links.real_heads,
        bases=bases,
        real_bases=real_bases,
        children=links.children,
        dependents=links.dependents,
        resolved_depends_on=resolved,
        branch_labels=_add_branches(names.label_owner, links.children),
        problems=GraphProblems(
            duplicates=duplicates,
            label_collisions=names.collisions,
            dangling_down=links.dangling_down,
            down_labels=links.down_labels,
            dangling_depends=dangling_depends,
            cycle=cycles.cycle,
            cycles=cycles.cycles,
            dependency_cycle=cycles.dependency_cycle,
            dependency_cycles=cycles.dependency_cycles,
        ),
    )


def _revision_map(nodes: tuple[Node, ...]) -> tuple[dict[str, int], dict[str, tuple[int, ...]]]:
    """The id map (``map_[revision.revision] = revision``) and the ids declared more than once.

    A later duplicate overwrites the earlier one, as in Alembic (which only warns "Revision %s
    is present more than once"); the earlier object still counts as a head and base candidate.
    """
    by_id = {node.revision: i for i, node in enumerate(nodes)}
    if len(by_id) == len(nodes):
        return by_id, {}  # every id once (the usual history)
    declared: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        declared.setdefault(node.revision, []).append(i)
    return by_id, {rev: tuple(ids) for rev, ids in declared.items() if len(ids) > 1}


def _map_branch_labels(nodes: tuple[Node, ...], by_id: dict[str, int]) -> _Names:
    """``_map_branch_labels``: declared labels join the map, sharing the namespace of ids and of
    earlier labels; a taken name is Alembic's RevisionError "Branch name ... already used"."""
    names: dict[str, int] = dict(by_id)
    label_owner: dict[str, int] = {}
    collisions: list[tuple[int, str, int]] = []
    for i, node in enumerate(nodes):
        for label in node.labels:
            if label in names:
                collisions.append((i, label, names[label]))
            else:
                names[label] = i
                label_owner[label] = i
    return _Names(names, label_owner, tuple(collisions))


def _add_depends_on(
    nodes: tuple[Node, ...], names: dict[str, int]
) -> tuple[dict[int, tuple[str, ...]], tuple[tuple[int, str], ...]]:
    """``_add_depends_on``: each depends_on entry looked up exactly among ids and declared labels,
    for every loaded node (duplicates too), giving revision ids; an unknown entry is a KeyError
    in Alembic, recorded here as dangling."""
    resolved: dict[int, tuple[str, ...]] = {}
    dangling: list[tuple[int, str]] = []
    for i, node in enumerate(nodes):
        found = []
        for dep in node.depends_on:
            if dep in names:
                found.append(nodes[names[dep]].revision)
            else:
                dangling.append((i, dep))
        resolved[i] = tuple(found)
    return resolved, tuple(dangling)


def _link_down_revisions(
    nodes: tuple[Node, ...], by_id: dict[str, int], names: dict[str, int], resolved: dict[int, tuple[str, ...]]
) -> _Links:
    """Link every object reachable from the map (winners, and losing duplicates that own a label)
    to what its down_revision and resolved depends_on name (``add_nextrev``), discarding the
    targets from the heads (versioned edges) and the real heads (every edge)."""
    heads = dict.fromkeys(range(len(nodes)))
    real_heads = dict.fromkeys(range(len(nodes)))
    children: dict[int, list[int]] = {}
    dependents: dict[int, list[int]] = {}
    dangling_down: list[tuple[int, str]] = []
    down_labels: list[tuple[int, str, int]] = []
    for i in dict.fromkeys(names.values()):
        node = nodes[i]
        down, deps = node.down, resolved[i]
        if not deps and len(down) == 1 and down[0] in by_id:  # the usual revision, one parent
            target = by_id[down[0]]
            dependents.setdefault(target, []).append(i)
            children.setdefault(target, []).append(i)
            heads.pop(target, None)
            real_heads.pop(target, None)
            continue
        for ref in dict.fromkeys(down + deps):
            versioned = ref in down
            if ref not in names:
                if versioned:
                    dangling_down.append((i, ref))
                continue
            if ref not in by_id:
                # A label: Alembic links it to the declaring revision (which stops being a head),
                # then dies with KeyError when cycle detection walks down to it, or raises
                # CycleDetected when no head reaches it.
                owner = names[ref]
                down_labels.append((i, ref, owner))
                dependents.setdefault(owner, []).append(i)
                if versioned:
                    heads.pop(owner, None)
                real_heads.pop(owner, None)
                continue
            target = by_id[ref]
            dependents.setdefault(target, []).append(i)
            if versioned:
                children.setdefault(target, []).append(i)
                heads.pop(target, None)
            real_heads.pop(target, None)
    unlinked_dangling, unlinked_labels = _unlinked_broken_references(nodes, by_id, names)
    return _Links(
        children={k: tuple(v) for k, v in children.items()},
        dependents={k: tuple(v) for k, v in dependents.items()},
        heads=tuple(heads),
        real_heads=tuple(real_heads),
        dangling_down=(*dangling_down, *unlinked_dangling),
        down_labels=(*down_labels, *unlinked_labels),
    )


def _unlinked_broken_references(
    nodes: tuple[Node, ...], by_id: dict[str, int], names: dict[str, int]
) -> tuple[list[tuple[int, str]], list[tuple[int, str, int]]]:
    """Broken down_revision entries of the objects the map lost (earlier duplicates).

    A losing duplicate is never linked, but it stays a head candidate and cycle detection walks
    its own down_revision through the id-only map: a missing id or a label there is a bare
    KeyError (no "is not present" warning).
    """
    linked = set(names.values())
    dangling: list[tuple[int, str]] = []
    labels: list[tuple[int, str, int]] = []
    for i, node in enumerate(nodes):
        if i in linked:
            continue
        for ref in dict.fromkeys(node.down):
            if ref not in names:
                dangling.append((i, ref))
            elif ref not in by_id:
                labels.append((i, ref, names[ref]))
    return dangling, labels


def _detect_cycles(
    nodes: tuple[Node, ...],
    by_id: dict[str, int],
    names: dict[str, int],
    resolved: dict[int, tuple[str, ...]],
    links: _Links,
    dangling_depends: tuple[tuple[int, str], ...],
    bases: tuple[int, ...],
    real_bases: tuple[int, ...],
) -> _Cycles:
    """``_detect_cycles``: what no walk down from a head and up from a base reaches is a cycle
    (``CycleDetected``); the same over depends_on edges from the real heads and real bases is a
    dependency cycle (``DependencyCycleDetected``, only looked for when there is no cycle).

    Nodes whose references were left out count as extra roots, so a broken reference is not
    mistaken for a cycle (Alembic has already failed on it). Every object walks down through its
    own down_revision (a losing duplicate too), up through the winners' nextrev; the result is
    compared by id, as Alembic does. A down_revision naming a label is followed to the label's
    owner: Alembic stops there with KeyError (reported as down_labels); walking on keeps the rest
    from looking like a cycle.
    """
    # (names holds every id with by_id's node, and the labels besides)
    own_down = {i: [names[d] for d in n.down if d in names] for i, n in enumerate(nodes)}
    linked = set(names.values())
    # Alembic raises before cycle detection for these (KeyError / TypeError while linking the
    # map's objects, KeyError resolving any object's depends_on) ...
    unusable = {i for i, n in enumerate(nodes) if not n.is_base and not n.down}  # only non-strings
    unlinked = {i for i in unusable | {i for i, _ in links.dangling_down} if i in linked}
    unlinked.update(i for i, _ in dangling_depends)
    # ... and for these only when the cycle walk reaches them: a label in down_revision, or a
    # losing duplicate's own broken down_revision.
    walk_fatal = (
        {i for i, _, _ in links.down_labels} | (unusable - linked) | ({i for i, _ in links.dangling_down} - linked)
    )
    ordered_ids = list(dict.fromkeys(n.revision for n in nodes))

    def unreached(
        head_list: list[int],
        roots: list[int],
        down_step: Mapping[int, Sequence[int]],
        up_step: Mapping[int, Sequence[int]],
    ) -> tuple[str, ...]:
        if not nodes:
            return ()
        # Alembic checks for no heads / no bases before walking. It only gets here when no
        # reference dangles, so only a dangling reference excuses an empty list of bases.
        if not head_list or not (roots or unlinked):
            return tuple(ordered_ids)
        reached = _reach(head_list, down_step)
        # A node whose down_revision names a label is only fatal (KeyError) when this walk reaches
        # it; otherwise Alembic goes on and the node is part of what it calls a cycle.
        extra = unlinked | (walk_fatal if reached & walk_fatal else set())
        reached_up = _reach(roots + sorted(extra), up_step)
        if len(reached) == len(nodes) == len(reached_up):
            return ()  # every object reached both ways: every id too (the usual history)
        above = {nodes[i].revision for i in reached}
        below = {nodes[i].revision for i in reached_up}
        return tuple(sorted(set(ordered_ids) - (above & below)))

    cycle = unreached(list(links.heads), list(bases), own_down, links.children)
    # Without any depends_on (not even an empty one) and without a label in a down_revision, the
    # dependency walk takes the very same steps (every edge is a down_revision edge, the real
    # heads and bases are the heads and bases): its answer is the one just found, no cycle.
    plain = not links.down_labels and not any(n.has_dependencies for n in nodes)
    dependency_cycle: tuple[str, ...] = ()
    if not cycle and not plain:
        own_all = {i: own_down[i] + [by_id[r] for r in resolved[i] if r in by_id] for i in range(len(nodes))}
        dependency_cycle = unreached(list(links.real_heads), list(real_bases), own_all, links.dependents)
    # The loops themselves only name members in messages: look for them only when Alembic would fail.
    cycles: tuple[tuple[int, ...], ...] = ()
    dependency_cycles: tuple[tuple[int, ...], ...] = ()
    if cycle:
        loop_step = {k: list(v) for k, v in links.children.items()}
        for i, _, owner in links.down_labels:
            loop_step.setdefault(owner, []).append(i)  # a loop closed through a label is a loop too
        cycles = tuple(_strongly_connected(list(dict.fromkeys(by_id.values())), loop_step))
    if dependency_cycle:
        dependents_step = {k: list(v) for k, v in links.dependents.items()}
        dependency_cycles = tuple(_strongly_connected(list(dict.fromkeys(by_id.values())), dependents_step))
    return _Cycles(
        cycle=cycle,
        cycles=cycles,
        dependency_cycle=dependency_cycle,
        dependency_cycles=dependency_cycles,
    )


def _add_branches(label_owner: dict[str, int], children: Mapping[int, Sequence[int]]) -> dict[int, frozenset[str]]:
    """``_add_branches``, the part that matters for heads: each declared label flows to every
    descendant of the revision declaring it."""
    propagated: dict[int, set[str]] = {}
    for label, owner in label_owner.items():
        for i in _reach([owner], children):
            propagated.setdefault(i, set()).add(label)
    return {i: frozenset(labels) for i, labels in propagated.items()}

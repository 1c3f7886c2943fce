"""The revision graph, built exactly as ``alembic.script.revision.RevisionMap._revision_map``.

Pure: knows nothing about files. Nodes come in Alembic's load order and are referred to by
their index in that order, because duplicate revision ids are distinct objects to Alembic too
(the earlier one stays a head or base candidate: the "phantom head").

Where Alembic stops at the first problem, this module records every problem and keeps going
with the broken reference left out, so the findings layer can report all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from headcheck.records import Node

__all__ = ["Graph", "Node", "build"]


class Graph(NamedTuple):
    nodes: tuple[Node, ...]
    index: dict[str, int]  # type: ignore[assignment]  # revision id -> winning node (the last loaded)
    label_owner: dict[str, int]  # declared label -> declaring node
    heads: tuple[int, ...]
    """``ScriptDirectory.get_heads()`` / ``alembic heads``: not named in any down_revision.

    What ``upgrade head``, ``stamp head`` and ``alembic revision`` need to be exactly one."""
    real_heads: tuple[int, ...]
    """``get_heads(consider_depends_on=True)`` / ``alembic heads --resolve-dependencies``:
    also not named by any resolved depends_on. ``upgrade heads`` targets these."""
    bases: tuple[int, ...]
    """``get_bases()``: down_revision is None (depends_on may be set)."""
    real_bases: tuple[int, ...]
    """Bases with no depends_on; only dependency-cycle detection uses them."""
    children: dict[int, tuple[int, ...]]  # versioned edges: parent -> children (``nextrev``)
    dependents: dict[int, tuple[int, ...]]  # depends_on edges: dependency -> dependents
    resolved_depends_on: dict[int, tuple[str, ...]]  # node -> resolved dependency ids
    duplicates: dict[str, tuple[int, ...]]  # id -> every node declaring it, in load order
    label_collisions: tuple[tuple[int, str, int], ...]  # (node, label, node already owning the name)
    dangling_down: tuple[tuple[int, str], ...]  # (node, missing id in down_revision)
    down_labels: tuple[tuple[int, str, int], ...]  # (node, label used as down_revision, label owner)
    dangling_depends: tuple[tuple[int, str], ...]  # (node, unknown depends_on entry)
    cycle: tuple[str, ...]  # ids Alembic's CycleDetected would name, () when none
    cycles: tuple[tuple[int, ...], ...]  # strongly connected groups over down_revision
    dependency_cycle: tuple[str, ...]  # ids DependencyCycleDetected would name
    dependency_cycles: tuple[tuple[int, ...], ...]  # strongly connected groups over all edges
    branch_labels: dict[int, frozenset[str]]  # declared labels propagated to descendants

    def ids(self, nodes: Iterable[int]) -> list[str]:
        return [self.nodes[i].revision for i in nodes]

    @property
    def merge_points(self) -> tuple[int, ...]:
        return tuple(i for i in self.index.values() if len(self.nodes[i].down) > 1)

    @property
    def branch_points(self) -> tuple[int, ...]:
        return tuple(i for i in self.index.values() if len(self.children.get(i, ())) > 1)

    def parents(self, node: int) -> tuple[int, ...]:
        """Winning nodes named in ``node``'s down_revision (broken references left out)."""
        return tuple(dict.fromkeys(self.index[d] for d in self.nodes[node].down if d in self.index))

    def ancestors(self, node: int) -> set[int]:
        """``node`` and everything below it through down_revision."""
        return _reach([node], self.parents)

    def descendants(self, node: int) -> set[int]:
        """``node`` and everything above it through down_revision."""
        return _reach([node], self.children)


def _reach(starts: Iterable[int], step: Mapping[int, Sequence[int]] | Callable[[int], Iterable[int]]) -> set[int]:
    """Every node reachable from ``starts`` (included) through ``step`` (a mapping or a function)."""
    following = step if callable(step) else (lambda node: step.get(node, ()))
    seen: set[int] = set()
    todo = list(starts)
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(following(current))
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


def build(nodes: Sequence[Node]) -> Graph:
    """Link ``nodes`` (in load order) into a graph the way Alembic does."""
    nodes = tuple(nodes)
    index: dict[str, int] = {}
    declared: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        declared.setdefault(node.revision, []).append(i)
        index[node.revision] = i  # a later duplicate overwrites (Alembic warns)
    duplicates = {rev: tuple(ids) for rev, ids in declared.items() if len(ids) > 1}
    heads = dict.fromkeys(range(len(nodes)))
    real_heads = dict.fromkeys(range(len(nodes)))
    bases = tuple(i for i, n in enumerate(nodes) if n.is_base)
    real_bases = tuple(i for i, n in enumerate(nodes) if n.is_base and not n.has_dependencies)

    # _map_branch_labels: labels share the namespace of ids and earlier labels.
    names: dict[str, int] = dict(index)
    label_owner: dict[str, int] = {}
    collisions: list[tuple[int, str, int]] = []
    for i, node in enumerate(nodes):
        for label in node.labels:
            if label in names:
                collisions.append((i, label, names[label]))
            else:
                names[label] = i
                label_owner[label] = i

    # _add_depends_on: exact lookup among ids and declared labels, for every loaded node.
    resolved: dict[int, tuple[str, ...]] = {}
    dangling_depends: list[tuple[int, str]] = []
    for i, node in enumerate(nodes):
        found = []
        for dep in node.depends_on:
            if dep in names:
                found.append(nodes[names[dep]].revision)
            else:
                dangling_depends.append((i, dep))
        resolved[i] = tuple(found)

    # Linking: every object reachable from the map (winners, plus losers that own a label).
    children: dict[int, list[int]] = {}
    dependents: dict[int, list[int]] = {}
    dangling_down: list[tuple[int, str]] = []
    down_labels: list[tuple[int, str, int]] = []
    for i in dict.fromkeys(names.values()):
        node = nodes[i]
        for ref in dict.fromkeys(node.down + resolved[i]):
            versioned = ref in node.down
            if ref not in names:
                if versioned:
                    dangling_down.append((i, ref))
                continue
            if ref not in index:
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
            target = index[ref]
            dependents.setdefault(target, []).append(i)
            if versioned:
                children.setdefault(target, []).append(i)
                heads.pop(target, None)
            real_heads.pop(target, None)

    # A losing duplicate is never linked, but it stays a head candidate and cycle detection
    # walks its own down_revision through the id-only map: a missing id or a label there is a
    # bare KeyError (no "is not present" warning).
    linked = set(names.values())
    for i, node in enumerate(nodes):
        if i in linked:
            continue
        for ref in dict.fromkeys(node.down):
            if ref not in names:
                dangling_down.append((i, ref))
            elif ref not in index:
                down_labels.append((i, ref, names[ref]))

    # _detect_cycles, with nodes whose references were left out treated as extra roots so a
    # broken reference is not mistaken for a cycle (Alembic has already failed on it). Every
    # object walks down through its own down_revision (a losing duplicate too), up through
    # the winners' nextrev; the result is compared by id, as Alembic does.
    # A down_revision naming a label is followed to the label's owner: Alembic stops there with
    # KeyError (reported as down_labels); walking on keeps the rest from looking like a cycle.
    own_down = {i: [index[d] if d in index else names[d] for d in n.down if d in names] for i, n in enumerate(nodes)}
    own_all = {i: own_down[i] + [index[r] for r in resolved[i] if r in index] for i in range(len(nodes))}
    # Alembic raises before cycle detection for these (KeyError / TypeError while linking the
    # map's objects, KeyError resolving any object's depends_on) ...
    unusable = {i for i, n in enumerate(nodes) if not n.is_base and not n.down}  # only non-strings
    unlinked = {i for i in unusable | {i for i, _ in dangling_down} if i in linked}
    unlinked.update(i for i, _ in dangling_depends)
    # ... and for these only when the cycle walk reaches them: a label in down_revision, or a
    # losing duplicate's own broken down_revision.
    walk_fatal = {i for i, _, _ in down_labels} | (unusable - linked) | ({i for i, _ in dangling_down} - linked)
    ordered_ids = list(dict.fromkeys(n.revision for n in nodes))

    def detect(
        head_list: list[int], roots: list[int], down_step: dict[int, list[int]], up_step: dict[int, list[int]]
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
        above = {nodes[i].revision for i in reached}
        below = {nodes[i].revision for i in _reach(roots + sorted(extra), up_step)}
        return tuple(sorted(set(ordered_ids) - (above & below)))

    children_step = {k: v for k, v in children.items()}
    dependents_step = {k: v for k, v in dependents.items()}
    cycle = detect(list(heads), list(bases), own_down, children_step)
    dependency_cycle = () if cycle else detect(list(real_heads), list(real_bases), own_all, dependents_step)
    winners = list(dict.fromkeys(index.values()))
    # The loops themselves only name members in messages: look for them only when Alembic would fail.
    loop_step = {k: list(v) for k, v in children_step.items()}
    for i, _, owner in down_labels:
        loop_step.setdefault(owner, []).append(i)  # a loop closed through a label is a loop too
    cycles = tuple(_strongly_connected(winners, loop_step)) if cycle else ()
    dependency_cycles = tuple(_strongly_connected(winners, dependents_step)) if dependency_cycle else ()

    # _add_branches (the part that matters for heads): labels flow to every descendant.
    propagated: dict[int, set[str]] = {}
    for label, owner in label_owner.items():
        for i in _reach([owner], children_step):
            propagated.setdefault(i, set()).add(label)
    branch_labels = {i: frozenset(labels) for i, labels in propagated.items()}

    return Graph(
        nodes=nodes,
        index=index,
        label_owner=label_owner,
        heads=tuple(heads),
        real_heads=tuple(real_heads),
        bases=bases,
        real_bases=real_bases,
        children={k: tuple(v) for k, v in children.items()},
        dependents={k: tuple(v) for k, v in dependents.items()},
        resolved_depends_on=resolved,
        duplicates=duplicates,
        label_collisions=tuple(collisions),
        dangling_down=tuple(dangling_down),
        down_labels=tuple(down_labels),
        dangling_depends=tuple(dangling_depends),
        cycle=cycle,
        cycles=cycles,
        dependency_cycle=dependency_cycle,
        dependency_cycles=dependency_cycles,
        branch_labels=branch_labels,
    )

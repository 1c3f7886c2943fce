"""Which migration steps the proof runs, and which schema snapshots must then be equal. Pure.

Default (every pull request): upgrade one revision at a time in topological order with the
heads last, so that the schema just before each head is known; check ``alembic_version``; undo
each head once (what ``downgrade -1`` does, or ``downgrade <head>@-1`` for every labelled head);
upgrade the heads again. After undoing a head the schema must equal the one before it was
applied; after upgrading it again, the one after its first upgrade.

Stairway (nightly): for every revision in order: up, down, up, with the same two comparisons.

Focused (``--base REF``, or a merge head): the revisions outside the focus that do not descend
from it are upgraded first, unchecked (the state production has); then the stairway of the focus
revisions in order; then the rest, up; ``alembic_version`` checked at the end.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

__all__ = ["PlanStep", "default_plan", "focused_plan", "stairway_plan"]

INITIAL = "initial"  # key of the snapshot taken before the first step


class PlanStep(NamedTuple):
    direction: str  # "up" or "down"
    revision: str
    save: tuple[str, ...] = ()  # snapshot after this step, kept under these keys
    compare: str | None = None  # snapshot after this step must equal this saved one
    check: str | None = None  # "downgrade" or "reupgrade": what a difference means
    check_heads: bool = False  # alembic_version must equal the expected heads after this step

    @property
    def snapshot(self) -> bool:
        return bool(self.save) or self.compare is not None


def heads_last(order: Sequence[str], heads: Sequence[str]) -> list[str]:
    """``order`` with the given heads moved to the end, still topological (nothing needs a head)."""
    head_set = set(heads)
    return [r for r in order if r not in head_set] + [r for r in order if r in head_set]


def default_plan(
    order: Sequence[str], heads: Sequence[str], no_down: Collection[str] = ()
) -> tuple[bool, list[PlanStep]]:
    """``order``: pending revisions, topological. ``heads``: the real heads (what ``upgrade heads``
    targets). ``no_down``: revisions whose downgrade is not checked (declared irreversible).
    Returns (snapshot before the first step?, steps)."""
    pending_heads = [h for h in order if h in set(heads)]
    ordered = heads_last(order, pending_heads)
    body = ordered[: len(ordered) - len(pending_heads)]
    steps: list[PlanStep] = []
    initial = not body and bool(pending_heads)
    for k, rev in enumerate(body):
        last = k == len(body) - 1
        steps.append(PlanStep("up", rev, save=(f"pre:{pending_heads[0]}",) if last and pending_heads else ()))
    for k, head in enumerate(pending_heads):
        save = [f"post:{head}"]
        if k + 1 < len(pending_heads):
            save.append(f"pre:{pending_heads[k + 1]}")
        steps.append(PlanStep("up", head, save=tuple(save), check_heads=k == len(pending_heads) - 1))
    if not pending_heads and steps:
        steps[-1] = steps[-1]._replace(check_heads=True)
    undone = [head for head in pending_heads if head not in no_down]
    for head in reversed(undone):
        steps.append(PlanStep("down", head, compare=f"pre:{head}", check="downgrade"))
    for k, head in enumerate(undone):
        steps.append(PlanStep("up", head, compare=f"post:{head}", check="reupgrade", check_heads=k == len(undone) - 1))
    return initial, _initial_alias(steps, initial, pending_heads)


def _initial_alias(steps: list[PlanStep], initial: bool, pending_heads: Sequence[str]) -> list[PlanStep]:
    """When the first step is already a head, its "before" snapshot is the initial one."""
    if not initial:
        return steps
    first = f"pre:{pending_heads[0]}"
    return [s._replace(compare=INITIAL) if s.compare == first else s for s in steps]


def stairway_plan(
    order: Sequence[str], *, final: bool = True, no_down: Collection[str] = (), before: str = INITIAL
) -> tuple[bool, list[PlanStep]]:
    """Every revision: up (save), down (must equal the schema before it), up (must equal the first up).

    ``final``: these are the last pending revisions, so check ``alembic_version`` at the end.
    ``before``: the key of the snapshot taken before the first revision (saved by an earlier step).
    The last step's snapshot is kept under ``pre:<rev>+``: the "before" of a following chunk."""
    steps: list[PlanStep] = []
    for k, rev in enumerate(order):
        if rev in no_down:  # declared irreversible: up only
            steps.append(PlanStep("up", rev, save=(f"pre:{rev}+",), check_heads=final and k == len(order) - 1))
            before = f"pre:{rev}+"
            continue
        after = f"post:{rev}"
        steps.append(PlanStep("up", rev, save=(after,)))
        steps.append(PlanStep("down", rev, compare=before, check="downgrade"))
        steps.append(
            PlanStep(
                "up",
                rev,
                save=(f"pre:{rev}+",),
                compare=after,
                check="reupgrade",
                check_heads=final and k == len(order) - 1,
            )
        )
        before = f"pre:{rev}+"
    return bool(order), steps


def focused_plan(
    order: Sequence[str],
    focus: Collection[str],
    no_down: Collection[str] = (),
    *,
    parents: Mapping[str, Collection[str]],
) -> tuple[bool, list[PlanStep]]:
    """``order``: pending revisions, topological; ``focus``: the revisions to judge; ``parents``:
    each revision's down revisions (dependencies included), to tell which ones descend from the focus.

    Up, unchecked: every revision neither in the focus nor above one (what production has); then
    up, down, up for each focus revision (as :func:`stairway_plan`); then the rest, up; the heads
    checked after the last step. Returns (snapshot before the first step?, steps)."""
    wanted = set(focus)
    above: set[str] = set()  # in the focus or descending from it
    for rev in order:
        if rev in wanted or any(parent in above for parent in parents.get(rev, ())):
            above.add(rev)
    judged = [rev for rev in order if rev in wanted]
    prefix = [rev for rev in order if rev not in above]
    rest = [rev for rev in order if rev in above and rev not in wanted]
    steps = [PlanStep("up", rev) for rev in prefix]
    before = INITIAL
    if judged and steps:
        before = f"pre:{judged[0]}"
        steps[-1] = steps[-1]._replace(save=(before,))
    _, stair = stairway_plan(judged, final=not rest, no_down=no_down, before=before)
    steps += stair + [PlanStep("up", rev) for rev in rest]
    if steps and not (judged and not rest):
        steps[-1] = steps[-1]._replace(check_heads=True)
    return bool(judged) and not prefix, steps

"""Turn config problems, file issues and graph facts into findings with messages and fixes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from headcheck import logsafe
from headcheck.config import Environment
from headcheck.dialects import names_another_database
from headcheck.graph import Graph, build
from headcheck.heads import branch_root, fork_points, policy_violation, winning_heads
from headcheck.limits import MESSAGE_LIMIT, shorten
from headcheck.records import Node, revision_node
from headcheck.rules import POSTGRES_ONLY, RULES
from headcheck.scan import RevisionFile, Scan, read_revision
from headcheck.settings import Settings
from headcheck.source import FileIssue
from headcheck.version_files import py_files_below

__all__ = ["Finding", "check", "relpath"]

_HINT_FILES = 500


class Finding(NamedTuple):
    code: str
    severity: str  # "error" or "warning"
    message: str  # one sentence, no location
    fix: str | None  # starts with a verb
    path: Path | None
    line: int | None
    revisions: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return RULES[self.code].name


def relpath(path: Path | None, root: Path) -> str | None:
    """``path`` relative to the checked root (posix), or absolute when outside it."""
    if path is None:
        return None
    try:
        return Path(os.path.relpath(path, root)).as_posix() if path.is_absolute() else path.as_posix()
    except ValueError:
        return path.as_posix()


def _finding(
    code: str, message: str, fix: str | None, path: Path | None, line: int | None, revisions: Sequence[str] = ()
) -> Finding:
    # Messages echo repository strings (ids, paths, expressions): bounded, whatever they hold.
    return Finding(
        code,
        RULES[code].severity,
        shorten(logsafe.line(message), MESSAGE_LIMIT),
        shorten(logsafe.line(fix), MESSAGE_LIMIT) if fix is not None else None,
        path,
        line,
        tuple(revisions),
    )


class _Context:
    """What messages need: where each node lives, and paths relative to the root."""

    def __init__(self, graph: Graph, files: Sequence[RevisionFile], root: Path) -> None:
        self.graph = graph
        self.files = files
        self.root = root

    def where(self, node: int) -> str:
        return f"{relpath(self.files[node].path, self.root)}:{self.revision_line(node)}"

    def revision_line(self, node: int) -> int:
        value = self.files[node].values.get("revision")
        return value.line if value is not None else 1

    def down_line(self, node: int) -> int:
        value = self.files[node].values.get("down_revision")
        return value.line if value is not None else 1

    def deps_line(self, node: int) -> int:
        value = self.files[node].values.get("depends_on")
        return value.line if value is not None else 1

    def labels_line(self, node: int) -> int:
        value = self.files[node].values.get("branch_labels")
        return value.line if value is not None else 1

    def down_at(self, node: int) -> str:
        return f"{relpath(self.files[node].path, self.root)}:{self.down_line(node)}"


def _did_you_mean(ref: str, graph: Graph, files: Sequence[RevisionFile]) -> str | None:
    """A likely intended id: a unique prefix, or a file name (stem) used instead of the id."""
    ids = list(graph.by_id)
    if ref in graph.label_owner:
        return None
    prefixed = [rev for rev in ids if rev.startswith(ref)] if ref else []
    if len(prefixed) == 1:
        return prefixed[0]
    for i, rf in enumerate(files):
        stem = rf.path.stem
        if ref and (ref == stem or ref == rf.path.name) and graph.nodes[i].revision != ref:
            return graph.nodes[i].revision
    return None


def _multiple_heads(graph: Graph, heads: list[int], ctx: _Context) -> Finding:
    forks = fork_points(graph, heads)
    fork = forks[-1] if forks else None
    names = ", ".join(f"{graph.nodes[h].revision} ({ctx.where(h)})" for h in heads)
    if fork is not None:
        origin = (
            f"all revise {graph.nodes[fork].revision} ({ctx.where(fork)})"
            if len(heads) > 2
            else f"both revise {graph.nodes[fork].revision} ({ctx.where(fork)})"
        )
    else:
        origin = "they start from separate bases and share no branch label"
    # Move the shorter branch (ties: the later one in load order) on top of the other head.
    sizes = {h: len(graph.ancestors(h) - (graph.ancestors(fork) if fork is not None else set())) for h in heads}
    stay = max(heads, key=lambda h: (sizes[h], -h))
    moving = [h for h in heads if h != stay]
    mover = min(moving, key=lambda h: (sizes[h], -h))
    root = branch_root(graph, mover, fork)
    merge_down = ", ".join(repr(graph.nodes[h].revision) for h in heads)
    message = (
        f"{len(heads)} heads: {names}; {origin}. "
        '`alembic upgrade head` fails with "Multiple head revisions are present"'
    )
    fix = (
        f"Run `headcheck merge` (writes a revision with down_revision = ({merge_down})), "
        f"or set down_revision = '{graph.nodes[stay].revision}' in {ctx.down_at(root)} "
        f"to put {graph.nodes[mover].revision} on top of {graph.nodes[stay].revision} "
        f"(`headcheck rebase {graph.nodes[mover].revision} --onto {graph.nodes[stay].revision}`)"
    )
    rf = ctx.files[root]
    return _finding("HC101", message, fix, rf.path, ctx.down_line(root), [graph.nodes[h].revision for h in heads])


def _config_findings(env: Environment, scan: Scan, root: Path) -> list[Finding]:
    """What Alembic would fail on (or silently drop) while loading the environment."""
    found: list[Finding] = []
    for problem in env.problems:
        fix = RULES[problem.code].fix
        found.append(_finding(problem.code, problem.message, fix, problem.path, problem.line))
    configured = {loc.path: loc for loc in env.version_locations}
    for missing in scan.missing:
        loc = configured.get(missing)
        if loc is not None and loc.configured:
            found.append(
                _finding(
                    "HC405",
                    f"version location {missing} does not exist; Alembic silently drops it",
                    RULES["HC405"].fix,
                    env.config_path,
                    loc.line,
                )
            )
    for skipped, first_path in scan.twice:
        found.append(
            _finding(
                "HC303",
                f"file reached twice (also as {relpath(first_path, root)}); Alembic ignores the second",
                RULES["HC303"].fix,
                skipped,
                None,
            )
        )
    return found


def _file_findings(
    files: Sequence[RevisionFile], issues: Sequence[Sequence[FileIssue]]
) -> tuple[list[Finding], dict[str, Path]]:
    """Files Alembic cannot load, and the ids that unreadable files probably declare."""
    found: list[Finding] = []
    unreadable_ids: dict[str, Path] = {}
    for rf, file_issues in zip(files, issues, strict=True):
        if rf.guessed_id:
            unreadable_ids[rf.guessed_id] = rf.path
        for issue in file_issues:
            found.append(_finding(issue.code, issue.message, RULES[issue.code].fix, rf.path, issue.line))
    return found, unreadable_ids


def _ignored_folder_findings(scan: Scan, graph: Graph, root: Path) -> tuple[list[Finding], dict[str, Path]]:
    """Subfolders Alembic skips without recursion, and the revision ids hiding in them.

    Turning recursion on is suggested only when the history it would load stays sound: no id that
    the loaded files already declare, and no more heads than today (a deliberately excluded
    ``legacy/`` folder usually fails both)."""
    found: list[Finding] = []
    ignored_ids: dict[str, Path] = {}
    hidden: list[Node] = []
    counts: list[tuple[Path, int]] = []
    to_read = _HINT_FILES  # ids are read from this many ignored files at most, in all
    for folder in scan.ignored_dirs:
        count = 0
        for path in py_files_below(folder):
            count += 1
            if to_read > 0:
                to_read -= 1
                rf = read_revision(path)
                value = rf.values.get("revision")
                if value is not None and isinstance(value.value, str):
                    ignored_ids[value.value] = path
                node, _ = revision_node(rf)
                if node is not None:
                    hidden.append(node)
        counts.append((folder, count))
    fix = RULES["HC302"].fix
    duplicated = sorted({node.revision for node in hidden} & set(graph.by_id))
    if duplicated:
        shown = ", ".join(duplicated[:3]) + (f" and {len(duplicated) - 3} more" if len(duplicated) > 3 else "")
        fix = (
            f"Keep recursive_version_locations off if the folder is excluded on purpose: turning it on would load "
            f"{len(duplicated)} revision id(s) the versions folder already declares ({shown}); otherwise move the files up"
        )
    elif hidden:
        before = len(winning_heads(graph))
        after = len(winning_heads(build([*graph.nodes, *hidden])))
        if after > before:
            fix = (
                f"Keep recursive_version_locations off if the folder is excluded on purpose: turning it on would "
                f"give the history {after} heads instead of {before}; otherwise move the files up and link them"
            )
    for folder, count in counts:
        found.append(
            _finding(
                "HC302",
                f"{count} .py file(s) in {relpath(folder, root)}/ are ignored: recursive_version_locations is off",
                fix,
                folder,
                None,
            )
        )
    return found, ignored_ids


def _docstring_findings(ctx: _Context) -> list[Finding]:
    """A `Revises:` docstring line that disagrees with down_revision (Alembic ignores the docstring)."""
    graph, node_sources = ctx.graph, ctx.files
    found: list[Finding] = []
    for i, rf in enumerate(node_sources):
        node = graph.nodes[i]
        doc = rf.revises_doc
        # (the usual file: the very same ids, in the same order, no sets needed)
        if doc is not None and doc != node.down and set(doc) != set(node.down):
            written = ", ".join(doc) or "nothing"
            actual = ", ".join(node.down) or "None"
            found.append(
                _finding(
                    "HC301",
                    f"docstring says Revises: {written}, but down_revision is {actual}",
                    f"Change the docstring line to 'Revises: {actual if node.down else ''}'",
                    rf.path,
                    rf.revises_line,
                    [node.revision],
                )
            )
    return found


def _identity_findings(ctx: _Context) -> list[Finding]:
    """Duplicate revision ids and branch labels that collide with ids or labels."""
    graph, node_sources, root = ctx.graph, ctx.files, ctx.root
    found: list[Finding] = []
    for rev, members in graph.problems.duplicates.items():
        places = " and ".join(ctx.where(i) for i in members)
        found.append(
            _finding(
                "HC107",
                f"revision id {rev} is declared by {places}; Alembic keeps only the last one",
                f"Give {relpath(node_sources[members[-1]].path, root)} a new unique revision id",
                node_sources[members[-1]].path,
                ctx.revision_line(members[-1]),
                [rev],
            )
        )
    for i, label, other in graph.problems.label_collisions:
        kind = "revision id" if graph.nodes[other].revision == label else "branch label"
        found.append(
            _finding(
                "HC112",
                f"branch label '{label}' of revision {graph.nodes[i].revision} is already the {kind} of {ctx.where(other)}",
                f"Rename the branch label in {relpath(node_sources[i].path, root)}:{ctx.labels_line(i)}",
                node_sources[i].path,
                ctx.labels_line(i),
                [graph.nodes[i].revision],
            )
        )
    return found


def _reference_findings(ctx: _Context, unreadable_ids: dict[str, Path], ignored_ids: dict[str, Path]) -> list[Finding]:
    """down_revision and depends_on entries that name nothing, or name a branch label."""
    graph, node_sources, root = ctx.graph, ctx.files, ctx.root
    found: list[Finding] = []
    for i, ref in graph.problems.dangling_down:
        rev = graph.nodes[i].revision
        if ref in unreadable_ids:
            continue  # the unreadable file is the root cause, reported above
        guess = _did_you_mean(ref, graph, node_sources)
        if ref in ignored_ids:
            fix = f"Set recursive_version_locations = true: '{ref}' is defined in {relpath(ignored_ids[ref], root)}, which Alembic does not read"
        elif guess is not None:
            fix = f"Set down_revision = '{guess}' in {ctx.down_at(i)} (did you mean {guess}?)"
        else:
            others = ", ".join(dict.fromkeys(graph.nodes[h].revision for h in graph.heads if h != i)) or "none"
            fix = f"Set down_revision in {ctx.down_at(i)} to an existing revision (current heads: {others}), or restore the missing file"
        shown = repr(ref) if ref == "" else ref
        found.append(
            _finding(
                "HC102",
                f"down_revision of {rev} names {shown}, which no revision file defines",
                fix,
                node_sources[i].path,
                ctx.down_line(i),
                [rev],
            )
        )
    for i, ref in graph.problems.dangling_depends:
        rev = graph.nodes[i].revision
        guess = _did_you_mean(ref, graph, node_sources)
        hint = (
            f"Use '{guess}' in depends_on (did you mean {guess}?)"
            if guess
            else "Use a full revision id or a declared branch label"
        )
        found.append(
            _finding(
                "HC103",
                f"depends_on of {rev} names {ref!r}, which is neither a revision id nor a branch label",
                hint,
                node_sources[i].path,
                ctx.deps_line(i),
                [rev],
            )
        )
    for i, label, owner in graph.problems.down_labels:
        rev = graph.nodes[i].revision
        tips = [h for h in graph.heads if label in graph.branch_labels.get(h, ())]
        target = graph.nodes[tips[0]].revision if len(tips) == 1 and tips[0] != i else graph.nodes[owner].revision
        found.append(
            _finding(
                "HC104",
                f"down_revision of {rev} names the branch label '{label}', not a revision id",
                f"Set down_revision = '{target}' in {ctx.down_at(i)}",
                node_sources[i].path,
                ctx.down_line(i),
                [rev],
            )
        )
    return found


def _cycle_findings(ctx: _Context) -> list[Finding]:
    """Alembic's CycleDetected / DependencyCycleDetected, with the loop spelled out."""
    graph, node_sources, root = ctx.graph, ctx.files, ctx.root
    found: list[Finding] = []
    if graph.problems.cycle:
        loops = graph.problems.cycles or ()
        if loops:
            for group in loops:
                ids = [graph.nodes[n].revision for n in group]
                first = group[0]
                found.append(
                    _finding(
                        "HC105",
                        f"down_revision links loop: {' -> '.join(ids + ids[:1])}; Alembic: Cycle is detected in revisions ({', '.join(graph.problems.cycle)})",
                        f"Point down_revision in {ctx.down_at(first)} at a revision outside the loop",
                        node_sources[first].path,
                        ctx.down_line(first),
                        graph.problems.cycle,
                    )
                )
        else:
            found.append(
                _finding(
                    "HC105",
                    f"Cycle is detected in revisions ({', '.join(graph.problems.cycle)})",
                    RULES["HC105"].fix,
                    None,
                    None,
                    graph.problems.cycle,
                )
            )
    if graph.problems.dependency_cycle:
        member_ids = set(graph.problems.dependency_cycle)
        quirk = [
            i
            for i, n in enumerate(graph.nodes)
            if n.is_base and n.has_dependencies and not n.depends_on and n.revision in member_ids
        ]
        if quirk:
            i = quirk[0]
            found.append(
                _finding(
                    "HC106",
                    f"base revision {graph.nodes[i].revision} has depends_on = '' which Alembic counts as a dependency; "
                    f"Dependency cycle is detected in revisions ({', '.join(graph.problems.dependency_cycle)})",
                    f"Set depends_on = None in {relpath(node_sources[i].path, root)}:{ctx.deps_line(i)}",
                    node_sources[i].path,
                    ctx.deps_line(i),
                    graph.problems.dependency_cycle,
                )
            )
        else:
            first = (
                graph.problems.dependency_cycles[0][0]
                if graph.problems.dependency_cycles
                else graph.by_id[graph.problems.dependency_cycle[0]]
            )
            found.append(
                _finding(
                    "HC106",
                    f"Dependency cycle is detected in revisions ({', '.join(graph.problems.dependency_cycle)})",
                    f"Remove the depends_on entry in {relpath(node_sources[first].path, root)}:{ctx.deps_line(first)} that points at a descendant",
                    node_sources[first].path,
                    ctx.deps_line(first),
                    graph.problems.dependency_cycle,
                )
            )
    return found


def check(
    env: Environment,
    scan: Scan,
    files: Sequence[RevisionFile],
    issues: Sequence[Sequence[FileIssue]],
    graph: Graph,
    node_files: Sequence[int],
    settings: Settings,
    root: Path,
) -> list[Finding]:
    """Every finding for one environment.

    ``files``/``issues`` cover every scanned file; ``node_files[i]`` is the file of graph node i.
    """
    ctx = _Context(graph, [files[k] for k in node_files], root)
    found = _config_findings(env, scan, root)
    file_found, unreadable_ids = _file_findings(files, issues)
    folder_found, ignored_ids = _ignored_folder_findings(scan, graph, root)
    found += file_found + folder_found
    found += _docstring_findings(ctx)
    found += _identity_findings(ctx)
    found += _reference_findings(ctx, unreadable_ids, ignored_ids)
    found += _cycle_findings(ctx)
    heads = policy_violation(graph, settings)
    if heads:
        found.append(_multiple_heads(graph, heads, ctx))
    found = _without_unverifiable(found, ctx)
    skip = set(settings.ignore)
    if names_another_database(env.options.get("sqlalchemy.url")):
        skip |= POSTGRES_ONLY
    return [f for f in found if f.code not in skip]


# Which verdicts an unknown value takes away: labels decide the heads policy, what depends_on
# may name and label collisions; dependencies decide dependency cycles.
_NEEDS = {"branch_labels": ("HC101", "HC103", "HC112"), "depends_on": ("HC106",)}


def _without_unverifiable(found: list[Finding], ctx: _Context) -> list[Finding]:
    """Drop findings that an unknown branch_labels/depends_on makes uncertain, and say so once."""
    unknown: dict[str, list[int]] = {}
    for i, rf in enumerate(ctx.files):
        for name in _NEEDS:
            value = rf.values.get(name)
            if value is not None and not value.literal:
                unknown.setdefault(name, []).append(i)
    if not unknown:
        return found
    skipped = {code for name in unknown for code in _NEEDS[name]}
    kept = [f for f in found if f.code not in skipped]
    dropped = sorted({f.code for f in found if f.code in skipped})
    first_name = next(iter(unknown))
    first = unknown[first_name][0]
    values = "; ".join(
        f"{name} of {', '.join(ctx.graph.nodes[i].revision for i in nodes[:5])}{' ...' if len(nodes) > 5 else ''}"
        for name, nodes in unknown.items()
    )
    outcome = f"would have reported {', '.join(dropped)}" if dropped else "none would have fired"
    kept.append(
        _finding(
            "HC207",
            f"not checked: {', '.join(sorted(skipped))}, because {values} is not known statically ({outcome})",
            RULES["HC207"].fix,
            ctx.files[first].path,
            ctx.files[first].values[first_name].line,
            [ctx.graph.nodes[i].revision for nodes in unknown.values() for i in nodes],
        )
    )
    return kept

"""``--base REF``: check the history that will exist after the change is merged into REF.

The post-merge file set is :mod:`headcheck.change.post_merge`, the HC501-HC503 checks are
:mod:`headcheck.change.history_edits`; this module runs the gate on the result and explains HC101 in
terms of the change.

The change is the work tree on disk (what CI checked out); REF is read from git without a
checkout. For every version location the post-merge file set is built as a three-way merge by
path, as ``git merge`` would resolve it without conflicts: a file the change touched (added,
edited, deleted: it differs from the merge base) comes from the work tree, any other file comes
from REF. In a clone too shallow to hold the merge base, the work tree's files win and REF's
other files are added; a revision REF has and the change lacks then counts as added on REF (a
deletion by the change cannot be told apart).

On top of the usual gate findings:

* ``HC501``/``HC502``/``HC503``: a revision that exists on REF was edited, deleted or re-parented
  by the change (databases already stamped with it would diverge); ``--allow-history-edits``
  turns them off.
* ``HC101`` (multiple heads) speaks of the change: "your revision X (versions/x.py:12) revises Z,
  but REF already has Y on top of Z; set down_revision = 'Y' or run headcheck rebase".
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from headcheck import logsafe
from headcheck.change.history_edits import history_edits
from headcheck.change.post_merge import (
    FileVersion,
    base_heads,
    disk_files,
    files_by_id,
    merged_files,
    parsed,
    tree_files,
)
from headcheck.config import ConfigError, Environment, EnvironmentSelection, find_environments
from headcheck.findings import Finding, relpath
from headcheck.gate import EnvironmentResult, GateResult, check_scan
from headcheck.git import GitError, merge_base, resolve, toplevel
from headcheck.graph import Graph
from headcheck.scan import RevisionFile, Scan
from headcheck.settings import Settings
from headcheck.version_files import list_revision_paths

__all__ = [
    "ChangeResult",
    "EnvironmentChange",
    "describe",
    "gate_against_base",
]


class EnvironmentChange(NamedTuple):
    result: EnvironmentResult  # the post-merge history, checked
    added: tuple[str, ...]  # revision ids the change adds (not on REF), in load order
    base_ids: frozenset[str]  # revision ids on REF
    base_heads: tuple[str, ...]  # heads of REF's own history


class ChangeResult(NamedTuple):
    gate: GateResult
    ref: str  # as the user wrote it
    commit: str  # what REF resolved to
    merge_base: str | None  # None: history too shallow (or unrelated)
    environments: tuple[EnvironmentChange, ...]


def _branch_roots(graph: Graph, head: int, added: set[str]) -> list[int]:
    """Revisions of ``head``'s branch that the change adds and whose parents are all on REF."""
    members = [n for n in graph.ancestors(head) if graph.nodes[n].revision in added]
    roots = [
        n
        for n in members
        if graph.nodes[n].down and not any(graph.nodes[p].revision in added for p in graph.parents(n))
    ]
    return sorted(roots)


def _explain_heads(finding: Finding, result: EnvironmentResult, added: set[str], ref: str, root: Path) -> Finding:
    """Say which of the change's revisions collides with which of REF's, and how to fix it."""
    graph = result.graph
    heads = [graph.by_id[h] for h in finding.revisions if h in graph.by_id]
    mine = [h for h in heads if graph.nodes[h].revision in added]
    theirs = [h for h in heads if graph.nodes[h].revision not in added]
    if not mine or not theirs:
        return finding
    parts: list[str] = []
    fixes: list[str] = []
    first: tuple[Path, int | None] | None = None
    for head in mine:
        for node in _branch_roots(graph, head, added):
            rf = result.node_files[node]
            down = rf.values.get("down_revision")
            line = down.line if down is not None else None
            parents = graph.parents(node)
            onto = [t for t in theirs if any(p in graph.ancestors(t) for p in parents)] or theirs
            target = graph.nodes[onto[0]].revision
            revises = ", ".join(graph.nodes[p].revision for p in parents)
            where = f"{relpath(rf.path, root)}:{line}" if line else relpath(rf.path, root)
            parts.append(
                f"your revision {graph.nodes[node].revision} ({where}) revises {revises}, "
                f"but {ref} already has {target} on top of {revises}; "
                f"set down_revision = '{target}' or run headcheck rebase"
            )
            fixes.append(f"set down_revision = '{target}' in {where}")
            if first is None:
                first = (rf.path, line)
    if not parts or first is None:
        return finding
    fix = f"Run `headcheck rebase --base {ref}` (or {'; '.join(fixes)}), or `headcheck merge` to add a merge revision"
    return finding._replace(message="; ".join(parts), fix=fix, path=first[0], line=first[1])


def _check_environment(
    env: Environment,
    repo: Path,
    commit: str,
    ancestor_commit: str | None,
    ref: str,
    settings: Settings,
    root: Path,
    allow_history_edits: bool,
) -> EnvironmentChange:
    merged: list[FileVersion] = []
    base_all: dict[str, FileVersion] = {}
    work_all: dict[str, FileVersion] = {}
    edits: list[Finding] = []
    missing: list[Path] = []
    twice: list[tuple[Path, Path]] = []
    ignored: list[Path] = []
    seen: set[Path] = set()
    for location in env.versions_dirs:
        _, loc_twice, loc_ignored, loc_missing = list_revision_paths((location,), env.recursive)
        twice += loc_twice
        ignored += loc_ignored
        base = tree_files(repo, commit, location, env.recursive)
        work = disk_files(location, env.recursive)
        ancestor = tree_files(repo, ancestor_commit, location, env.recursive) if ancestor_commit else None
        if loc_missing and not base:
            missing.append(location)
        for version in merged_files(base, work, ancestor):
            real = version.path.resolve()
            if real not in seen:  # overlapping locations: Alembic loads a file once ("loaded twice!")
                seen.add(real)
                merged.append(version)
        edits += history_edits(base, work, ancestor, ref, root)
        base_all.update({f"{location}/{rel}": v for rel, v in base.items()})
        work_all.update({f"{location}/{rel}": v for rel, v in work.items()})
    scan = Scan(
        tuple(parsed(v.path, v.data) for v in merged),
        tuple(twice),
        tuple(ignored),
        tuple(missing),
    )
    result = check_scan(env, scan, settings, root)
    base_ids = frozenset(files_by_id(base_all))
    heads_on_base = base_heads(base_all)
    added = tuple(dict.fromkeys(n.revision for n in result.graph.nodes if n.revision not in base_ids))
    findings = [_explain_heads(f, result, set(added), ref, root) if f.code == "HC101" else f for f in result.findings]
    if not allow_history_edits:
        findings += [f for f in edits if f.code not in settings.ignore]
    result = result._replace(findings=tuple(findings))
    return EnvironmentChange(result, added, base_ids, heads_on_base)


def gate_against_base(
    root: Path,
    settings: Settings,
    ref: str,
    selection: EnvironmentSelection | None = None,
    *,
    allow_history_edits: bool = False,
    boundary: Path | None = None,
) -> ChangeResult:
    """Run the gate on the post-merge history of the work tree and REF. Raises ConfigError (exit 2).

    ``boundary``: the folder whose repository is trusted (the Action's workspace); a repository
    nested below it is refused (see :func:`headcheck.git.toplevel`).
    """
    environments = find_environments(root, selection or EnvironmentSelection())
    folder = (root if root.is_dir() else root.parent).absolute()
    try:
        repo = toplevel(folder, boundary)
        commit = resolve(repo, ref)
        ancestor = merge_base(repo, commit, "HEAD")
        changes = tuple(
            _check_environment(env, repo, commit, ancestor, ref, settings, folder, allow_history_edits)
            for env in environments
        )
    except GitError as exc:
        raise ConfigError(str(exc)) from None
    gate = GateResult(folder, settings, tuple(change.result for change in changes))
    return ChangeResult(gate, ref, commit, ancestor, changes)


def describe(change: ChangeResult) -> str:
    """Lines for stderr: what the change adds, per environment, and how REF was compared."""
    if change.merge_base is not None:
        how = f"merge base {change.merge_base[:12]}"
    else:
        how = (
            "no merge base in this clone (too shallow?): revisions on REF that your change lacks count as REF's, "
            "not as deleted; fetch more history (fetch-depth: 0) to check deletions"
        )
    lines = [f"headcheck: checking the history after merging into {change.ref} ({change.commit[:12]}; {how})"]
    for env_change in change.environments:
        env = env_change.result
        if env_change.added:
            where = _revision_files_by_id(env)
            listed = ", ".join(
                f"{rid} ({relpath(where[rid].path, change.gate.root)})" if rid in where else rid
                for rid in env_change.added
            )
            lines.append(
                f"headcheck: {env.environment.name}: your change adds {len(env_change.added)} revision(s): {listed}"
            )
        else:
            lines.append(f"headcheck: {env.environment.name}: your change adds no revisions")
    return "".join(logsafe.line(text) + "\n" for text in lines)  # ids, names and paths are the pull request's


def _revision_files_by_id(env: EnvironmentResult) -> dict[str, RevisionFile]:
    return {node.revision: env.node_files[i] for i, node in enumerate(env.graph.nodes)}

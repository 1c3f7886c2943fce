"""Missing parents that exist on another git branch: HC102 after a rebase onto a branch not merged yet.

``headcheck rebase --base main`` puts a feature branch's revision on top of main's head. Until main is
merged into the feature branch, that parent is not on disk and the gate reports HC102; its usual
advice ("set down_revision to an existing revision") would undo the rebase. This module asks git
which branches (local and remote-tracking) define the missing id and rewrites the fix to say
"merge main into your branch". It runs git only when an HC102 finding exists, reads objects only
(no checkout, nothing executed), and leaves the verdict unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from headcheck.findings import Finding
from headcheck.gate import EnvironmentResult, GateResult
from headcheck.git import GitError, branch_refs, current_branch, grep_refs, read_file_at, toplevel
from headcheck.scan import parse_revision

__all__ = ["explain_missing_parents", "refs_defining"]

_PREFERRED = ("main", "master", "origin/main", "origin/master", "upstream/main", "upstream/master")
_MAX_REFS = 200


def _order(refs: list[str]) -> list[str]:
    rank = {name: k for k, name in enumerate(_PREFERRED)}
    return sorted(refs, key=lambda r: (rank.get(r, len(rank)), r))


def refs_defining(repo: Path, folders: list[str], revision: str) -> list[str]:
    """Branches whose revision files under ``folders`` declare ``revision = '<revision>'``, best first."""
    current = current_branch(repo)
    try:
        refs = [r for r in branch_refs(repo) if r != current and not r.endswith(f"/{current}")]
    except GitError:
        return []
    found: list[str] = []
    for ref, path in grep_refs(repo, revision, _order(refs)[:_MAX_REFS], folders):
        if ref in found:
            continue
        try:
            data = read_file_at(repo, ref, path)
        except GitError:
            continue
        value = parse_revision(Path(path), data).values.get("revision")
        if value is not None and value.value == revision:
            found.append(ref)
    return _order(found)


def _folders(env: EnvironmentResult, repo: Path) -> list[str] | None:
    folders: list[str] = []
    for location in env.environment.versions_dirs:
        rel = os.path.relpath(location.resolve(), repo)
        if rel.startswith(".."):
            return None
        folders.append(Path(rel).as_posix() if rel != "." else "")
    return folders


def _explain(env: EnvironmentResult, repo: Path) -> EnvironmentResult:
    folders = _folders(env, repo)
    if folders is None:
        return env
    graph = env.graph
    better: dict[tuple[str, Path], str] = {}
    where: dict[str, list[str]] = {}
    for i, ref in graph.problems.dangling_down:
        if ref not in where:
            where[ref] = refs_defining(repo, folders, ref)
        if where[ref]:
            branch = where[ref][0]
            better[(graph.nodes[i].revision, env.node_files[i].path)] = (
                f"{ref} exists on {branch}: merge or rebase {branch} into your branch "
                f"(`git merge {branch}`), then run headcheck again; do not change down_revision"
            )
    if not better:
        return env

    def mend(f: Finding) -> Finding:
        key = (f.revisions[0], f.path) if f.code == "HC102" and f.revisions and f.path is not None else None
        return f._replace(fix=better[key]) if key in better else f

    return env._replace(findings=tuple(mend(f) for f in env.findings))


def explain_missing_parents(result: GateResult) -> GateResult:
    """The same result, with HC102 fixes naming the branch that defines the missing parent."""
    if not any(f.code == "HC102" for env in result.environments for f in env.findings):
        return result
    try:
        repo = toplevel(result.root)
    except GitError:
        return result
    return result._replace(environments=tuple(_explain(env, repo) for env in result.environments))

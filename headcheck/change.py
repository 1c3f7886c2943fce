"""``--base REF``: check the history that will exist after the change is merged into REF.

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

import ast
import functools
from pathlib import Path
from typing import NamedTuple

from headcheck import logsafe
from headcheck.config import ConfigError, Environment, find_environments
from headcheck.findings import Finding, relpath
from headcheck.gate import EnvironmentResult, GateResult, check_scan
from headcheck.git import GitError, ls_tree, merge_base, read_blobs, resolve, toplevel
from headcheck.graph import Graph
from headcheck.records import Node, revision_node
from headcheck.rules import RULES
from headcheck.scan import RevisionFile, Scan, parse_revision
from headcheck.settings import Settings
from headcheck.version_files import CANDIDATE, list_revision_paths

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


class _Version(NamedTuple):
    path: Path  # where the file is (or would be) on disk
    data: bytes


def _load_key(rel: str) -> list[tuple[int, str]]:
    """Alembic's load order inside one location: a folder's files (sorted) before its subfolders (sorted)."""
    parts = rel.split("/")
    return [(1, part) for part in parts[:-1]] + [(0, parts[-1])]


def _candidate(rel: str, recursive: bool) -> bool:
    parts = rel.split("/")
    if not recursive and len(parts) > 1:
        return False
    if any(part.endswith("__pycache__") for part in parts[:-1]):
        return False
    return CANDIDATE.match(parts[-1]) is not None


def _tree_files(repo: Path, commit: str, location: Path, recursive: bool) -> dict[str, _Version]:
    """Revision candidates of one version location at ``commit``, keyed by path inside the location."""
    try:
        folder = location.resolve().relative_to(repo).as_posix()
    except ValueError:
        raise GitError(f"version location {location} is outside the git repository {repo}") from None
    folder = "" if folder == "." else folder
    prefix = f"{folder}/" if folder else ""
    entries = [
        entry
        for entry in ls_tree(repo, commit, folder, recursive=True)
        if entry.kind == "blob" and entry.mode != "120000" and entry.path.startswith(prefix)
    ]
    chosen = {entry.path[len(prefix) :]: entry for entry in entries}
    chosen = {rel: entry for rel, entry in chosen.items() if _candidate(rel, recursive)}
    blobs = read_blobs(repo, (entry.sha for entry in chosen.values()))
    return {rel: _Version(location / rel, blobs[entry.sha]) for rel, entry in chosen.items()}


def _disk_files(location: Path, recursive: bool) -> dict[str, _Version]:
    paths, _, _, _ = list_revision_paths((location,), recursive)
    files: dict[str, _Version] = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        files[path.relative_to(location).as_posix()] = _Version(path, data)
    return files


@functools.lru_cache(maxsize=16384)
def _parsed(path: Path, data: bytes) -> RevisionFile:
    """One parse per file version: the merge, the history checks and the gate all read the same files."""
    return parse_revision(path, data)


@functools.lru_cache(maxsize=16384)
def _node(path: Path, data: bytes) -> Node | None:
    return revision_node(_parsed(path, data))[0]


def _revision_id(version: _Version) -> str | None:
    node = _node(version.path, version.data)
    return node.revision if node is not None else None


def _down(version: _Version) -> tuple[str, ...] | None:
    node = _node(version.path, version.data)
    return node.down if node is not None else None


def _same_code(a: bytes, b: bytes) -> bool:
    """Equal, or equal once comments and formatting are ignored (the same syntax tree)."""
    if a == b:
        return True
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _same_tree(ast.parse(a), ast.parse(b))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False


def _same_tree(a: ast.AST, b: ast.AST) -> bool:
    """``ast.dump(a) == ast.dump(b)`` without recursion: a 1,000-term expression is fine."""
    todo: list[tuple[object, object]] = [(a, b)]
    while todo:
        x, y = todo.pop()
        if isinstance(x, ast.AST):
            if type(x) is not type(y):
                return False
            todo.extend((getattr(x, field, None), getattr(y, field, None)) for field in x._fields)
        elif isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                return False
            todo.extend(zip(x, y))
        elif type(x) is not type(y) or x != y:
            return False
    return True


def _first_changed_line(old: bytes, new: bytes) -> int | None:
    """The first line of ``new`` that differs from ``old`` (1-based; None when equal). Linear."""
    old_lines = old.decode("utf-8", "replace").splitlines()
    new_lines = new.decode("utf-8", "replace").splitlines()
    for number, (was, now) in enumerate(zip(old_lines, new_lines), 1):
        if was != now:
            return number
    if len(old_lines) == len(new_lines):
        return None
    # Lines added at the end, or the end removed: point at the first added line or the last one.
    return min(len(old_lines) + 1, max(len(new_lines), 1))


def _merged_files(
    base: dict[str, _Version], work: dict[str, _Version], ancestor: dict[str, _Version] | None
) -> list[_Version]:
    """The post-merge file set of one location, in Alembic's load order."""
    work_ids = {rid for rid in (_revision_id(v) for v in work.values()) if rid is not None}
    chosen: dict[str, _Version] = {}
    for rel in sorted(set(base) | set(work), key=_load_key):
        mine, theirs = work.get(rel), base.get(rel)
        if ancestor is not None:
            old = ancestor.get(rel)
            touched = (mine.data if mine else None) != (old.data if old else None)
            picked = mine if touched else theirs
        elif mine is not None:
            picked = mine
        else:
            # No merge base: a REF-only file whose id the change has under another name was renamed.
            picked = theirs if theirs is not None and _revision_id(theirs) not in work_ids else None
        if picked is not None:
            chosen[rel] = picked
    return list(chosen.values())


def _by_id(files: dict[str, _Version]) -> dict[str, _Version]:
    found: dict[str, _Version] = {}
    for version in sorted(files.values(), key=lambda v: _load_key(v.path.as_posix())):
        rid = _revision_id(version)
        if rid is not None:
            found.setdefault(rid, version)
    return found


def _history_edits(
    base: dict[str, _Version],
    work: dict[str, _Version],
    ancestor: dict[str, _Version] | None,
    ref: str,
    root: Path,
) -> list[Finding]:
    """HC501/HC502/HC503 for revisions on REF that the change edited, deleted or re-parented."""
    base_ids, work_ids = _by_id(base), _by_id(work)
    old_ids = _by_id(ancestor) if ancestor is not None else None
    found: list[Finding] = []
    for rid, theirs in base_ids.items():
        mine = work_ids.get(rid)
        if mine is None:
            if old_ids is not None and rid in old_ids:
                rule = RULES["HC502"]
                found.append(
                    Finding(
                        "HC502",
                        rule.severity,
                        f"revision {rid} exists on {ref} ({relpath(theirs.path, root)}) and your change deletes it; "
                        "databases already at it can no longer upgrade or downgrade",
                        f"Restore {relpath(theirs.path, root)} from {ref}",
                        theirs.path,
                        None,
                        (rid,),
                    )
                )
            continue
        if _same_code(theirs.data, mine.data):
            continue
        if old_ids is not None and rid in old_ids and _same_code(old_ids[rid].data, mine.data):
            continue  # REF edited it after the fork; the change did not
        old_down, new_down = _down(theirs), _down(mine)
        where = relpath(mine.path, root)
        if old_down is not None and new_down is not None and set(old_down) != set(new_down):
            value = _parsed(mine.path, mine.data).values.get("down_revision")
            was = ", ".join(old_down) or "None"
            now = ", ".join(new_down) or "None"
            found.append(
                Finding(
                    "HC503",
                    RULES["HC503"].severity,
                    f"revision {rid} revises {was} on {ref}, but your change re-parents it onto {now}; "
                    "databases already past it would skip or repeat migrations",
                    f"Restore down_revision in {where} and add a new revision (or `headcheck merge`) instead",
                    mine.path,
                    value.line if value is not None else None,
                    (rid,),
                )
            )
            continue
        found.append(
            Finding(
                "HC501",
                RULES["HC501"].severity,
                f"revision {rid} already exists on {ref} and your change edits it; "
                "databases that applied it will never run the new code",
                f"Revert the edit to {where} and put the change in a new revision",
                mine.path,
                _first_changed_line(theirs.data, mine.data),
                (rid,),
            )
        )
    return found


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
    merged: list[_Version] = []
    base_all: dict[str, _Version] = {}
    work_all: dict[str, _Version] = {}
    edits: list[Finding] = []
    missing: list[Path] = []
    twice: list[tuple[Path, Path]] = []
    ignored: list[Path] = []
    seen: set[Path] = set()
    for location in env.versions_dirs:
        _, loc_twice, loc_ignored, loc_missing = list_revision_paths((location,), env.recursive)
        twice += loc_twice
        ignored += loc_ignored
        base = _tree_files(repo, commit, location, env.recursive)
        work = _disk_files(location, env.recursive)
        ancestor = _tree_files(repo, ancestor_commit, location, env.recursive) if ancestor_commit else None
        if loc_missing and not base:
            missing.append(location)
        for version in _merged_files(base, work, ancestor):
            real = version.path.resolve()
            if real not in seen:  # overlapping locations: Alembic loads a file once ("loaded twice!")
                seen.add(real)
                merged.append(version)
        edits += _history_edits(base, work, ancestor, ref, root)
        base_all.update({f"{location}/{rel}": v for rel, v in base.items()})
        work_all.update({f"{location}/{rel}": v for rel, v in work.items()})
    scan = Scan(
        tuple(_parsed(v.path, v.data) for v in merged),
        tuple(twice),
        tuple(ignored),
        tuple(missing),
    )
    result = check_scan(env, scan, settings, root)
    base_ids = frozenset(_by_id(base_all))
    base_heads = _base_heads(base_all)
    added = tuple(dict.fromkeys(n.revision for n in result.graph.nodes if n.revision not in base_ids))
    findings = [_explain_heads(f, result, set(added), ref, root) if f.code == "HC101" else f for f in result.findings]
    if not allow_history_edits:
        findings += [f for f in edits if f.code not in settings.ignore]
    result = result._replace(findings=tuple(findings))
    return EnvironmentChange(result, added, base_ids, base_heads)


def _base_heads(base: dict[str, _Version]) -> tuple[str, ...]:
    downs: set[str] = set()
    ids: list[str] = []
    for version in base.values():
        node = _node(version.path, version.data)
        if node is not None:
            ids.append(node.revision)
            downs.update(node.down)
    return tuple(rid for rid in dict.fromkeys(ids) if rid not in downs)


def gate_against_base(
    root: Path,
    settings: Settings,
    ref: str,
    *,
    config: Path | None = None,
    name: str | None = None,
    versions: Path | None = None,
    recursive: bool = False,
    allow_history_edits: bool = False,
    boundary: Path | None = None,
) -> ChangeResult:
    """Run the gate on the post-merge history of the work tree and REF. Raises ConfigError (exit 2).

    ``boundary``: the folder whose repository is trusted (the Action's workspace); a repository
    nested below it is refused (see :func:`headcheck.git.toplevel`).
    """
    environments = find_environments(root, config=config, name=name, versions=versions, recursive=recursive)
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
            where = {rf_id: rf for rf_id, rf in _files_by_id(env).items()}
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


def _files_by_id(env: EnvironmentResult) -> dict[str, RevisionFile]:
    return {node.revision: env.node_files[i] for i, node in enumerate(env.graph.nodes)}

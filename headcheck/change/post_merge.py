"""The post-merge file set of a version location, as ``git merge`` would resolve it by path.

Each location's revision files are read three times: on REF (from git, no checkout), in the work
tree (what CI checked out) and at the merge base. A file the change touched (it differs from the
merge base) comes from the work tree, any other from REF. Without a merge base (a shallow clone)
the work tree's files win and REF's other files are added.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

from headcheck.git import GitError, ls_tree, read_blobs
from headcheck.records import Node, revision_node
from headcheck.scan import RevisionFile, parse_revision
from headcheck.version_files import CANDIDATE, list_revision_paths

__all__ = [
    "FileVersion",
    "base_heads",
    "disk_files",
    "down_of",
    "files_by_id",
    "is_candidate",
    "load_key",
    "merged_files",
    "parsed",
    "revision_id",
    "revision_of",
    "tree_files",
]


class FileVersion(NamedTuple):
    """One revision file as one side of the merge has it."""

    path: Path  # where the file is (or would be) on disk
    data: bytes


def load_key(rel: str) -> list[tuple[int, str]]:
    """Alembic's load order inside one location: a folder's files (sorted) before its subfolders (sorted)."""
    parts = rel.split("/")
    return [(1, part) for part in parts[:-1]] + [(0, parts[-1])]


def is_candidate(rel: str, recursive: bool) -> bool:
    """Whether Alembic would load the file at ``rel`` (a path inside the location) as a revision."""
    parts = rel.split("/")
    if not recursive and len(parts) > 1:
        return False
    if any(part.endswith("__pycache__") for part in parts[:-1]):
        return False
    return CANDIDATE.match(parts[-1]) is not None


def tree_files(repo: Path, commit: str, location: Path, recursive: bool) -> dict[str, FileVersion]:
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
    chosen = {rel: entry for rel, entry in chosen.items() if is_candidate(rel, recursive)}
    blobs = read_blobs(repo, (entry.sha for entry in chosen.values()))
    return {rel: FileVersion(location / rel, blobs[entry.sha]) for rel, entry in chosen.items()}


def disk_files(location: Path, recursive: bool) -> dict[str, FileVersion]:
    paths, _, _, _ = list_revision_paths((location,), recursive)
    files: dict[str, FileVersion] = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        files[path.relative_to(location).as_posix()] = FileVersion(path, data)
    return files


@functools.lru_cache(maxsize=16384)
def parsed(path: Path, data: bytes) -> RevisionFile:
    """One parse per file version: the merge, the history checks and the gate all read the same files."""
    return parse_revision(path, data)


@functools.lru_cache(maxsize=16384)
def revision_of(path: Path, data: bytes) -> Node | None:
    return revision_node(parsed(path, data))[0]


def revision_id(version: FileVersion) -> str | None:
    node = revision_of(version.path, version.data)
    return node.revision if node is not None else None


def down_of(version: FileVersion) -> tuple[str, ...] | None:
    node = revision_of(version.path, version.data)
    return node.down if node is not None else None


def merged_files(
    base: dict[str, FileVersion], work: dict[str, FileVersion], ancestor: dict[str, FileVersion] | None
) -> list[FileVersion]:
    """The post-merge file set of one location, in Alembic's load order."""
    work_ids = {rid for rid in (revision_id(v) for v in work.values()) if rid is not None}
    chosen: dict[str, FileVersion] = {}
    for rel in sorted(set(base) | set(work), key=load_key):
        mine, theirs = work.get(rel), base.get(rel)
        if ancestor is not None:
            old = ancestor.get(rel)
            touched = (mine.data if mine else None) != (old.data if old else None)
            picked = mine if touched else theirs
        elif mine is not None:
            picked = mine
        else:
            # No merge base: a REF-only file whose id the change has under another name was renamed.
            picked = theirs if theirs is not None and revision_id(theirs) not in work_ids else None
        if picked is not None:
            chosen[rel] = picked
    return list(chosen.values())


def files_by_id(files: dict[str, FileVersion]) -> dict[str, FileVersion]:
    """The first file (in load order) declaring each revision id."""
    found: dict[str, FileVersion] = {}
    for version in sorted(files.values(), key=lambda v: load_key(v.path.as_posix())):
        rid = revision_id(version)
        if rid is not None:
            found.setdefault(rid, version)
    return found


def base_heads(base: dict[str, FileVersion]) -> tuple[str, ...]:
    """Heads of REF's own history (ids no down_revision names), in load order."""
    downs: set[str] = set()
    ids: list[str] = []
    for version in base.values():
        node = revision_of(version.path, version.data)
        if node is not None:
            ids.append(node.revision)
            downs.update(node.down)
    return tuple(rid for rid in dict.fromkeys(ids) if rid not in downs)

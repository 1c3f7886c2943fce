"""Git plumbing for ``--base REF``: read another commit's files without checking it out.

Only ``git`` subprocesses (``rev-parse``, ``ls-tree``, ``cat-file --batch``, ``merge-base``), so it
works in a shallow CI checkout as long as REF itself was fetched (``git fetch --depth N origin main``).

The work tree belongs to the pull request, and git's repository discovery would accept a folder
the pull request committed with ``HEAD``, ``config``, ``objects/`` and ``refs/`` in it (a "bare"
repository) as the repository, with REF and every object under the author's control. So every git
call runs with ``safe.bareRepository=explicit`` (command-line configuration, which git honours
for that key), and :func:`toplevel` refuses a repository-shaped folder between PATH and the
real work tree root before git runs at all.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "GitError",
    "TreeEntry",
    "branch_refs",
    "current_branch",
    "grep_refs",
    "is_shallow",
    "ls_tree",
    "merge_base",
    "nested_repositories",
    "planted_repository",
    "read_blobs",
    "read_file_at",
    "resolve",
    "toplevel",
]


class GitError(Exception):
    """git is missing, the folder is not a repository, or REF does not exist (one-line message)."""


class TreeEntry(NamedTuple):
    mode: str  # "100644", "100755", "120000" (symlink), "160000" (submodule)
    kind: str  # "blob", "tree" or "commit"
    sha: str
    path: str  # posix, relative to the repository root


# Never treat a folder of the work tree as a bare repository (git >= 2.38; older gits ignore it,
# which is why toplevel() also looks for one itself).
_GIT = ("git", "-c", "safe.bareRepository=explicit")


def _run(repo: Path, args: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*_GIT, "-C", str(repo), *args], input=stdin, capture_output=True, check=False)


def _git(repo: Path, args: Sequence[str], stdin: bytes | None = None) -> bytes:
    try:
        done = _run(repo, args, stdin)
    except FileNotFoundError:
        raise GitError("git is not installed (needed for --base)") from None
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {reason[-1] if reason else f'exit {done.returncode}'}")
    return done.stdout


def _looks_like_git_directory(folder: Path) -> bool:
    """What git's discovery accepts as a repository in ``folder`` itself (``is_git_directory``)."""
    return (folder / "HEAD").exists() and (folder / "objects").is_dir() and (folder / "refs").is_dir()


def planted_repository(folder: Path) -> Path | None:
    """A repository-shaped folder git would find from ``folder`` before the real ``.git``, if any.

    Discovery walks up from ``folder``; at each level ``.git`` wins, else the folder itself is
    taken as a bare repository when it looks like one. Everything between PATH and the work tree
    root is the pull request's, so such a folder there is never the repository to trust.
    """
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return None
        if _looks_like_git_directory(candidate):
            return candidate
    return None


def nested_repositories(folder: Path, boundary: Path) -> list[Path]:
    """Work trees (folders with a ``.git``) from ``folder`` up to ``boundary``, innermost first."""
    found: list[Path] = []
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            found.append(candidate)
        if candidate == boundary:
            break
    return found


def toplevel(path: Path, boundary: Path | None = None) -> Path:
    """The work tree root holding ``path`` (``git rev-parse --show-toplevel``).

    Refuses a repository planted inside the checked one (see the module docstring) and, with
    ``boundary`` (the Action's workspace), a work tree nested inside another one below it: a
    submodule's objects come from wherever the pull request's ``.gitmodules`` points.
    """
    folder = (path if path.is_dir() else path.parent).resolve()
    planted = None if os.environ.get("GIT_DIR") else planted_repository(folder)
    if planted is not None:
        raise GitError(
            f"{planted} is laid out as a git repository (HEAD, objects/, refs/) inside the checked work tree; "
            "refusing to read --base from it (a pull request can commit one to fake REF)"
        )
    if boundary is not None and folder.is_relative_to(boundary.resolve()):
        trees = nested_repositories(folder, boundary.resolve())
        if len(trees) > 1:
            raise GitError(
                f"{trees[0]} is a git repository nested inside {trees[-1]} (a submodule?); "
                "--base reads REF only from the checked-out repository"
            )
    try:
        out = _git(folder, ["rev-parse", "--show-toplevel"])
    except GitError:
        raise GitError(f"{path} is not inside a git work tree (--base needs one)") from None
    return Path(out.decode("utf-8", "surrogateescape").strip()).resolve()


def resolve(repo: Path, ref: str) -> str:
    """The commit id REF names; a clear error when it was not fetched."""
    if not ref or ref.startswith("-"):
        raise GitError(f"invalid git ref {ref!r}")
    try:
        out = _git(repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"])
    except GitError:
        out = b""
    sha = out.decode("ascii", "replace").strip()
    if not sha:
        raise GitError(
            f"unknown git ref {ref!r}; in a shallow CI checkout fetch it first, e.g. "
            "`git fetch --depth 50 origin +refs/heads/main:refs/remotes/origin/main` for --base origin/main, "
            "or `git fetch --depth 50 origin main` and --base FETCH_HEAD"
        )
    return sha


def is_shallow(repo: Path) -> bool:
    return _git(repo, ["rev-parse", "--is-shallow-repository"]).strip() == b"true"


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor, or None when history is too shallow (or unrelated) to find one."""
    done = _run(repo, ["merge-base", a, b])
    if done.returncode != 0:
        return None
    sha = done.stdout.decode("ascii", "replace").strip()
    return sha or None


def ls_tree(repo: Path, commit: str, folder: str, recursive: bool) -> list[TreeEntry]:
    """Entries under ``folder`` (posix, relative to the repository root; "" for the root) at ``commit``.

    A folder missing at ``commit`` gives an empty list.
    """
    spec = folder.rstrip("/") + "/" if folder else "."
    args = ["ls-tree", "-z", "--full-tree"]
    if recursive:
        args.append("-r")
    out = _git(repo, [*args, commit, "--", spec])
    entries: list[TreeEntry] = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, sha = meta.decode("ascii").split()
        entries.append(TreeEntry(mode, kind, sha, name.decode("utf-8", "surrogateescape")))
    return entries


def read_blobs(repo: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """Contents of many blobs in one ``git cat-file --batch`` call."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    out = _git(repo, ["cat-file", "--batch"], stdin="".join(f"{sha}\n" for sha in wanted).encode("ascii"))
    blobs: dict[str, bytes] = {}
    pos = 0
    for sha in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode("ascii", "replace").split()
        pos = end + 1
        if len(header) < 3 or header[1] == "missing":
            raise GitError(f"git object {sha} is missing (shallow or partial clone?)")
        size = int(header[2])
        blobs[sha] = out[pos : pos + size]
        pos += size + 1  # content is followed by a newline
    return blobs


def branch_refs(repo: Path) -> list[str]:
    """Local branches and remote-tracking branches (short names), without symbolic refs like origin/HEAD."""
    out = _git(repo, ["for-each-ref", "--format=%(refname:short)%00%(symref)", "refs/heads", "refs/remotes"])
    refs: list[str] = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        name, _, symref = line.partition("\0")
        if name and not symref:
            refs.append(name)
    return refs


def grep_refs(repo: Path, needle: str, refs: Sequence[str], folders: Sequence[str]) -> list[tuple[str, str]]:
    """``(ref, path)`` of the files under ``folders`` (posix, repository-relative) that contain ``needle`` at each ref."""
    if not refs or not needle:
        return []
    specs = [folder.rstrip("/") + "/" if folder else "." for folder in folders] or ["."]
    try:
        done = _run(repo, ["grep", "-l", "-z", "-F", "-e", needle, *refs, "--", *specs])
    except OSError:
        return []
    if done.returncode != 0:  # 1: no match; anything else: nothing we can use
        return []
    found: list[tuple[str, str]] = []
    for record in done.stdout.split(b"\0"):
        ref, sep, path = record.decode("utf-8", "surrogateescape").partition(":")
        if sep:
            found.append((ref, path))
    return found


def read_file_at(repo: Path, ref: str, path: str) -> bytes:
    """The content of ``path`` (repository-relative, posix) at ``ref``."""
    return _git(repo, ["cat-file", "blob", f"{ref}:{path}"])


def current_branch(repo: Path) -> str | None:
    """The checked-out branch's short name; None on a detached HEAD."""
    try:
        name = _git(repo, ["rev-parse", "--abbrev-ref", "HEAD"]).decode("utf-8", "surrogateescape").strip()
    except GitError:
        return None
    return None if name == "HEAD" else name

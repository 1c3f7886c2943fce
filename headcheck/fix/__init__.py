"""Fixers: write what Alembic would write (a merge revision) or re-parent a branch in place.

They sit on top of the gate: read the history with ``headcheck.gate``, never import ``env.py`` or
any revision module, and raise :class:`FixError` (one line) when they refuse.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headcheck.gate import EnvironmentResult

__all__ = ["FixError", "heads_to_fix", "pick_environment", "write_revision_file"]


class FixError(Exception):
    """The fix cannot be applied safely; the message says why and what to do instead."""


def heads_to_fix(result: EnvironmentResult, verb: str) -> list[int]:
    """The heads to merge or rebase; FixError with fewer than two, or when other errors block it
    (a dangling down_revision, a duplicate id, an unreadable file: a merge fixes none of them)."""
    from headcheck.heads import winning_heads

    heads = winning_heads(result.graph)
    if len(heads) < 2:
        raise FixError(f"nothing to {verb}: {len(heads)} head(s)")
    blocking = sorted({f.code for f in result.findings if f.severity == "error" and f.code != "HC101"})
    if blocking:
        raise FixError(
            f"the history has other errors ({', '.join(blocking)}); fix what `headcheck check` reports first"
        )
    return heads


def pick_environment(results: Sequence[EnvironmentResult]) -> EnvironmentResult:
    """The one environment to fix: the only one, or the only one with several heads."""
    if not results:
        raise FixError("no Alembic environment found; pass --config or --versions")
    if len(results) == 1:
        return results[0]
    branched = [r for r in results if len({r.graph.nodes[h].revision for h in r.graph.heads}) > 1]
    if len(branched) == 1:
        return branched[0]
    names = ", ".join(r.environment.name for r in (branched or results))
    raise FixError(f"{len(branched or results)} environments ({names}); choose one with --config and --name")


def write_revision_file(path: Path, data: bytes, *, new: bool) -> None:
    """Write a revision file without following a symlink at ``path`` (the pull request may have
    committed one pointing anywhere); ``new`` refuses an existing file. FixError on failure."""
    flags = os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    flags |= (os.O_CREAT | os.O_EXCL) if new else os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FixError(f"{path} is a symbolic link: refusing to write through it") from None
        if exc.errno == errno.EEXIST:
            raise FixError(f"{path} already exists: refusing to overwrite it") from None
        raise FixError(f"{path}: cannot write: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)

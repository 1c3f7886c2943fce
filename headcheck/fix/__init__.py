"""Fixers: write what Alembic would write (a merge revision) or re-parent a branch in place.

They sit on top of the gate: read the history with ``headcheck.gate``, never import ``env.py`` or
any revision module, and raise :class:`FixError` (one line) when they refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headcheck.gate import EnvironmentResult

__all__ = ["FixError", "pick_environment"]


class FixError(Exception):
    """The fix cannot be applied safely; the message says why and what to do instead."""


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

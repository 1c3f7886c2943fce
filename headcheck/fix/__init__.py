"""Fixers: write what Alembic would write (a merge revision) or re-parent a branch in place.

They sit on top of the gate: read the history with ``headcheck.gate``, never import ``env.py`` or
any revision module, and raise :class:`FixError` (one line) when they refuse.
"""

from __future__ import annotations

__all__ = ["FixError"]


class FixError(Exception):
    """The fix cannot be applied safely; the message says why and what to do instead."""

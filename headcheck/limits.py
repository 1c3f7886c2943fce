"""Bounds on what hostile input may cost in output: every repository string in a message is cut.

A 600 KB expression, a 512 KB interpolated path or a thousand-term tuple must not become a
600 KB line in a CI log. Values are cut at a fixed length and end in "..." when cut.
"""

from __future__ import annotations

__all__ = ["MESSAGE_LIMIT", "TEXT_LIMIT", "shorten"]

TEXT_LIMIT = 120  # one echoed value (an expression, a path, a revision id)
MESSAGE_LIMIT = 2000  # a whole finding message or one-line error


def shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` when short enough, else its first characters followed by "..."."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 0)] + "..."

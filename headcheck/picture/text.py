"""The picture as plain text, newest first like ``alembic history`` (``headcheck graph``'s default)."""

from __future__ import annotations

from headcheck import logsafe
from headcheck.picture.model import View, parent_boxes

__all__ = ["render"]


def render(v: View) -> str:
    """Newest first, like ``alembic history``: one line per box, its parents after ``<-``."""
    parents = parent_boxes(v)
    rows = []
    for item in reversed(v.items):
        bullet = {"revision": "*" if item.problem else "o", "run": ":", "missing": "!"}.get(item.kind, ".")
        revises = ", ".join(prefix + (parent.label if parent else "?") for prefix, parent in parents.get(item.key, []))
        texts = (item.label, item.detail, ", ".join(item.marks), revises)
        rows.append((bullet, *(logsafe.line(text) for text in texts)))
    widths = [max((len(row[k]) for row in rows), default=0) for k in range(4)]
    lines = []
    for row in rows:
        cells = [row[k].ljust(widths[k]) for k in range(4)]
        line = "  ".join(cells)
        if row[4]:
            line += f"  <- {row[4]}"
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"

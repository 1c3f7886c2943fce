"""Pictures of one environment's revision graph: text, Mermaid, Graphviz dot, or a Markdown table.

Used by ``headcheck graph`` (the whole graph) and by the job summary (a focused view: the fork
and its heads, or the dangling reference, with older history folded into one placeholder).

``model`` builds the boxes and arrows (a ``View``); each format is one module with the same
``render(view) -> str``. Labels are revision ids and file names from the pull request:
each format escapes them for its own syntax (Mermaid entity codes, dot string escapes, Markdown
code spans and cells), on one line, with no runner command (:mod:`headcheck.logsafe`).
"""

from __future__ import annotations

from collections.abc import Callable

from headcheck.gate import EnvironmentResult
from headcheck.picture import dot, mermaid, table, text
from headcheck.picture.model import Edge, Item, View, focus_nodes, node_marks, view

__all__ = [
    "FORMATS",
    "MERMAID_MAX_ITEMS",
    "Edge",
    "Item",
    "View",
    "focus_nodes",
    "node_marks",
    "render",
    "summary_picture",
    "view",
]

RENDERERS: dict[str, Callable[[View], str]] = {
    "text": text.render,
    "mermaid": mermaid.render,
    "dot": dot.render,
    "table": table.render,
}
FORMATS = tuple(RENDERERS)
MERMAID_MAX_ITEMS = 60  # above this a Markdown table replaces the Mermaid picture


def render(env: EnvironmentResult, fmt: str, *, focus: bool = False) -> str:
    """The graph of ``env`` as ``fmt`` (text, mermaid, dot or table); ``focus`` for the part that matters."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown picture format {fmt!r} (choose from {', '.join(FORMATS)})")
    return RENDERERS[fmt](view(env, focus_nodes(env) if focus else None))


def summary_picture(env: EnvironmentResult, max_items: int = MERMAID_MAX_ITEMS) -> str:
    """Markdown for the job summary: the focused view as Mermaid, or as a table when too big."""
    v = view(env, focus_nodes(env))
    # Folded boxes already say how much older/newer history is left out; say it only otherwise.
    placeholders = any(item.kind in ("older", "newer") for item in v.items)
    note = f"\n_{v.hidden} other revision(s) not drawn._\n" if v.hidden and not placeholders else ""
    if len(v.items) <= max_items and len(v.edges) <= 4 * max_items:
        return f"```mermaid\n{mermaid.render(v)}```\n{note}"
    return table.render(v) + note

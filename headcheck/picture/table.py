"""The picture as a Markdown table: the job summary's fallback when Mermaid would be too big."""

from __future__ import annotations

from headcheck import markdown
from headcheck.picture.model import View, parent_boxes

__all__ = ["TABLE_MAX_ROWS", "render"]

TABLE_MAX_ROWS = 100


def render(v: View, max_rows: int = TABLE_MAX_ROWS) -> str:
    parents = parent_boxes(v)
    lines = ["| revision | title | role / findings | revises |", "|---|---|---|---|"]
    items = list(reversed(v.items))
    for item in items[:max_rows]:
        name = markdown.code(item.label, table=True) if item.names_a_revision else markdown.cell(item.label)
        revises = ", ".join(
            markdown.cell(prefix)
            + (
                "?"
                if parent is None
                else markdown.code(parent.label, table=True)
                if parent.names_a_revision
                else markdown.cell(parent.label)
            )
            for prefix, parent in parents.get(item.key, [])
        )
        # A missing revision has no file and no title: what is wrong with it is a finding.
        title, marks = ("", [*item.marks, item.detail]) if item.kind == "missing" else (item.detail, list(item.marks))
        lines.append(f"| {name} | {markdown.cell(title)} | {markdown.cell(', '.join(marks))} | {revises} |")
    if len(items) > max_rows:
        lines.append(f"| … {len(items) - max_rows} more | | | |")
    return "\n".join(lines) + "\n"

"""The picture as a Graphviz dot digraph named after the environment."""

from __future__ import annotations

from headcheck import logsafe
from headcheck.picture.model import View

__all__ = ["render"]


def _dot_text(text: str) -> str:
    """Text inside a quoted dot string: one line (no runner command), backslash and quote escaped."""
    return logsafe.line(text).replace("\\", "\\\\").replace('"', '\\"')


def render(v: View) -> str:
    lines = [f'digraph "{_dot_text(v.title)}" {{', "    rankdir=BT;", '    node [shape=box, fontname="monospace"];']
    for item in v.items:
        label = "\\n".join(_dot_text(part) for part in (item.label, item.detail, ", ".join(item.marks)) if part)
        attrs = [f'label="{label}"']
        if item.kind == "missing":
            attrs += ["style=dashed", "color=red", "fontcolor=red"]
        elif item.problem:
            attrs += ["style=filled", 'fillcolor="#ffebe9"', "color=red"]
        elif "head" in item.marks:
            attrs += ['style="rounded,filled"', 'fillcolor="#dafbe1"']
        elif item.kind != "revision":
            attrs += ["style=dashed", "color=gray"]
        lines.append(f"    {item.key} [{', '.join(attrs)}];")
    styles = {"down": "", "depends": ' [style=dotted, label="depends_on"]', "missing": " [style=dashed, color=red]"}
    for edge in v.edges:
        lines.append(f"    {edge.parent} -> {edge.child}{styles[edge.style]};")
    lines.append("}")
    return "\n".join(lines) + "\n"

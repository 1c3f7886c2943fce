"""The picture as a Mermaid flowchart (GitHub renders it in the job summary and in Markdown).

Every label goes through entity codes for each character Mermaid parses, on one line.
"""

from __future__ import annotations

import re

from headcheck import logsafe
from headcheck.picture.model import View

__all__ = ["render"]

_MERMAID_ENTITIES = {
    "#": "#35;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",  # a backtick right after the quote starts a Markdown string
    "%": "#37;",  # %%{init: ...}%% directives are found anywhere in the text
    "{": "#123;",
    "}": "#125;",
    "&": "#38;",
}
_MERMAID_CHARS = re.compile('[#"<>`%{}&]')


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: one line, entity codes for every character Mermaid parses."""
    return _MERMAID_CHARS.sub(lambda m: _MERMAID_ENTITIES[m.group()], logsafe.line(text))


_MERMAID_CLASSES = (
    "classDef head fill:#dafbe1,stroke:#1a7f37,color:#1f2328",
    "classDef problem fill:#ffebe9,stroke:#cf222e,stroke-width:2px,color:#1f2328",
    "classDef missing fill:#ffffff,stroke:#cf222e,stroke-width:2px,stroke-dasharray:5 5,color:#cf222e",
    "classDef folded fill:#f6f8fa,stroke:#8c959f,stroke-dasharray:3 3,color:#59636e",
)


def render(v: View) -> str:
    lines = ["flowchart BT"]
    classes: dict[str, list[str]] = {}
    for item in v.items:
        parts = [
            f"<b>{_mermaid_text(item.label)}</b>" if item.kind in ("revision", "missing") else _mermaid_text(item.label)
        ]
        if item.detail:
            parts.append(_mermaid_text(item.detail))
        if item.marks:
            parts.append("<i>" + _mermaid_text(" · ".join(item.marks)) + "</i>")
        label = "<br/>".join(parts)
        shape = {"revision": ('["', '"]'), "run": ('[["', '"]]'), "missing": ('[/"', '"/]')}.get(
            item.kind, ('("', '")')
        )
        if item.kind == "revision" and "head" in item.marks:
            shape = ('(["', '"])')
        lines.append(f"    {item.key}{shape[0]}{label}{shape[1]}")
        if item.kind == "missing":
            cls = "missing"
        elif item.problem:
            cls = "problem"
        elif "head" in item.marks:
            cls = "head"
        elif item.kind in ("run", "older", "newer"):
            cls = "folded"
        else:
            continue
        classes.setdefault(cls, []).append(item.key)
    arrows = {"down": "-->", "depends": "-.->|depends_on|", "missing": "-. missing .->"}
    for edge in v.edges:
        lines.append(f"    {edge.parent} {arrows[edge.style]} {edge.child}")
    lines += ["    " + line for line in _MERMAID_CLASSES]
    for cls, keys in classes.items():
        lines.append(f"    class {','.join(keys)} {cls}")
    return "\n".join(lines) + "\n"

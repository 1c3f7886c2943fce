"""``# headcheck: ignore[HC601, HC606]`` comments in revision files.

A comment on a line of its own before the first ``def`` applies to the whole file; a comment at
the end of a line applies to the findings reported at that line (the line of the ``op.*`` call).
Only rules about a revision's body (HC6xx) honour these comments; graph rules are judged across
files and are ignored per project (``[tool.headcheck] ignore``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

__all__ = ["Ignores", "ignores_in", "read_ignores"]

_COMMENT = re.compile(r"#\s*headcheck:\s*ignore\[([A-Za-z0-9_,\s]+)\]")


class Ignores(NamedTuple):
    whole_file: frozenset[str]
    lines: dict[int, frozenset[str]]

    def ignored(self, code: str, line: int | None) -> bool:
        return code in self.whole_file or (line is not None and code in self.lines.get(line, frozenset()))


_NONE = Ignores(frozenset(), {})


def ignores_in(source: str) -> Ignores:
    if "headcheck:" not in source:
        return _NONE
    whole: set[str] = set()
    lines: dict[int, frozenset[str]] = {}
    before_def = True
    for number, text in enumerate(source.splitlines(), 1):
        stripped = text.lstrip()
        if stripped.startswith(("def ", "async def ")):
            before_def = False
        match = _COMMENT.search(text)
        if match is None:
            continue
        codes = frozenset(code.strip().upper() for code in match.group(1).split(",") if code.strip())
        if before_def and stripped.startswith("#"):
            whole |= codes
        else:
            lines[number] = codes
    return Ignores(frozenset(whole), lines)


def read_ignores(path: Path | str | None) -> Ignores:
    """The comments of a revision file; none when it cannot be read."""
    if path is None:
        return _NONE
    try:
        return ignores_in(Path(path).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return _NONE

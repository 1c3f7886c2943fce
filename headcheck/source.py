"""Revision source files as Python reads them, and the record of a problem found in one.

Below both readers of a file's bytes (``headcheck.scan`` and ``headcheck.opslint``), so neither
imports the other for them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["FileIssue", "source_encoding"]


class FileIssue(NamedTuple):
    """A problem in one revision file: its rule code, the message, the line (None: the whole file)."""

    code: str
    message: str
    line: int | None


def source_encoding(data: bytes) -> str:
    """The encoding Python reads a source file with: a BOM, a PEP 263 cookie, else UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if b"coding" not in data:  # no cookie anywhere, let alone on the first two lines
        return "utf-8"
    match = re.search(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", b"\n".join(data.split(b"\n", 2)[:2]), re.MULTILINE)
    return match.group(1).decode("ascii") if match else "utf-8"

"""What headcheck says to the process that ran it: exit codes, and colour on a terminal.

Standard library only and imports nothing of headcheck: the CLI's fast path (a replayed result)
uses it before any command module is loaded.
"""

from __future__ import annotations

import os

__all__ = ["COLORS", "EXIT_FAIL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_TERMINATED", "EXIT_USAGE", "paint", "use_color"]

EXIT_OK = 0  # clean
EXIT_FAIL = 1  # findings: the gate fails
EXIT_USAGE = 2  # usage, configuration or set-up error
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_TERMINATED = 143  # SIGTERM (or SIGHUP) during the database proof, as a shell reports SIGTERM

COLORS = {"error": "\033[31m", "warning": "\033[33m", "ok": "\033[32m", "bold": "\033[1m", "dim": "\033[2m"}
_RESET = "\033[0m"


def use_color(stream: object) -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def paint(text: str, style: str, color: bool) -> str:
    """``text`` in ``style`` (a key of COLORS) when ``color``; call it on text already made safe."""
    return f"{COLORS[style]}{text}{_RESET}" if color else text

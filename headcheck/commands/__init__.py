"""One module per CLI command: ``add_arguments(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import os
import sys


def help_formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's formatter, as wide as the terminal, found as ``shutil.get_terminal_size`` finds
    it: argparse builds one for every option it adds, and importing shutil to ask (with bz2 and
    lzma) costs a cold check's start a few milliseconds."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return argparse.HelpFormatter(prog, width=(columns or 80) - 2)

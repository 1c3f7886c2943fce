"""Output formats. Each module exposes ``render(result, *, color=False) -> str``; formatting only."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headcheck.gate import GateResult

FORMATS = {
    "text": "headcheck.report.text",
    "json": "headcheck.report.json_report",
    "github": "headcheck.report.github",
    "sarif": "headcheck.report.sarif",
}


def render(fmt: str, result: GateResult, *, color: bool = False) -> str:
    module = importlib.import_module(FORMATS[fmt])
    return str(module.render(result, color=color))

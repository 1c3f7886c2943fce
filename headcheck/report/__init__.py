"""Output formats. Each module exposes ``render(result, *, color=False) -> str``; formatting only."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from headcheck.config import Environment
    from headcheck.gate import GateResult

FORMATS = {
    "text": "headcheck.report.text",
    "json": "headcheck.report.json_report",
    "github": "headcheck.report.github",
    "sarif": "headcheck.report.sarif",
}


def environment_label(environment: Environment, root: Path) -> str:
    """``alembic (alembic.ini)``: the name and the config file (else the script location) it came from."""
    from headcheck.findings import relpath

    where = relpath(environment.config_path, root) or relpath(environment.script_location, root)
    return f"{environment.name} ({where})"


def render(fmt: str, result: GateResult, *, color: bool = False) -> str:
    module = importlib.import_module(FORMATS[fmt])
    return str(module.render(result, color=color))

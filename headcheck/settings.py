"""headcheck's own settings: ``[tool.headcheck]`` in pyproject.toml, overridden by flags."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from headcheck.alembic_options import ConfigError, load_toml
from headcheck.rules import RULES

__all__ = ["Settings", "load_settings"]


class Settings(NamedTuple):
    ignore: frozenset[str] = frozenset()  # rule codes never reported
    max_heads: int | None = None  # None: one head, or one per branch label
    strict: bool = False  # warnings fail the gate too
    irreversible: tuple[str, ...] = ()  # headcheck db: revisions whose downgrade is not checked
    downgrade_floor: str | None = None  # headcheck db: no downgrade checks at or below this revision


def _codes(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: ignore must be a list of rule codes")
    unknown = sorted(set(value) - set(RULES))
    if unknown:
        raise ConfigError(f"{where}: unknown rule code(s): {', '.join(unknown)}")
    return frozenset(value)


def load_settings(root: Path) -> Settings:
    """Read ``[tool.headcheck]`` from ``root/pyproject.toml`` when present."""
    path = (root if root.is_dir() else root.parent) / "pyproject.toml"
    if not path.is_file():
        return Settings()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Settings()
    if "tool.headcheck" not in text:
        return Settings()
    table = load_toml(path).get("tool", {}).get("headcheck", {})
    where = f"{path} [tool.headcheck]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown_keys = sorted(set(table) - {"ignore", "max-heads", "strict", "irreversible", "downgrade-floor"})
    if unknown_keys:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(unknown_keys)}")
    max_heads = table.get("max-heads")
    if max_heads is not None and (not isinstance(max_heads, int) or isinstance(max_heads, bool) or max_heads < 1):
        raise ConfigError(f"{where}: max-heads must be a positive integer")
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise ConfigError(f"{where}: strict must be true or false")
    ignore = _codes(table.get("ignore", []), where)
    irreversible = table.get("irreversible", [])
    if not isinstance(irreversible, list) or not all(isinstance(item, str) for item in irreversible):
        raise ConfigError(f"{where}: irreversible must be a list of revision ids")
    floor = table.get("downgrade-floor")
    if floor is not None and not isinstance(floor, str):
        raise ConfigError(f"{where}: downgrade-floor must be a revision id")
    return Settings(
        ignore=ignore, max_heads=max_heads, strict=strict, irreversible=tuple(irreversible), downgrade_floor=floor
    )

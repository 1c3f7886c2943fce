"""Optional dependencies: which extra brings a module, and the one-line message when it is missing."""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "missing_extra"]

# the modules each extra of pyproject.toml brings, as imported
EXTRAS = {
    "postgres": ("alembic", "sqlalchemy", "psycopg", "pytest_postgresql", "port_for", "mirakuru", "greenlet"),
    "fix": ("mako",),
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_extra(command: str, extra: str, modules: tuple[str, ...] | None = None) -> str | None:
    """``"headcheck db needs the postgres extra (missing: port_for): pip install 'headcheck[postgres]'"``,
    or None when every module of ``extra`` (or just ``modules``) can be imported."""
    missing = [m for m in (modules if modules is not None else EXTRAS[extra]) if not _importable(m)]
    if not missing:
        return None
    return f"{command} needs the {extra} extra (missing: {', '.join(missing)}): pip install 'headcheck[{extra}]'"

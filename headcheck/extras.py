"""Optional dependencies: which extra brings which module, and the one-line message when one is missing.

Two ways in, one table: a command that needs a whole extra checks it up front
(:func:`missing_extra`, before it starts anything), and the CLI turns any other
``ModuleNotFoundError`` for one of these modules into the same message (:func:`for_missing_module`).
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "for_missing_module", "missing_extra"]

# The modules each extra of pyproject.toml brings, as imported.
EXTRAS = {
    "postgres": ("alembic", "sqlalchemy", "psycopg", "greenlet"),
    "mysql": ("alembic", "sqlalchemy", "pymysql"),
    "fix": ("mako",),
}


def _message(command: str, extra: str, missing: list[str]) -> str:
    return f"{command} needs the {extra} extra (missing: {', '.join(missing)}): pip install 'headcheck[{extra}]'"


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_extra(command: str, extra: str, modules: tuple[str, ...] | None = None) -> str | None:
    """``"headcheck db needs the postgres extra (missing: psycopg): pip install 'headcheck[postgres]'"``,
    or None when every module of ``extra`` (or just ``modules``) can be imported."""
    missing = [m for m in (modules if modules is not None else EXTRAS[extra]) if not _importable(m)]
    return _message(command, extra, missing) if missing else None


def for_missing_module(command: str, exc: ModuleNotFoundError) -> str | None:
    """The message for an optional module that failed to import, or None when it is not one of ours."""
    top = (exc.name or "").partition(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return _message(command, extra, [top])
    return None

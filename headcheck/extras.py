"""Optional dependencies: which extra brings which module, and the one-line error when one is missing."""

from __future__ import annotations

__all__ = ["EXTRAS", "missing_extra"]

# Top-level module -> the extra of headcheck that installs it (pyproject.toml [project.optional-dependencies]).
EXTRAS = {
    "alembic": "postgres",
    "sqlalchemy": "postgres",
    "psycopg": "postgres",
    "psycopg_binary": "postgres",
    "pytest_postgresql": "postgres",
    "port_for": "postgres",
    "mirakuru": "postgres",
    "greenlet": "postgres",
    "mako": "fix",
}


def missing_extra(command: str, exc: ModuleNotFoundError) -> str | None:
    """The message for a missing optional module, or None when the module is not one of ours."""
    top = (exc.name or "").partition(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return f"headcheck {command} needs the {extra!r} extra ({top} is not installed): pip install 'headcheck[{extra}]'"

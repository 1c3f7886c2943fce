"""headcheck: a CI gate for Alembic migration histories."""

__version__ = "0.1.0"

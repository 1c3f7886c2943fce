"""Which database a SQLAlchemy URL names, read from its text (no SQLAlchemy, no connection).

``mysql+pymysql://...``: dialect ``mysql``, driver ``pymysql``. One definition for the static gate
(rules that only mean something on PostgreSQL) and the database proof (which backend to start).
Standard library only.
"""

from __future__ import annotations

import re

__all__ = ["POSTGRES_DIALECTS", "dialect_of", "driver_of", "names_another_database", "with_driver"]

POSTGRES_DIALECTS = frozenset({"postgresql", "postgres"})

_URL = re.compile(r"^(?P<dialect>[A-Za-z][A-Za-z0-9_]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://")


def dialect_of(url: str) -> str | None:
    """``mysql+pymysql://...`` -> ``mysql``; None when ``url`` is not a URL."""
    match = _URL.match(url.strip())
    return match["dialect"].lower() if match else None


def driver_of(url: str) -> str | None:
    """``postgresql+asyncpg://`` -> ``asyncpg``; None when the URL names no driver."""
    match = _URL.match(url.strip())
    return match["driver"] if match and match["driver"] else None


def with_driver(url: str, driver: str) -> str:
    """The same URL (same dialect) with SQLAlchemy driver ``driver``."""
    match = _URL.match(url)
    return f"{match['dialect']}+{driver}://" + url[match.end() :] if match else url


def names_another_database(url: object, dialects: frozenset[str] = POSTGRES_DIALECTS) -> bool:
    """True when ``url`` (a config's ``sqlalchemy.url``) is a URL of a dialect outside ``dialects``;
    False when it is one of them, missing, or not a URL (an env var, an interpolation): unknown."""
    dialect = dialect_of(url) if isinstance(url, str) else None
    return dialect is not None and dialect not in dialects

"""Database URLs in the two spellings headcheck needs: SQLAlchemy's and libpq's."""

from __future__ import annotations

import re

__all__ = ["libpq_url", "redact", "sqlalchemy_url"]

_SCHEME = re.compile(r"^(postgres|postgresql)(\+[A-Za-z0-9_]+)?://")


def is_postgres(url: str) -> bool:
    return bool(_SCHEME.match(url))


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` would make SQLAlchemy use psycopg2; name the installed psycopg 3 driver."""
    match = _SCHEME.match(url)
    if match and not match.group(2):
        return "postgresql+psycopg://" + url[match.end() :]
    return url


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...`` for libpq (psycopg, psql)."""
    match = _SCHEME.match(url)
    return "postgresql://" + url[match.end() :] if match else url


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)

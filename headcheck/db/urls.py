"""PostgreSQL URLs (SQLAlchemy's and libpq's spellings, the driver) and the one redaction function.
Any database's URL parts: :mod:`headcheck.dialects` (``dialect_of``, ``driver_of``, ``with_driver``).

Standard library only: :func:`redact` is also used on the static path (the Action's log).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from headcheck.dialects import POSTGRES_DIALECTS, dialect_of

__all__ = [
    "is_postgres",
    "libpq_url",
    "redact",
    "split_password",
]

_SCHEME = re.compile(r"^(postgres|postgresql)(\+[A-Za-z0-9_]+)?://")

# scheme://user:PASSWORD@ -- the password runs to the LAST "@" of the token, so a raw "@" in it is
# hidden too (a query string holding "@" is then hidden as well: more, never less).
_URL_PASSWORD = re.compile(r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>\S*)@")
# libpq conninfo ``password=...`` and a URL's ``?password=...``
_KEY_PASSWORD = re.compile(r"(?P<keep>\bpassword=)(?:'(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` (a URL, a conninfo, or a message holding them) with every password replaced by ``***``."""
    return _KEY_PASSWORD.sub(r"\g<keep>***", _URL_PASSWORD.sub(r"\g<keep>***@", text))


def is_postgres(url: str) -> bool:
    return dialect_of(url) in POSTGRES_DIALECTS


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...`` for libpq (psycopg, psql)."""
    match = _SCHEME.match(url)
    return "postgresql://" + url[match.end() :] if match else url


def split_password(url: str) -> tuple[str, str | None]:
    """(the URL without its password, the password): for a command line that other local users can
    read in ``ps``; the password then goes through ``PGPASSWORD``. The password is exactly the part
    :func:`redact` hides (the same pattern)."""
    match = _URL_PASSWORD.match(url)
    if not match:
        return url, None
    return match["keep"][:-1] + "@" + url[match.end() :], unquote(match["password"])

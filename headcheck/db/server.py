"""The throwaway PostgreSQL, under its former name: see :mod:`headcheck.db.backends.postgres`
(the server, started directly) and :mod:`headcheck.db.launch` (privilege drop,
temp dir layout, sweep of leftovers)."""

from __future__ import annotations

from headcheck.db.backends.postgres import (
    OWNER_FILE,
    SERVER_DIR,
    TEMP_PREFIX,
    Server,
    ServerError,
    create_database,
    find_pg_bin,
    sweep_stale,
    throwaway_server,
)

__all__ = [
    "OWNER_FILE",
    "SERVER_DIR",
    "TEMP_PREFIX",
    "Server",
    "ServerError",
    "create_database",
    "find_pg_bin",
    "sweep_stale",
    "throwaway_server",
]

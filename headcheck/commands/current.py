"""``headcheck current [--database-url URL] [PATH]``: where a live database is, read-only.

Reads Alembic's version table with a single SELECT in a read-only transaction and places every
row in the history found on disk: a head, N revisions behind, a revision no migration file
defines (every Alembic command then fails with ``Can't locate revision identified by '<rev>'``),
or two rows on one branch (``alembic upgrade`` fails: "overlaps with other requested
revisions"). The URL is ``--database-url``, else the variable ``--url-env`` names, else the
config's ``sqlalchemy.url``, as Alembic reads it. PostgreSQL (psycopg, a read-only session),
MySQL/MariaDB (PyMySQL, whatever the URL's driver: ``START TRANSACTION READ ONLY``) and SQLite
(the file opened read-only: ``file:PATH?mode=ro``, so a missing file is not created).
Exit 0 when the database is at all heads, 1 when it is not, 2 for usage errors or a failed
connection.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

from headcheck.commands.common import (
    EXIT_FAIL,
    EXIT_OK,
    add_environment_arguments,
    error,
    gate_from_args,
)
from headcheck.config import ConfigError
from headcheck.logsafe import json_document, line
from headcheck.report import environment_label


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_environment_arguments(parser)
    parser.add_argument(
        "--database-url",
        help="the PostgreSQL, MySQL/MariaDB or SQLite database to read (default: --url-env's variable, else the "
        "config's sqlalchemy.url)",
    )
    parser.add_argument(
        "--url-env", metavar="NAME", help="read the database URL from this environment variable (as env.py does)"
    )
    parser.add_argument(
        "--version-table", default="alembic_version", help="Alembic's version table (default: alembic_version)"
    )
    parser.add_argument("--version-table-schema", help="schema of the version table (default: the search_path)")
    parser.add_argument(
        "--format", "-f", choices=["text", "json"], default="text", help="output format (default: text)"
    )


_MYSQL = re.compile(r"^(mysql|mariadb)(\+[A-Za-z0-9_]+)?://", re.I)
_SQLITE = re.compile(r"^sqlite(\+[A-Za-z0-9_]+)?://", re.I)


def _read_rows(url: str, table: str, schema: str | None) -> list[str] | None:
    """The version_num rows, or None when there is no version table. SELECTs only, read-only."""
    if _MYSQL.match(url):
        return _read_mysql_rows(url, table, schema)
    if _SQLITE.match(url):
        return _read_sqlite_rows(url, table, schema)
    return _read_postgres_rows(url, table, schema)


def _read_postgres_rows(url: str, table: str, schema: str | None) -> list[str] | None:
    import psycopg
    from psycopg import sql

    from headcheck.db.urls import libpq_url

    qualified = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    with psycopg.connect(libpq_url(url), autocommit=True, options="-c default_transaction_read_only=on") as conn:
        exists = conn.execute("SELECT to_regclass(%s)", [qualified.as_string(conn)]).fetchone()
        if not exists or exists[0] is None:
            return None
        rows = conn.execute(sql.SQL("SELECT version_num FROM {}").format(qualified)).fetchall()
    return [str(row[0]) for row in rows]


def _mysql_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _read_mysql_rows(url: str, table: str, schema: str | None) -> list[str] | None:
    """MySQL/MariaDB through PyMySQL (the URL's own driver does not matter: only a SELECT is sent),
    inside ``START TRANSACTION READ ONLY`` on a session that is read-only too; rolled back."""
    import pymysql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    query = {k: v if isinstance(v, str) else v[-1] for k, v in parsed.query.items()}
    kwargs: dict[str, Any] = {"connect_timeout": 10, "autocommit": False}
    if query.get("unix_socket"):
        kwargs["unix_socket"] = query["unix_socket"]
    if query.get("charset"):
        kwargs["charset"] = query["charset"]
    conn = pymysql.connect(
        host=parsed.host or "localhost",
        port=parsed.port or 3306,
        user=parsed.username or "",
        password=parsed.password or "",
        database=parsed.database or None,
        **kwargs,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("START TRANSACTION READ ONLY")
            cursor.execute(
                "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) "
                "AND TABLE_NAME = %s",
                [schema, table],
            )
            if cursor.fetchone() is None:
                return None
            qualified = f"{_mysql_quote(schema)}.{_mysql_quote(table)}" if schema else _mysql_quote(table)
            cursor.execute(f"SELECT version_num FROM {qualified}")
            rows = cursor.fetchall()
        conn.rollback()
    finally:
        conn.close()
    return [row[0].decode() if isinstance(row[0], bytes) else str(row[0]) for row in rows]


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL (query string dropped);
    None for an in-memory database (``sqlite://``, ``:memory:``)."""
    from urllib.parse import unquote

    rest = _SQLITE.sub("", url, count=1)
    if not rest.startswith("/"):
        return None
    path = unquote(rest[1:].split("?", 1)[0])
    return None if path in ("", ":memory:") else path


def _read_sqlite_rows(url: str, table: str, schema: str | None) -> list[str] | None:
    """The file opened read-only (``mode=ro``: SQLite refuses every write and never creates it)."""
    import sqlite3
    from urllib.parse import quote

    path = sqlite_path(url)
    if path is None:
        raise ValueError("an in-memory SQLite database has no revision to read; name the database file")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"no such SQLite database file: {path} (a relative path is read from the current folder, as SQLAlchemy does)"
        )
    conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
    try:
        master = f'"{schema.replace(chr(34), chr(34) * 2)}".sqlite_master' if schema else "sqlite_master"
        found = conn.execute(f"SELECT 1 FROM {master} WHERE type = 'table' AND name = ?", [table]).fetchone()
        if found is None:
            return None
        qualified = '"' + table.replace('"', '""') + '"'
        if schema:
            qualified = '"' + schema.replace('"', '""') + '".' + qualified
        rows = conn.execute(f"SELECT version_num FROM {qualified}").fetchall()
    finally:
        conn.close()
    return [str(row[0]) for row in rows]


def unknown_message(revision: str, where: str) -> str:
    return (
        f"the database is at revision {revision}, which no migration file under {where} defines; every Alembic "
        f"command will fail with \"Can't locate revision identified by '{revision}'\". Recover: restore the migration "
        f'file that defines it (find it with: git log --all --oneline -S "{revision}"), or, if the schema really '
        f"matches a revision you have, run: alembic stamp --purge <that revision>"
    )


def _overlaps(rows: list[str], graph: Any) -> dict[str, str]:
    """Rows that sit on another row's branch (an ancestor of it): revision -> the row above it."""
    known = [r for r in rows if r in graph.by_id]
    above: dict[str, str] = {}
    for low in known:
        for high in known:
            if low != high and graph.by_id[low] in graph.ancestors(graph.by_id[high]):
                above.setdefault(low, high)
    return above


def place_rows(rows: list[str], graph: Any, where: str) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Per row: status "head", "behind", "overlap" or "unknown"; plus the pending ids.

    Pending is None when a row names an unknown revision: what is applied cannot be known then."""
    real_heads = [graph.nodes[i].revision for i in graph.real_heads]
    applied: set[int] = set()
    for revision in rows:
        if revision in graph.by_id:
            applied |= graph.ancestors(graph.by_id[revision])
    wanted: set[int] = set()
    for head in graph.real_heads:
        wanted |= graph.ancestors(head)
    pending_nodes = sorted(wanted - applied)
    unknown = [r for r in rows if r not in graph.by_id]
    pending = None if unknown else [graph.nodes[i].revision for i in pending_nodes]
    overlaps = _overlaps(rows, graph)
    placed: list[dict[str, Any]] = []
    for revision in rows:
        if revision not in graph.by_id:
            placed.append(
                {"revision": revision, "status": "unknown", "behind": None, "message": unknown_message(revision, where)}
            )
            continue
        node = graph.by_id[revision]
        if revision in overlaps:
            placed.append(
                {
                    "revision": revision,
                    "status": "overlap",
                    "behind": None,
                    "message": (
                        f"an ancestor of {overlaps[revision]}, which is also in the version table; every "
                        f'alembic upgrade fails on this state ("Requested revision ... overlaps"). Recover: '
                        f"DELETE FROM alembic_version WHERE version_num = '{revision}'"
                    ),
                }
            )
            continue
        behind = sum(node in graph.ancestors(i) for i in pending_nodes)
        if revision in real_heads:
            placed.append({"revision": revision, "status": "head", "behind": 0, "message": "at a head"})
        else:
            placed.append(
                {
                    "revision": revision,
                    "status": "behind",
                    "behind": behind,
                    "message": f"{behind} revision(s) behind the heads ({', '.join(real_heads)})",
                }
            )
    return placed, pending


def _database_url(args: argparse.Namespace, env: Any) -> tuple[str | None, str]:
    """The URL to read and where it came from, as Alembic's env.py would find it."""
    if args.database_url:
        return args.database_url, "--database-url"
    if args.url_env:
        value = os.environ.get(args.url_env)
        return (value or None), f"--url-env {args.url_env}"
    url = env.environment.options.get("sqlalchemy.url")
    config = env.environment.config_path
    return (str(url) if url else None), f"sqlalchemy.url in {config.name}" if config else "sqlalchemy.url"


def run(args: argparse.Namespace) -> int:
    from headcheck.db.urls import is_postgres, redact
    from headcheck.findings import relpath

    if args.url_env is not None and (not args.url_env.replace("_", "a").isalnum() or args.url_env[0].isdigit()):
        return error(f"--url-env {args.url_env!r}: not an environment variable name")
    try:
        result = gate_from_args(args)
    except ConfigError as exc:
        return error(str(exc))
    if len(result.environments) != 1:
        found = ", ".join(e.environment.name for e in result.environments) or "none"
        return error(
            f"need exactly one Alembic environment, found {len(result.environments)} ({found}); pass --config/--name"
        )
    env = result.environments[0]
    url, origin = _database_url(args, env)
    if url is None:
        return error(
            f"no database URL: {origin}: the variable is not set; pass --database-url URL, or --url-env NAME "
            "for the variable your env.py reads"
            if args.url_env
            else f"no database URL: {origin} is not set; pass --database-url URL, or --url-env NAME for the "
            "variable your env.py reads"
        )
    if not (is_postgres(url) or _MYSQL.match(url) or _SQLITE.match(url)):
        return error(
            f"{origin}: {redact(url)}: headcheck current reads PostgreSQL, MySQL/MariaDB and SQLite databases "
            "(postgresql://, mysql+pymysql://, mariadb://, sqlite:///FILE, ...)"
        )
    where = relpath(env.environment.script_location, result.root) or str(env.environment.script_location)
    try:
        rows = _read_rows(url, args.version_table, args.version_table_schema)
    except Exception as exc:  # psycopg.OperationalError and friends: one line, exit 2
        if isinstance(exc, ModuleNotFoundError):
            raise  # the CLI names the extra to install
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return error(f"cannot read {redact(url)}: {first}")
    placed, pending = place_rows(rows or [], env.graph, where)
    ok = rows is not None and pending is not None and not pending and all(row["status"] == "head" for row in placed)
    report = {
        "database": redact(url),
        "url_from": origin,
        "version_table": args.version_table,
        "stamped": rows is not None and bool(rows),
        "rows": placed,
        "pending": pending,
        "ok": ok,
    }
    if args.format == "json":
        sys.stdout.write(json_document(json.dumps(report, indent=2)) + "\n")
        return EXIT_OK if ok else EXIT_FAIL
    out = [f"{environment_label(env.environment, result.root)}: {report['database']}"]
    if rows is None:
        out.append(
            f"  no {args.version_table} table: the database was never migrated ({len(pending or [])} revisions to apply)"
        )
    elif not rows:
        out.append(
            f"  {args.version_table} is empty: the database is at base ({len(pending or [])} revisions to apply)"
        )
    for row in placed:
        label = "ERROR" if row["status"] in ("unknown", "overlap") else row["status"]
        out.append(f"  {row['revision']}: {label}: {row['message']}")
    out.append(f"current: {_verdict(ok, placed, pending)}")
    sys.stdout.write("".join(line(text) + "\n" for text in out))  # rows come from the database
    return EXIT_OK if ok else EXIT_FAIL


def _verdict(ok: bool, placed: list[dict[str, Any]], pending: list[str] | None) -> str:
    if ok:
        return "at heads"
    unknown = [row["revision"] for row in placed if row["status"] == "unknown"]
    if unknown:
        return (
            f"stamped at unknown revision {', '.join(unknown)}, which no migration file defines: Alembic cannot tell "
            "what is applied, so nothing can be upgraded until the file is restored or the database is re-stamped "
            "(see the recovery above)"
        )
    if any(row["status"] == "overlap" for row in placed):
        return "the version table holds overlapping revisions (see the recovery above)"
    return f"not at heads ({len(pending or [])} revision(s) pending)"

"""``headcheck current [--database-url URL | --url-env NAME] [PATH]``: where a live PostgreSQL
database is, read-only. Without either option the URL is the ini's ``sqlalchemy.url``, as Alembic
reads it.

Reads Alembic's version table with a single SELECT in a read-only transaction and places every
row in the history found on disk: a head, N revisions behind, or a revision no migration file
defines, which is the state where every Alembic command fails with
``Can't locate revision identified by '<rev>'``. Exit 0 when the database is at all heads,
1 when it is behind or names an unknown revision, 2 for usage errors or a failed connection.
"""

from __future__ import annotations

import argparse
import json
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_environment_arguments(parser)
    parser.add_argument(
        "--database-url",
        help="the database to read; PostgreSQL only (postgresql://...). Default: --url-env, else the "
        "ini's sqlalchemy.url",
    )
    parser.add_argument("--url-env", metavar="NAME", help="read the database URL from this environment variable")
    parser.add_argument(
        "--version-table", default="alembic_version", help="Alembic's version table (default: alembic_version)"
    )
    parser.add_argument("--version-table-schema", help="schema of the version table (default: the search_path)")
    parser.add_argument(
        "--format", "-f", choices=["text", "json"], default="text", help="output format (default: text)"
    )


def _read_rows(url: str, table: str, schema: str | None) -> list[str] | None:
    """The version_num rows, or None when there is no version table. SELECTs only, read-only."""
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


SUPPORTED = "only PostgreSQL databases are supported (postgresql://..., any driver)"


def _ini_url(env: Any) -> str | None:
    """``sqlalchemy.url`` of the environment's ini section, interpolated as Alembic's Config does."""
    import configparser

    if env.config_path is None:
        return None
    parser = configparser.ConfigParser(defaults={"here": str(env.config_path.parent)})
    try:
        parser.read(env.config_path, encoding="utf-8")
        return parser.get(env.section or "alembic", "sqlalchemy.url", fallback=None)
    except (configparser.Error, UnicodeDecodeError):
        return None


def _database_url(args: argparse.Namespace, env: Any) -> tuple[str | None, str]:
    """(the URL, where it came from) or (None, what to do)."""
    import os

    if args.database_url:
        return args.database_url, "--database-url"
    if args.url_env:
        value = os.environ.get(args.url_env)
        if not value:
            return None, f"--url-env {args.url_env}: the variable is not set"
        return value, f"${args.url_env}"
    url = _ini_url(env)
    if url:
        return url, f"sqlalchemy.url in {env.config_path.name}"
    return None, "no database URL: pass --database-url URL or --url-env NAME, or set sqlalchemy.url in alembic.ini"


def unknown_message(revision: str, where: str) -> str:
    return (
        f"the database is at revision {revision}, which no migration file under {where} defines; every Alembic "
        f"command will fail with \"Can't locate revision identified by '{revision}'\". Recover: restore the migration "
        f'file that defines it (find it with: git log --all --oneline -S "{revision}"), or, if the schema really '
        f"matches a revision you have, run: alembic stamp --purge <that revision>"
    )


def place_rows(rows: list[str], graph: Any, where: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Per row: status "head", "behind" (with how many revisions) or "unknown"; plus the pending ids."""
    real_heads = [graph.nodes[i].revision for i in graph.real_heads]
    applied: set[int] = set()
    for revision in rows:
        if revision in graph.index:
            applied |= graph.ancestors(graph.index[revision])
    wanted: set[int] = set()
    for head in graph.real_heads:
        wanted |= graph.ancestors(head)
    pending_nodes = sorted(wanted - applied)
    pending = [graph.nodes[i].revision for i in pending_nodes]
    placed: list[dict[str, Any]] = []
    for revision in rows:
        below = [
            other
            for other in rows
            if other != revision
            and other in graph.index
            and revision in graph.index
            and graph.index[revision] in graph.ancestors(graph.index[other])
        ]
        if below:
            placed.append(
                {
                    "revision": revision,
                    "status": "overlap",
                    "behind": None,
                    "message": (
                        f"an ancestor of {', '.join(below)}, which is also in the version table; every "
                        f'alembic upgrade fails on this state ("Requested revision ... overlaps"). Recover: '
                        f"DELETE FROM alembic_version WHERE version_num = '{revision}'"
                    ),
                }
            )
            continue
        if revision not in graph.index:
            placed.append(
                {"revision": revision, "status": "unknown", "behind": None, "message": unknown_message(revision, where)}
            )
            continue
        node = graph.index[revision]
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


def _count(n: int) -> str:
    return f"{n} revision" if n == 1 else f"{n} revisions"


def run(args: argparse.Namespace) -> int:
    from headcheck.db.urls import is_postgres, redact
    from headcheck.findings import relpath

    if args.database_url and not is_postgres(args.database_url):
        return error(f"--database-url {redact(args.database_url)}: {SUPPORTED}")
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
    where = relpath(env.environment.script_location, result.root) or str(env.environment.script_location)
    url, source = _database_url(args, env.environment)
    if url is None:
        return error(source)
    if not is_postgres(url):
        return error(f"{source}: {redact(url)}: {SUPPORTED}")
    from headcheck.extras import missing_extra

    problem = missing_extra("headcheck current", "postgres", ("psycopg",))
    if problem:
        return error(problem)
    try:
        rows = _read_rows(url, args.version_table, args.version_table_schema)
    except Exception as exc:  # psycopg.OperationalError and friends: one line, exit 2
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return error(f"cannot read {redact(url)} ({source}): {first}")
    placed, pending = place_rows(rows or [], env.graph, where)
    ok = rows is not None and not pending and all(row["status"] == "head" for row in placed)
    report = {
        "database": redact(url),
        "version_table": args.version_table,
        "stamped": rows is not None and bool(rows),
        "rows": placed,
        "pending": pending,
        "ok": ok,
    }
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        out = [f"{env.environment.name} ({where}): {report['database']}"]
        if rows is None:
            out.append(
                f"  no {args.version_table} table: the database was never migrated ({_count(len(pending))} to apply)"
            )
        elif not rows:
            out.append(f"  {args.version_table} is empty: the database is at base ({_count(len(pending))} to apply)")
        for row in placed:
            label = "ERROR" if row["status"] in ("unknown", "overlap") else row["status"]
            out.append(f"  {row['revision']}: {label}: {row['message']}")
        statuses = {row["status"] for row in placed}
        if ok:
            out.append("current: at heads")
        elif "unknown" in statuses:
            out.append("current: stamped at a revision no migration file defines (see the recovery above)")
        elif "overlap" in statuses:
            out.append("current: the version table holds overlapping revisions (see the recovery above)")
        else:
            out.append(f"current: not at heads ({_count(len(pending))} pending)")
        sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK if ok else EXIT_FAIL

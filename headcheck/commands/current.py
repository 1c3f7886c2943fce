"""``headcheck current --database-url URL [PATH]``: where a live database is, read-only.

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
from headcheck.logsafe import json_document, line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_environment_arguments(parser)
    parser.add_argument("--database-url", required=True, help="the PostgreSQL database to read (postgresql://...)")
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


def run(args: argparse.Namespace) -> int:
    from headcheck.db.urls import is_postgres, redact
    from headcheck.findings import relpath

    if not is_postgres(args.database_url):
        return error(
            f"--database-url {redact(args.database_url)}: only PostgreSQL URLs (postgresql://...) are supported"
        )
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
    try:
        rows = _read_rows(args.database_url, args.version_table, args.version_table_schema)
    except Exception as exc:  # psycopg.OperationalError and friends: one line, exit 2
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return error(f"cannot read {redact(args.database_url)}: {first}")
    placed, pending = place_rows(rows or [], env.graph, where)
    ok = rows is not None and not pending and all(row["status"] == "head" for row in placed)
    report = {
        "database": redact(args.database_url),
        "version_table": args.version_table,
        "stamped": rows is not None and bool(rows),
        "rows": placed,
        "pending": pending,
        "ok": ok,
    }
    if args.format == "json":
        sys.stdout.write(json_document(json.dumps(report, indent=2)) + "\n")
    else:
        out = [f"{env.environment.name} ({where}): {report['database']}"]
        if rows is None:
            out.append(
                f"  no {args.version_table} table: the database was never migrated ({len(pending)} revisions to apply)"
            )
        elif not rows:
            out.append(f"  {args.version_table} is empty: the database is at base ({len(pending)} revisions to apply)")
        for row in placed:
            label = "ERROR" if row["status"] == "unknown" else row["status"]
            out.append(f"  {row['revision']}: {label}: {row['message']}")
        out.append("current: at heads" if ok else f"current: not at heads ({len(pending)} revision(s) pending)")
        sys.stdout.write("".join(line(text) + "\n" for text in out))  # rows come from the database
    return EXIT_OK if ok else EXIT_FAIL

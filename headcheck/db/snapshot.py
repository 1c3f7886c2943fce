"""Schema snapshots from PostgreSQL's catalogs, and the differences of any backend's snapshots.

A snapshot maps a category (tables, columns, constraints, indexes, types, sequences, functions,
triggers, schemas, extensions) to the sorted lines describing every object in the user's schemas.
Two schemas are equal when their snapshots are. Alembic's version table is left out: Alembic
creates it before the first revision and never drops it (``downgrade base`` only deletes rows).

The queries contain no ``%`` so they run unchanged through any DB-API paramstyle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["Snapshot", "diff", "diff_lines", "take"]

Snapshot = dict[str, tuple[str, ...]]  # the format every backend's snapshot has (headcheck.db.backends)
Execute = Callable[[str], Iterable[Sequence[Any]]]  # SQL -> rows

_USER = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
# PostgreSQL gives every object created after initdb an OID of at least FirstNormalObjectId (16384),
# also after OID wraparound; initdb's own objects are below. Filtering on it lets every catalog be
# read through its OID index instead of scanning the thousands of built-in rows.
_FIRST_USER_OID = 16384


def _not_extension(catalog: str, oid: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_catalog.{catalog}'::regclass"
        f" AND dep.objid = {oid} AND dep.deptype = 'e')"
    )


_ORDER = (
    "schemas",
    "extensions",
    "types",
    "tables",
    "columns",
    "constraints",
    "indexes",
    "sequences",
    "functions",
    "triggers",
)
_SINGULAR = {"indexes": "index", "tables": ""}  # table lines start with their kind (table, view, ...)
_RELIDS = "ANY ((SELECT ids FROM relids)::oid[])"


def _ctes(version_table: str) -> str:
    """``ns``: the user's schemas; ``rel``: their tables, views and foreign tables (not Alembic's
    version table); ``relids``: the OIDs of ``rel`` as an array, for index lookups."""
    vt = "'" + version_table.replace("'", "''") + "'"
    return f"""WITH ns AS MATERIALIZED (SELECT n.oid, n.nspname FROM pg_namespace n WHERE {_USER}),
        rel AS MATERIALIZED (
            SELECT c.oid, c.relname, c.relkind, ns.nspname FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
            WHERE c.oid >= {_FIRST_USER_OID} AND c.relname <> {vt} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')),
        relids AS MATERIALIZED (SELECT ARRAY(SELECT oid FROM rel) AS ids)"""


def _queries() -> dict[str, str]:
    return {
        "schemas": "SELECT nspname FROM ns",
        "extensions": "SELECT extname FROM pg_extension",
        "tables": """
            SELECT CASE c.relkind
                WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END || ' ' || c.nspname || '.' || c.relname
                || CASE WHEN c.relkind IN ('v', 'm') THEN ' ' || md5(pg_get_viewdef(c.oid)) ELSE '' END
            FROM rel c""",
        "columns": f"""
            SELECT c.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                || CASE WHEN a.atthasdef THEN COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') ELSE '' END
            FROM pg_attribute a JOIN rel c ON c.oid = a.attrelid
                LEFT JOIN pg_attrdef d ON a.atthasdef AND d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = {_RELIDS} AND a.attnum > 0 AND NOT a.attisdropped""",
        "constraints": f"""
            SELECT c.nspname || '.' || c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
            FROM pg_constraint con JOIN rel c ON c.oid = con.conrelid
            WHERE con.conrelid = {_RELIDS}""",
        # pg_get_indexdef() is the costliest call of a snapshot (it looks up the column type's
        # default operator class among all of the access method's); for the common index on one
        # plain column with its type's own default operator class (or text_ops on varchar, which
        # is what PostgreSQL picks there), build the very same text from the catalogs instead
        "indexes": f"""
            SELECT CASE WHEN i.indnatts = 1 AND a.attnum > 0 AND ic.relkind = 'i' AND i.indexprs IS NULL
                    AND i.indpred IS NULL AND ic.reloptions IS NULL AND (i.indisprimary OR NOT i.indisunique)
                    AND i.indoption[0] = 0 AND i.indcollation[0] IN (0, a.attcollation) AND opc.opcdefault
                    AND opc.opcmethod = ic.relam
                    AND (opc.opcintype = a.atttypid OR (a.atttypid = 'pg_catalog.varchar'::regtype
                         AND opc.opcintype = 'pg_catalog.text'::regtype
                         AND NOT EXISTS (SELECT 1 FROM pg_opclass o WHERE o.opcmethod = ic.relam AND o.opcdefault
                                         AND o.opcintype = 'pg_catalog.varchar'::regtype)))
                THEN 'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
                    || quote_ident(ic.relname) || ' ON ' || quote_ident(c.nspname) || '.' || quote_ident(c.relname)
                    || ' USING ' || quote_ident(am.amname) || ' (' || quote_ident(a.attname) || ')'
                ELSE pg_get_indexdef(i.indexrelid) END
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
                JOIN rel c ON c.oid = i.indrelid
                LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                LEFT JOIN pg_opclass opc ON opc.oid = i.indclass[0]
            WHERE i.indrelid = {_RELIDS}""",
        "types": f"""
            SELECT n.nspname || '.' || t.typname || CASE t.typtype
                WHEN 'e' THEN ' enum(' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                          FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
                WHEN 'd' THEN ' domain ' || format_type(t.typbasetype, t.typtypmod)
                    || COALESCE((SELECT ' ' || string_agg(pg_get_constraintdef(dc.oid), ' ' ORDER BY dc.conname)
                                 FROM pg_constraint dc WHERE dc.contypid = t.oid), '')
                WHEN 'r' THEN ' range'
                ELSE ' composite(' || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                                                         ORDER BY a.attnum)
                                       FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0) || ')' END
            FROM pg_type t JOIN ns n ON n.oid = t.typnamespace
            WHERE t.oid >= {_FIRST_USER_OID} AND (t.typtype IN ('e', 'd', 'r')
                OR (t.typtype = 'c' AND (SELECT cc.relkind FROM pg_class cc WHERE cc.oid = t.typrelid) = 'c'))
              AND {_not_extension("pg_type", "t.oid")}""",
        "sequences": f"""
            SELECT n.nspname || '.' || c.relname || ' ' || format_type(s.seqtypid, NULL)
                || ' start ' || s.seqstart || ' increment ' || s.seqincrement
            FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns n ON n.oid = c.relnamespace
            WHERE s.seqrelid >= {_FIRST_USER_OID}""",
        "functions": f"""
            SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
                || COALESCE(' returns ' || pg_get_function_result(p.oid), '') || ' ' || md5(p.prosrc)
            FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
            WHERE p.oid >= {_FIRST_USER_OID} AND {_not_extension("pg_proc", "p.oid")}""",
        "triggers": f"""
            SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
            WHERE t.tgrelid = {_RELIDS} AND NOT t.tgisinternal""",
    }


def _union(version_table: str) -> str:
    """One statement, one round trip: every category, each line tagged with its position in _ORDER."""
    queries = _queries()
    parts = [f"SELECT {k}, CAST(line AS text) FROM ({queries[name]}) q{k}(line)" for k, name in enumerate(_ORDER)]
    return _ctes(version_table) + "\n" + " UNION ALL ".join(parts)


def _function(version_table: str) -> tuple[str, str]:
    """(name, DO block creating it): the snapshot query in a temporary PL/pgSQL function.

    Planning the snapshot query costs more than running it (about 3 ms of 4 inside a migration's
    transaction), and psycopg drops its prepared statements after every DROP or ALTER, that is,
    after nearly every migration step. PL/pgSQL keeps the plan for the whole session instead and
    replans only when PostgreSQL invalidates it. The function lives in the session's own
    ``pg_temp`` schema (not part of any snapshot: it is left out with every ``pg_*`` schema) and
    goes with the connection. Creating it runs in a subtransaction that swallows any error (no
    TEMP privilege, ...), so the user's transaction is never aborted by it."""
    sql = _union(version_table)
    name = "headcheck_snapshot_" + hashlib.sha256(sql.encode()).hexdigest()[:16]
    create = f"""DO $headcheck$ BEGIN
        IF to_regprocedure('pg_temp.{name}()') IS NULL THEN
            CREATE FUNCTION pg_temp.{name}() RETURNS TABLE (hc_position integer, hc_line text)
            LANGUAGE plpgsql AS $body$ BEGIN RETURN QUERY {sql}; END $body$;
        END IF;
    EXCEPTION WHEN OTHERS THEN NULL;
    END $headcheck$"""
    return name, create


def take(execute: Execute, version_table: str = "alembic_version", *, keep_plan: bool = False) -> Snapshot:
    """Read the schema through ``execute`` (any connection: the migration's own, so uncommitted
    DDL of the running transaction is seen, or a fresh one).

    ``keep_plan``: for many snapshots on one connection, run the query through a temporary
    function that keeps its plan (see :func:`_function`); the rows are the same."""
    sql = _union(version_table)
    if keep_plan:
        name, create = _function(version_table)
        check = (
            f"SELECT to_regprocedure('pg_temp.{name}()') IS NOT NULL, has_database_privilege(current_database(),"
            " 'TEMPORARY') AND EXISTS (SELECT 1 FROM pg_language WHERE lanname = 'plpgsql')"
        )
        exists, possible = next(iter(execute(check)))
        if not exists and possible:  # DO itself fails (aborting the transaction) without PL/pgSQL
            execute(create)
            exists, possible = next(iter(execute(check)))
        if exists:
            sql = f"SELECT hc_position, hc_line FROM pg_temp.{name}()"
    lines: list[list[str]] = [[] for _ in _ORDER]
    for k, line in execute(sql):
        lines[int(k)].append(str(line))
    return {name: tuple(sorted(found)) for name, found in zip(_ORDER, lines, strict=True)}


def diff(expected: Snapshot, actual: Snapshot) -> dict[str, dict[str, list[str]]]:
    """Per category: ``extra`` lines (in actual only: left behind) and ``missing`` lines."""
    out: dict[str, dict[str, list[str]]] = {}
    for category in expected.keys() | actual.keys():
        want, have = set(expected.get(category, ())), set(actual.get(category, ()))
        if want != have:
            out[category] = {"extra": sorted(have - want), "missing": sorted(want - have)}
    return {category: out[category] for category in sorted(out, key=_position)}


def _position(category: str) -> tuple[int, str]:
    """PostgreSQL's categories in their order, any other backend's after them by name."""
    return (_ORDER.index(category), "") if category in _ORDER else (len(_ORDER), category)


def diff_lines(difference: dict[str, dict[str, list[str]]]) -> list[str]:
    """``+ table public.x`` for what is there but should not be, ``- ...`` for what is gone."""
    lines = []
    for category, change in difference.items():
        singular = _SINGULAR.get(category, category[:-1])
        prefix = f"{singular} " if singular else ""
        lines += [f"+ {prefix}{line}" for line in change["extra"]]
        lines += [f"- {prefix}{line}" for line in change["missing"]]
    return lines

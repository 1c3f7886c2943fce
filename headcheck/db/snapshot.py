"""Schema snapshots from PostgreSQL's catalogs, and the differences of any backend's snapshots.

A snapshot maps a category (tables, columns, constraints, indexes, types, sequences, functions,
triggers, schemas, extensions) to the sorted lines describing every object in the user's schemas.
Two schemas are equal when their snapshots are. Alembic's version table is left out: Alembic
creates it before the first revision and never drops it (``downgrade base`` only deletes rows).

The queries contain no ``%`` so they run unchanged through any DB-API paramstyle.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from headcheck.db.kept import CAN_CREATE

__all__ = ["Session", "Snapshot", "diff", "diff_lines", "take"]

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


def _ctes(version_table: str, scoped: bool = False) -> str:
    """``ns``: the user's schemas; ``rel``: their tables, views and foreign tables (not Alembic's
    version table; ``scoped``: only those in the PL/pgSQL variable ``hc_scope``); ``relids``: the
    OIDs of ``rel`` as an array, for index lookups."""
    vt = "'" + version_table.replace("'", "''") + "'"
    # (scoped: driven by the few OIDs in hc_scope, one index lookup each)
    source = "pg_class c"
    if scoped:  # (LATERAL ... OFFSET 0: one index lookup per OID, whatever the catalog's statistics say)
        source = "unnest(hc_scope) s(oid), LATERAL (SELECT * FROM pg_class c WHERE c.oid = s.oid OFFSET 0) c"
    # (PostgreSQL's estimate for it can be far too low, and it is no use with an OID list)
    first = "true" if scoped else f"c.oid >= {_FIRST_USER_OID}"
    return f"""WITH ns AS MATERIALIZED (SELECT n.oid, n.nspname FROM pg_namespace n WHERE {_USER}),
        rel AS MATERIALIZED (
            SELECT c.oid, c.relname, c.relkind, ns.nspname FROM {source} JOIN ns ON ns.oid = c.relnamespace
            WHERE {first} AND c.relname <> {vt} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')),
        relids AS MATERIALIZED (SELECT ARRAY(SELECT oid FROM rel) AS ids)"""


def _queries(scoped: bool = False) -> dict[str, str]:
    """Per category: ``SELECT owner, line``. The owner is the OID of the object a line belongs to
    (the relation of a column, constraint, index or trigger; the type, sequence or function itself):
    an incremental snapshot (:class:`Session`) describes only the owners whose objects changed.
    ``scoped``: only the owners in the PL/pgSQL variable ``hc_scope`` (no schemas, no extensions)."""
    source = {"t": "pg_type t", "s": "pg_sequence s", "p": "pg_proc p"}
    first = {
        "t": f"t.oid >= {_FIRST_USER_OID}",
        "s": f"s.seqrelid >= {_FIRST_USER_OID}",
        "p": f"p.oid >= {_FIRST_USER_OID}",
    }
    if scoped:  # driven by the few OIDs in hc_scope, one index lookup each
        source = {
            "t": "unnest(hc_scope) hc_t(oid), LATERAL (SELECT * FROM pg_type t WHERE t.oid = hc_t.oid OFFSET 0) t",
            "s": "unnest(hc_scope) hc_s(oid), LATERAL (SELECT * FROM pg_sequence s WHERE s.seqrelid = hc_s.oid OFFSET 0) s",
            "p": "unnest(hc_scope) hc_p(oid), LATERAL (SELECT * FROM pg_proc p WHERE p.oid = hc_p.oid OFFSET 0) p",
        }
        first = {"t": "true", "s": "true", "p": "true"}  # (the OIDs in hc_scope are the user's)
    # a relation's constraints and indexes: all of them at once (a full snapshot), or looked up
    # through the catalog's index, relation by relation (a few: PostgreSQL's generic plan would read
    # all of pg_index and pg_constraint for them)
    owned = {
        "con": f"pg_constraint con JOIN rel c ON c.oid = con.conrelid WHERE con.conrelid = {_RELIDS}",
        "i": f"pg_index i JOIN rel c ON c.oid = i.indrelid AND i.indrelid = {_RELIDS}",
    }
    if scoped:
        owned = {
            "con": "rel c, LATERAL (SELECT k.oid, k.conname FROM pg_constraint k WHERE k.conrelid = c.oid OFFSET 0) con",
            "i": "rel c CROSS JOIN LATERAL (SELECT * FROM pg_index x WHERE x.indrelid = c.oid OFFSET 0) i",
        }
    return {
        "schemas": "SELECT oid, nspname FROM ns",
        "extensions": "SELECT oid, extname FROM pg_extension",
        "tables": """
            SELECT c.oid, CASE c.relkind
                WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END || ' ' || c.nspname || '.' || c.relname
                || CASE WHEN c.relkind IN ('v', 'm') THEN ' ' || md5(pg_get_viewdef(c.oid)) ELSE '' END
            FROM rel c""",
        "columns": f"""
            SELECT c.oid, c.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                || CASE WHEN a.atthasdef THEN COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') ELSE '' END
            FROM pg_attribute a JOIN rel c ON c.oid = a.attrelid
                LEFT JOIN pg_attrdef d ON a.atthasdef AND d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = {_RELIDS} AND a.attnum > 0 AND NOT a.attisdropped""",
        "constraints": f"""
            SELECT c.oid, c.nspname || '.' || c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
            FROM {owned["con"]}""",
        # pg_get_indexdef() is the costliest call of a snapshot (it looks up the column type's
        # default operator class among all of the access method's); for the common index on one
        # plain column with its type's own default operator class (or text_ops on varchar, which
        # is what PostgreSQL picks there), build the very same text from the catalogs instead
        "indexes": f"""
            SELECT c.oid, CASE WHEN i.indnatts = 1 AND a.attnum > 0 AND ic.relkind = 'i' AND i.indexprs IS NULL
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
            FROM {owned["i"]} JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
                LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                LEFT JOIN pg_opclass opc ON opc.oid = i.indclass[0]""",
        "types": f"""
            SELECT t.oid, n.nspname || '.' || t.typname || CASE t.typtype
                WHEN 'e' THEN ' enum(' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                          FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
                WHEN 'd' THEN ' domain ' || format_type(t.typbasetype, t.typtypmod)
                    || COALESCE((SELECT ' ' || string_agg(pg_get_constraintdef(dc.oid), ' ' ORDER BY dc.conname)
                                 FROM pg_constraint dc WHERE dc.contypid = t.oid), '')
                WHEN 'r' THEN ' range'
                ELSE ' composite(' || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                                                         ORDER BY a.attnum)
                                       FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
                                             AND NOT a.attisdropped) || ')' END
            FROM {source["t"]} JOIN ns n ON n.oid = t.typnamespace
            WHERE {first["t"]} AND (t.typtype IN ('e', 'd', 'r')
                OR (t.typtype = 'c' AND (SELECT cc.relkind FROM pg_class cc WHERE cc.oid = t.typrelid) = 'c'))
              AND {_not_extension("pg_type", "t.oid")}""",
        "sequences": f"""
            SELECT s.seqrelid, n.nspname || '.' || c.relname || ' ' || format_type(s.seqtypid, NULL)
                || ' start ' || s.seqstart || ' increment ' || s.seqincrement
            FROM {source["s"]} JOIN pg_class c ON c.oid = s.seqrelid JOIN ns n ON n.oid = c.relnamespace
            WHERE {first["s"]}""",
        "functions": f"""
            SELECT p.oid, n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
                || COALESCE(' returns ' || pg_get_function_result(p.oid), '') || ' ' || md5(p.prosrc)
            FROM {source["p"]} JOIN ns n ON n.oid = p.pronamespace
            WHERE {first["p"]} AND {_not_extension("pg_proc", "p.oid")}""",
        "triggers": f"""
            SELECT t.tgrelid, pg_get_triggerdef(t.oid) FROM pg_trigger t
            WHERE t.tgrelid = {_RELIDS} AND NOT t.tgisinternal""",
    }


def _union(version_table: str, *, owners: bool = False, scoped: bool = False) -> str:
    """One statement, one round trip: every category, each line tagged with its position in _ORDER
    (``owners``: and its owner's OID; ``scoped``: the owners in ``hc_scope`` only)."""
    queries = _queries(scoped)
    names = [name for name in _ORDER if not (scoped and name in ("schemas", "extensions"))]
    owner = "owner, " if owners else ""
    parts = [
        f"SELECT {_ORDER.index(name)}, {owner}CAST(line AS text) FROM ({queries[name]}) q{k}(owner, line)"
        for k, name in enumerate(names)
    ]
    return _ctes(version_table, scoped) + "\n" + " UNION ALL ".join(parts)


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
            LANGUAGE plpgsql SET jit = off AS $body$ BEGIN RETURN QUERY {sql}; END $body$;
        END IF;
    EXCEPTION WHEN OTHERS THEN NULL;
    END $headcheck$"""
    return name, create


# --- incremental snapshots --------------------------------------------------------------------------
#
# On a connection whose role may create event triggers (a superuser: always on headcheck's own
# throwaway server), every DDL command of the session is logged, and a snapshot re-describes only
# the objects it touched. Everything lives in the session's pg_temp schema (left out of every
# snapshot with the other pg_* schemas) or depends on it, and goes with the session:
# - headcheck_ddl: the log (filled by event triggers; a session without this temp table, another
#   connection, logs nothing: ``to_regclass('pg_temp.headcheck_ddl')`` is NULL there);
# - headcheck_owned: every index with its table, written as a DROP INDEX begins (a dropped index
#   no longer says which table it was on; a dropped constraint, trigger or default does, by name);
# - headcheck_state: a counter the client passes back: a rollback to a savepoint taken before the
#   last snapshot undoes its bookkeeping, the counter then differs and the snapshot is a full one;
# - the logger function and three event triggers (ddl_command_end, sql_drop, ddl_command_start of
#   DROP INDEX; ENABLE ALWAYS, so
#   session_replication_role = replica does not silence them) on it: a database object, but
#   depending on a temporary function, dropped with it when the session ends.
#
# What a logged object changes: its own lines (its owner: a relation, sequence, type or function),
# and lines of the objects that depend on it (pg_depend): a view on a renamed column, another
# table's foreign key, a column of a renamed type or of a table's row type, a default calling a
# renamed sequence or function, a trigger's function, the partitions of a partitioned table. The
# dependencies are followed from each logged object, then on through types (a type's array, a
# table's row type) and inheritance children, transitively. Objects of any other class (schemas,
# extensions, collations, operator classes, ...) and unknown commands make the snapshot a full one.
#
# What the log cannot see: DDL run by another connection to the same database (a revision opening
# a connection of its own). While another client session is connected to the database, every
# snapshot is a full one; one that connects, changes the schema and disconnects between two
# snapshots goes unnoticed until the next full one (the first of every migration run). Catalogs
# written directly (UPDATE pg_catalog....) are not DDL either.

# the environment variable naming a file: every incremental snapshot of a migration run is compared
# with a full one, the outcome appended there (the tests of tests/db/test_db_snapshot_changes.py)
VERIFY = "HEADCHECK_VERIFY_SNAPSHOTS"
_LOG = "headcheck_ddl"
_OWNED = "headcheck_owned"
_STATE = "headcheck_state"
_LOGGER = "headcheck_ddl_logger"
# classes whose objects map to owners; GRANT & co. (no object) change nothing a snapshot shows
_SCOPED_CLASSES = ("pg_class", "pg_type", "pg_proc", "pg_constraint", "pg_trigger", "pg_attrdef", "pg_rewrite")
_HARMLESS_TAGS = "'GRANT', 'REVOKE', 'ALTER DEFAULT PRIVILEGES'"


def _cls(name: str) -> str:
    return f"'pg_catalog.{name}'::regclass"


def _owner(classid: str, objid: str) -> str:
    """The owner of object ``(classid, objid)`` (an existing one; else the object itself): whose
    lines to read again. One index lookup each (scalar subqueries: always a nested loop)."""
    return f"""CASE {classid}
        WHEN {_cls("pg_class")} THEN coalesce(
            (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = {objid}),
            (SELECT c.reltype FROM pg_class c WHERE c.oid = {objid} AND c.relkind = 'c'), {objid})
        WHEN {_cls("pg_constraint")} THEN
            (SELECT CASE WHEN k.conrelid <> 0 THEN k.conrelid ELSE k.contypid END FROM pg_constraint k WHERE k.oid = {objid})
        WHEN {_cls("pg_trigger")} THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = {objid})
        WHEN {_cls("pg_attrdef")} THEN (SELECT d.adrelid FROM pg_attrdef d WHERE d.oid = {objid})
        WHEN {_cls("pg_rewrite")} THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = {objid})
        ELSE {objid} END"""


def _incremental_function(version_table: str) -> tuple[str, str]:
    """(name, SQL creating the logging objects and the incremental snapshot function, which takes
    the counter the client expects and returns ``(position, owner, line)``: first ``(-1, counter,
    'full' or 'partial')``, for a partial one ``(-2, owner, NULL)`` for every owner re-described,
    then the lines (of every owner, or of those re-described)."""
    full = _union(version_table, owners=True)
    scoped = _union(version_table, owners=True, scoped=True)
    subobjects = "'table constraint', 'trigger', 'default value', 'rule'"  # (their address: schema, table, name)
    body = f"""
DECLARE
    hc_full boolean;
    hc_counter bigint;
    hc_scope oid[];
BEGIN
    SELECT s.counter INTO hc_counter FROM pg_temp.{_STATE} s;
    PERFORM pg_stat_clear_snapshot();  -- (pg_stat_activity is read once per transaction otherwise)
    hc_full := hc_counter IS DISTINCT FROM hc_expected
        OR (SELECT count(*) FROM pg_event_trigger e
            WHERE e.evtfoid = to_regprocedure('pg_temp.{_LOGGER}()') AND e.evtenabled = 'A') <> 3
        -- a step that changed hundreds of objects: describing everything costs no more
        OR (SELECT count(*) FROM pg_temp.{_LOG}) > 400
        -- another session on this database: its DDL is not in this session's log
        OR EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = current_database()
                   AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend')
        OR EXISTS (SELECT 1 FROM pg_temp.{_LOG} l
                   WHERE CASE WHEN l.classid IS NULL THEN l.tag NOT IN ({_HARMLESS_TAGS})
                         ELSE l.classid NOT IN ({", ".join(_cls(c) for c in _SCOPED_CLASSES)}) END
                      -- a dropped sub-object whose relation is not known: a domain's constraint, an
                      -- index dropped along with what it used (DROP FUNCTION ... CASCADE)
                      OR (l.dropped AND l.classid IN ({_cls("pg_constraint")}, {_cls("pg_trigger")}, {_cls("pg_attrdef")},
                                                       {_cls("pg_rewrite")}) AND l.otype NOT IN ({subobjects}))
                      OR (l.dropped AND l.otype = 'index' AND l.tag NOT IN ('DROP TABLE', 'ALTER TABLE')
                          AND NOT EXISTS (SELECT 1 FROM pg_temp.{_OWNED} w WHERE w.objid = l.objid)));
    IF NOT hc_full THEN
        -- what the logged objects changed: themselves, and what depends on them (followed on
        -- through types and inheritance children); dropped objects: themselves, or the relation
        -- they belonged to (an index: as DROP INDEX began; the others: by the name of their table)
        hc_scope := ARRAY(
            WITH RECURSIVE obj(classid, objid, follow) AS (
                SELECT DISTINCT l.classid, l.objid, true FROM pg_temp.{_LOG} l
                WHERE NOT l.dropped AND l.classid IS NOT NULL
              UNION
                SELECT d.classid, d.objid, d.follow FROM obj, LATERAL (
                    SELECT d.classid, d.objid, d.classid = {_cls("pg_type")} OR (d.classid = {_cls("pg_class")}
                        AND d.objsubid = 0 AND d.refobjsubid = 0 AND d.deptype IN ('a', 'n')) AS follow
                    FROM pg_depend d WHERE d.refclassid = obj.classid AND d.refobjid = obj.objid OFFSET 0) d
                WHERE obj.follow
            )
            SELECT {_owner("o.classid", "o.objid")} FROM obj o
            UNION SELECT {_owner("l.classid", "l.objid")} FROM pg_temp.{_LOG} l WHERE l.dropped
            UNION SELECT w.owner FROM pg_temp.{_OWNED} w
                WHERE w.objid = ANY (ARRAY(SELECT l.objid FROM pg_temp.{_LOG} l WHERE l.dropped AND l.otype = 'index'))
            UNION SELECT to_regclass(format('%I.%I', l.names[1], l.names[2]))::oid FROM pg_temp.{_LOG} l
                WHERE l.dropped AND l.otype IN ({subobjects}));
        hc_scope := array_remove(array_remove(hc_scope, NULL), 0::oid);
    END IF;
    DELETE FROM pg_temp.{_LOG};
    DELETE FROM pg_temp.{_OWNED};
    UPDATE pg_temp.{_STATE} SET counter = counter + 1 RETURNING counter INTO hc_counter;
    IF hc_counter IS NULL THEN
        INSERT INTO pg_temp.{_STATE} VALUES (1) RETURNING counter INTO hc_counter;
        hc_full := true;
    END IF;
    IF hc_full THEN
        RETURN QUERY SELECT -1, hc_counter::oid, 'full'::text;
        RETURN QUERY {full};
    ELSE
        RETURN QUERY SELECT -1, hc_counter::oid, 'partial'::text UNION ALL SELECT -2, unnest(hc_scope), NULL::text;
        IF cardinality(hc_scope) > 0 THEN
            RETURN QUERY {scoped};
        END IF;
    END IF;
END"""
    name = "headcheck_changes_" + hashlib.sha256(body.encode()).hexdigest()[:16]
    logger = f"""
BEGIN
    IF to_regclass('pg_temp.{_LOG}') IS NOT NULL THEN
        IF TG_EVENT = 'sql_drop' THEN
            INSERT INTO pg_temp.{_LOG} SELECT d.classid, d.objid, TG_TAG, true, d.object_type, d.address_names
                FROM pg_event_trigger_dropped_objects() d WHERE NOT d.is_temporary;
        ELSIF TG_EVENT = 'ddl_command_start' THEN  -- (DROP INDEX: which table each index is on)
            -- not as the first action of a transaction: that is where DROP INDEX CONCURRENTLY must
            -- be, and a write here would make it fail (the snapshot after it is then a full one)
            IF txid_current_if_assigned() IS NOT NULL THEN
                INSERT INTO pg_temp.{_OWNED} SELECT i.indexrelid, i.indrelid FROM pg_index i
                    WHERE i.indexrelid >= {_FIRST_USER_OID};
            END IF;
        ELSE
            INSERT INTO pg_temp.{_LOG} SELECT c.classid, c.objid, c.command_tag, false FROM pg_event_trigger_ddl_commands() c;
        END IF;
    END IF;
END"""
    create = f"""
        CREATE TEMP TABLE IF NOT EXISTS {_LOG} (classid oid, objid oid, tag text, dropped boolean, otype text,
                                                names text[]);
        CREATE TEMP TABLE IF NOT EXISTS {_OWNED} (objid oid, owner oid);
        CREATE TEMP TABLE IF NOT EXISTS {_STATE} (counter bigint);
        -- a migration that runs SET ROLE goes on in this session as another role: the logger and
        -- the snapshot function must still write them (no other session can reach a temp table)
        GRANT ALL ON TABLE pg_temp.{_LOG}, pg_temp.{_OWNED}, pg_temp.{_STATE} TO PUBLIC;
        -- known to be empty: the snapshot function's plan, made once for the session, then expects a
        -- few rows there, not the thousands PostgreSQL assumes of a table never analyzed, and so
        -- builds small hash tables for its UNIONs (zeroing big ones was over a third of a snapshot's cost)
        ANALYZE pg_temp.{_LOG}, pg_temp.{_OWNED}, pg_temp.{_STATE};
        IF to_regprocedure('pg_temp.{_LOGGER}()') IS NULL THEN
            CREATE FUNCTION pg_temp.{_LOGGER}() RETURNS event_trigger LANGUAGE plpgsql AS $logger${logger}$logger$;
            EXECUTE format('CREATE EVENT TRIGGER %I ON ddl_command_end EXECUTE FUNCTION pg_temp.{_LOGGER}()',
                           'headcheck_ddl_end_' || pg_backend_pid());
            EXECUTE format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', 'headcheck_ddl_end_' || pg_backend_pid());
            EXECUTE format('CREATE EVENT TRIGGER %I ON sql_drop EXECUTE FUNCTION pg_temp.{_LOGGER}()',
                           'headcheck_ddl_drop_' || pg_backend_pid());
            EXECUTE format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', 'headcheck_ddl_drop_' || pg_backend_pid());
            EXECUTE format('CREATE EVENT TRIGGER %I ON ddl_command_start WHEN TAG IN (''DROP INDEX'')'
                           ' EXECUTE FUNCTION pg_temp.{_LOGGER}()', 'headcheck_ddl_index_' || pg_backend_pid());
            EXECUTE format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', 'headcheck_ddl_index_' || pg_backend_pid());
        END IF;
        IF to_regprocedure('pg_temp.{name}(bigint)') IS NULL THEN
            CREATE FUNCTION pg_temp.{name}(hc_expected bigint) RETURNS TABLE (hc_position integer, hc_owner oid, hc_line text)
            LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET jit = off AS $body${body}$body$;
        END IF;"""
    return name, create


class Session:
    """Snapshots on one connection, each re-describing only what changed since the last one (see
    above), where the connection's role may log DDL; else full snapshots through the kept plan.

    ``session``: a callable identifying the DB-API connection, when the caller has one: while it
    returns the same object, the functions created on it are known to be there and each snapshot
    is one round trip (without it, each snapshot first checks that they exist). ``incremental``:
    False for a few snapshots only (logging every DDL command would cost more than it saves)."""

    def __init__(
        self,
        version_table: str,
        session: Callable[[], object] | None = None,
        verify: str | None = None,
        *,
        incremental: bool = True,
    ) -> None:
        self.version_table = version_table
        self.incremental = incremental  # False: full snapshots through the kept plan (a few snapshots)
        self.verify = verify
        self.name, self.create = _incremental_function(version_table)
        self.plain, self.create_plain = _function(version_table)
        self.session = session
        self.known: object = None  # the connection on which the functions were seen
        self.mode = ""  # "changes", "plan" or "query": what works on that connection
        self.counter = -1
        self.lines: list[dict[int, list[str]]] = [{} for _ in _ORDER]  # by category: owner -> its lines
        self.ordered: list[list[str]] = [[] for _ in _ORDER]  # by category: every line, sorted
        self.last: Snapshot = {}
        self.full_snapshots = 0  # (for tests and measurements)
        self.partial_snapshots = 0

    def _prepare(self, execute: Execute) -> None:
        current = self.session() if self.session is not None else None
        if current is not None and current is self.known and self.mode:
            return
        check = (
            f"SELECT to_regprocedure('pg_temp.{self.name}(bigint)') IS NOT NULL,"
            f" to_regprocedure('pg_temp.{self.plain}()') IS NOT NULL, {CAN_CREATE}"
        )
        changes, plan, possible = next(iter(execute(check)))
        if self.incremental and not changes and possible:  # (DO fails, aborting the transaction, without PL/pgSQL)
            # each part in a subtransaction that swallows any error (not a superuser: no event
            # triggers), so the user's transaction is never aborted by it
            execute(f"DO $headcheck$ BEGIN BEGIN {self.create} EXCEPTION WHEN OTHERS THEN NULL; END; END $headcheck$")
            changes, plan, possible = next(iter(execute(check)))
        if not changes and not plan and possible:
            execute(self.create_plain)
            changes, plan, possible = next(iter(execute(check)))
        self.mode = "changes" if changes and self.incremental else "plan" if plan else "query"
        self.counter = -1  # (new functions, or another connection: the next one is a full snapshot)
        self.known = current

    def forget(self) -> None:
        """The session's temporary objects may be gone (a DISCARD, a raw ROLLBACK in a migration):
        check again before the next snapshot, a full one."""
        self.mode = ""

    def take(self, execute: Execute) -> Snapshot:
        self._prepare(execute)
        if self.mode != "changes":
            sql = _union(self.version_table)
            if self.mode == "plan":
                sql = f"SELECT hc_position, hc_line FROM pg_temp.{self.plain}()"
            return _collect(execute(sql))
        rows = execute(f"SELECT hc_position, hc_owner, hc_line FROM pg_temp.{self.name}({self.counter})")
        partial = self.partial_snapshots
        snap = self._apply(rows)
        if self.verify:
            self._check(execute, snap, "partial" if self.partial_snapshots > partial else "full")
        return snap

    def _check(self, execute: Execute, snap: Snapshot, kind: str) -> None:
        """``verify`` (a file; :data:`VERIFY`): compare with a full snapshot, append the outcome to
        the file, and raise on a difference (the migration run then fails, naming it)."""
        full = _collect(execute(_union(self.version_table)))
        lines = diff_lines(diff(snap, full))  # (+: in the schema, missed; -: shown, not there)
        with open(str(self.verify), "a", encoding="utf-8") as out:
            out.write(f"{kind} {'differs: ' + '; '.join(lines) if lines else 'same'}\n")
        if lines:
            raise RuntimeError(
                f"headcheck: the incremental ({kind}) snapshot differs from a full one: {'; '.join(lines)}"
            )

    def _apply(self, rows: Iterable[Sequence[Any]]) -> Snapshot:
        header: str | None = None
        scope: set[int] = set()
        found: list[dict[int, list[str]]] = [{} for _ in _ORDER]
        for position, owner, line in rows:
            k = int(position)
            if k >= 0:
                found[k].setdefault(int(owner), []).append(str(line))
            elif k == -1:
                self.counter, header = int(owner), str(line)
            else:
                scope.add(int(owner))
        if header is None:  # (the function always answers with its header first)
            raise RuntimeError("headcheck: the incremental snapshot function returned no header")
        if header == "full":
            self.full_snapshots += 1
            self.lines = found
            self.ordered = [sorted(line for owned in lines.values() for line in owned) for lines in found]
            self.last = {name: tuple(ordered) for name, ordered in zip(_ORDER, self.ordered, strict=True)}
            return self.last
        self.partial_snapshots += 1
        snap = dict(self.last)
        for k, name in enumerate(_ORDER):
            lines, ordered = self.lines[k], self.ordered[k]
            gone = [line for owner in scope for line in lines.pop(owner, ())]
            new = [line for owned in found[k].values() for line in owned]
            if not gone and not new:
                continue
            lines.update(found[k])
            for line in gone:  # (sorted lists: a few changed lines, not a sort of them all)
                at = bisect.bisect_left(ordered, line)
                if at == len(ordered) or ordered[at] != line:  # (never: every line gone was there)
                    ordered[:] = sorted(line for owned in lines.values() for line in owned)
                    new = []
                    break
                del ordered[at]
            for line in new:
                bisect.insort(ordered, line)
            snap[name] = tuple(ordered)
        self.last = snap
        return snap


def _collect(rows: Iterable[Sequence[Any]]) -> Snapshot:
    lines: list[list[str]] = [[] for _ in _ORDER]
    for k, line in rows:
        lines[int(k)].append(str(line))
    return {name: tuple(sorted(found)) for name, found in zip(_ORDER, lines, strict=True)}


def take(execute: Execute, version_table: str = "alembic_version", *, keep_plan: bool = False) -> Snapshot:
    """Read the schema through ``execute`` (any connection: the migration's own, so uncommitted
    DDL of the running transaction is seen, or a fresh one).

    ``keep_plan``: for many snapshots on one connection, run the query through a temporary
    function that keeps its plan (see :func:`_function`); the rows are the same. (Incremental
    snapshots: :class:`Session`.)"""
    sql = _union(version_table)
    if keep_plan:
        name, create = _function(version_table)
        check = f"SELECT to_regprocedure('pg_temp.{name}()') IS NOT NULL, {CAN_CREATE}"
        exists, possible = next(iter(execute(check)))
        if not exists and possible:  # DO itself fails (aborting the transaction) without PL/pgSQL
            execute(create)
            exists, possible = next(iter(execute(check)))
        if exists:
            sql = f"SELECT hc_position, hc_line FROM pg_temp.{name}()"
    return _collect(execute(sql))


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

"""Rows in the tables before each judged revision, in the migration child (see headcheck.db.runner).

The proof used to run every revision on empty tables, so it passed exactly the migrations that fail
most often on deploy: a column added NOT NULL without a default, a unique constraint over values
that repeat, a cast that fails on existing values, a foreign key over orphan rows, a data migration
that crashes on a NULL. Here:

- :func:`read_catalog` reads the schema as the database sees it (one catalog query; the one
  function a backend replaces), :func:`generate_rows` makes a few rows per table from it,
  deterministic from a seed: NULL wherever allowed, repeated values wherever not unique, empty,
  maximum-length and non-ASCII strings, boundary numbers and timestamps, enum labels, foreign keys
  taken from the parent's rows (parents first; a cycle is broken by a nullable column).
- :class:`Rows` fills the tables (a savepoint per table, then per row: a row the database refuses,
  a CHECK constraint say, is dropped), and runs each migration step inside a savepoint: when the
  step fails with rows, it is rolled back to the savepoint, the tables are emptied and the step runs
  again. Passing then means "fails only because of the rows" (HC630); failing again is the ordinary
  failure the proof always reported. That costs a second run only for a failing step; a passing
  step pays a SAVEPOINT and a RELEASE.
- Data a downgrade destroys (HC631): the values in the tables before a revision's first upgrade
  are read when its downgrade is checked later in the plan; while the downgrade runs, each
  ``DROP TABLE``/``ALTER TABLE ... DROP COLUMN`` is watched and what it drops read first; after it,
  a value that existed before the upgrade, is gone now, and lived in what the downgrade dropped, is
  lost. So the upgrade's own new column (no pre-existing value in it) is not reported, data moved
  into it by the upgrade and not copied back is.
"""

from __future__ import annotations

import copy
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from headcheck.db.kept import Kept, Query, read

__all__ = [
    "DEFAULT_ROWS",
    "DEFAULT_SEED",
    "MAX_ROWS",
    "Column",
    "Rows",
    "Table",
    "generate_rows",
    "literal",
    "read_catalog",
]

DEFAULT_ROWS = 3
DEFAULT_SEED = 1
MAX_ROWS = 1000
VALUES_LIMIT = 1000  # tables with more rows are left out of the data-loss comparison
SAMPLE_CHARS = 300

Execute = Callable[[str], Any]


class Column(NamedTuple):
    name: str
    type: str  # format_type(): what a literal is cast to
    base: str  # the base type's name (int4, varchar, ...; a domain's base)
    category: str  # pg_type.typcategory of the base type
    length: int | None  # varchar/char length, numeric precision
    scale: int | None  # numeric scale
    not_null: bool
    default: str | None  # pg_get_expr of the default
    generated: bool  # generated column or identity ALWAYS: never written
    labels: tuple[str, ...]  # enum labels (of the base type)


class ForeignKey(NamedTuple):
    columns: tuple[str, ...]
    parent: int  # oid
    parent_columns: tuple[str, ...]


class Table(NamedTuple):
    oid: int
    schema: str
    name: str
    columns: tuple[Column, ...]
    unique: tuple[tuple[str, ...], ...]  # primary key and unique constraints/indexes
    foreign_keys: tuple[ForeignKey, ...]

    @property
    def qualified(self) -> str:
        return f"{_ident(self.schema)}.{_ident(self.name)}"

    @property
    def label(self) -> str:
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"


# the user tables: ordinary and partitioned (not their partitions), not an extension's
_USER_TABLES = r"""
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid
                  AND x.deptype = 'e')
"""
# their oids and names only: is there a table not filled yet? (the full catalog read is the cost)
_RELATIONS = Query(
    "SELECT coalesce(json_agg(json_build_array(c.oid::bigint, n.nspname, c.relname)), '[]')::text" + _USER_TABLES,
    "hc_tables text",
)

# changes whenever a table is created (a higher oid) or dropped (a lower count)
_SIGNATURE = Query(
    "SELECT count(*), max(oid::bigint) FROM pg_class WHERE relkind IN ('r', 'p')", "hc_count bigint, hc_max bigint"
)

_CATALOG_SQL = r"""
SELECT coalesce(json_agg(json_build_array(
  c.oid::bigint, n.nspname, c.relname,
  (SELECT coalesce(json_agg(json_build_array(
      a.attname, format_type(a.atttypid, a.atttypmod), bt.typname, bt.typcategory::text,
      CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
      a.attnotnull OR (t.typtype = 'd' AND t.typnotnull),
      pg_get_expr(d.adbin, d.adrelid),
      a.attgenerated <> '' OR a.attidentity = 'a',
      a.attidentity <> '',
      (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid)
    ) ORDER BY a.attnum), '[]')
   FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
   JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT coalesce(json_agg((SELECT json_agg(a.attname ORDER BY k.i)
                             FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, i)
                             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num)), '[]')
   FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL),
  (SELECT coalesce(json_agg(json_build_array(
      (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(f.conkey) WITH ORDINALITY k(num, i)
       JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.num),
      f.confrelid::bigint,
      (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(f.confkey) WITH ORDINALITY k(num, i)
       JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.num))), '[]')
   FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f')
) ORDER BY n.nspname, c.relname), '[]')::text
"""
# (hc_arg: the oids of the tables to read, NULL: all)
_CATALOG = Query(
    _CATALOG_SQL + _USER_TABLES + " AND (hc_arg IS NULL OR c.oid = ANY (hc_arg))", "hc_tables text", "hc_arg oid[]"
)
KEPT = (_SIGNATURE, _RELATIONS, _CATALOG)  # (headcheck.db.kept: asked before every judged revision)


def user_tables(execute: Execute, version_table: str, kept: Kept | None = None) -> list[tuple[int, str, str]]:
    """(oid, schema, name) of the user tables, the version table left out. ``kept``: the run's
    kept plans (headcheck.db.kept)."""
    raw = read(execute, _RELATIONS, kept)[0][0]
    found = json.loads(raw) if isinstance(raw, str) else raw
    return [(int(oid), str(schema), str(name)) for oid, schema, name in found if name != version_table]


def read_catalog(
    execute: Execute, version_table: str, oids: Iterable[int] | None = None, kept: Kept | None = None
) -> list[Table]:
    """The user tables as PostgreSQL sees them on the migration's connection (uncommitted DDL
    included): columns, NOT NULL, defaults, unique keys, foreign keys, enum labels. The version
    table is left out; ``oids``: only these tables. A backend other than PostgreSQL supplies its
    own reading."""
    only = "NULL" if oids is None else "'{" + ",".join(str(int(o)) for o in oids) + "}'"
    raw = read(execute, _CATALOG, kept, only)[0][0]
    tables = []
    for oid, schema, name, columns, unique, foreign in json.loads(raw) if isinstance(raw, str) else raw:
        if name == version_table:
            continue
        cols = []
        for cname, ctype, base, category, typmod, not_null, default, generated, identity, labels in columns:
            length, scale = _modifiers(base, int(typmod))
            if identity and not generated:  # identity BY DEFAULT: the sequence writes it
                default = default or "identity"
            cols.append(
                Column(
                    cname,
                    ctype,
                    base,
                    category,
                    length,
                    scale,
                    bool(not_null),
                    default,
                    bool(generated),
                    tuple(labels or ()),
                )
            )
        tables.append(
            Table(
                int(oid),
                schema,
                name,
                tuple(cols),
                tuple(tuple(u) for u in unique if u),
                tuple(ForeignKey(tuple(fk[0]), int(fk[1]), tuple(fk[2])) for fk in foreign if fk[0] and fk[2]),
            )
        )
    return tables


def _modifiers(base: str, typmod: int) -> tuple[int | None, int | None]:
    if typmod < 0:
        return None, None
    if base in ("varchar", "bpchar", "bit", "varbit"):
        return (typmod - 4 if base in ("varchar", "bpchar") else typmod), None
    if base == "numeric":
        return ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    return None, None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string constant PostgreSQL reads as ``text`` whatever standard_conforming_strings says."""
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def fill_order(tables: Sequence[Table]) -> list[Table]:
    """Parents before children; in a cycle, the table whose foreign keys into the cycle are all
    nullable goes first (its references are NULL then), else any."""
    by_oid = {t.oid: t for t in tables}
    waiting = {
        t.oid: {fk.parent for fk in t.foreign_keys if fk.parent != t.oid and fk.parent in by_oid} for t in tables
    }
    order: list[Table] = []
    while waiting:
        ready = [oid for oid, parents in waiting.items() if not parents]
        if not ready:

            def nullable_refs(oid: int) -> bool:
                table = by_oid[oid]
                columns = {c.name: c for c in table.columns}
                return all(
                    not columns[name].not_null
                    for fk in table.foreign_keys
                    if fk.parent in waiting[oid]
                    for name in fk.columns
                    if name in columns
                )

            ready = [next((oid for oid in waiting if nullable_refs(oid)), next(iter(waiting)))]
        for oid in sorted(ready, key=lambda o: (by_oid[o].schema, by_oid[o].name)):
            order.append(by_oid[oid])
            del waiting[oid]
        for parents in waiting.values():
            parents.difference_update(ready)
    return order


# edge values by base type: each a list of literal texts (cast to the column's type on insert)
_INTS = {"int2": 32767, "int4": 2147483647, "int8": 9223372036854775807}
_NON_ASCII = "Zoë 漢字 ✓ 🙂"


def _edges(column: Column, rng: random.Random, unique: bool = False) -> list[str] | None:
    """Edge values for the column's type as text, or None when headcheck cannot make one.
    ``unique``: no small positive integers (the ids a data migration's seed rows would take)."""
    base, category = column.base, column.category
    if column.labels:
        return list(column.labels)
    if base in _INTS:
        top = _INTS[base]
        if unique:
            return [str(top), str(-top - 1), "0", "-1", str(-rng.randrange(2, 30000))]
        return ["0", str(top), str(-top - 1), "1", "-1", str(rng.randrange(2, 30000))]
    if base == "numeric":
        if column.length:
            digits, scale = column.length, column.scale or 0
            whole = "9" * (digits - scale) or "0"
            most = whole + ("." + "9" * scale if scale else "")
            return ["0", most, "-" + most, "1", str(rng.randrange(2, 9)) if digits - scale else "0"]
        return ["0", "123456789012345678.25", "-1.5", "1", str(rng.randrange(2, 1000))]
    if base in ("float4", "float8"):
        return ["0", "-1.5", "3.4e38" if base == "float4" else "1e308", "1", "-0.000001"]
    if base in ("text", "varchar", "bpchar", "name", "citext"):
        size = column.length
        if base == "name":
            size = 63
        if size is None:
            size = 300 if base != "bpchar" else 1
        full = ("x" * size)[:size]
        words = (_NON_ASCII * (size // len(_NON_ASCII) + 1))[:size]
        plain = f"r{rng.randrange(10**6)}"[:size]
        if base == "bpchar":  # blank-padded: '' is the same as spaces
            return [full, words, plain.ljust(size, "y"), "z" * size]
        return ["", full, words, plain, "a"]
    if base == "bool":
        return ["false", "true"]
    if base == "date":
        return ["1970-01-01", "9999-12-31", "0001-01-01", "2000-02-29", f"2024-01-{rng.randrange(1, 29):02d}"]
    if base in ("timestamp", "timestamptz"):
        zone = "+00" if base == "timestamptz" else ""
        return [
            "1970-01-01 00:00:00" + zone,
            "9999-12-31 23:59:59.999999" + zone,
            "0001-01-01 00:00:00" + zone,
            "2000-02-29 12:30:00.5" + zone,
            f"2024-03-{rng.randrange(1, 29):02d} 08:00:00" + zone,
        ]
    if base in ("time", "timetz"):
        zone = "+00" if base == "timetz" else ""
        return ["00:00:00" + zone, "23:59:59.999999" + zone, "12:00:00" + zone]
    if base == "interval":
        return ["0", "-1 day", "178000000 years", "1 hour"]
    if base == "uuid":
        return [
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            *(str(_uuid(rng)) for _ in range(4)),
        ]
    if base in ("json", "jsonb"):
        return ["{}", '{"k": "' + _NON_ASCII + '"}', "[]", "null", '{"n": ' + str(rng.randrange(1000)) + "}"]
    if base == "bytea":
        return ["\\x", "\\x00ff", "\\x" + f"{rng.randrange(2**32):08x}"]
    if base in ("inet", "cidr"):
        return ["127.0.0.1/32" if base == "cidr" else "127.0.0.1", "::1/128" if base == "cidr" else "::1", "10.0.0.0/8"]
    if base == "macaddr":
        return ["00:00:00:00:00:00", "08:00:2b:01:02:03"]
    if base == "money":
        return ["0", "-1.50", "12345.67"]
    if category == "A":
        return ["{}"]
    return None


def _uuid(rng: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def generate_rows(
    table: Table, count: int, seed: int, parent_keys: dict[tuple[str, ...], list[list[str | None]]]
) -> list[dict[str, str | None]] | None:
    """``count`` rows for ``table`` (column -> value text, None for NULL; a column missing from a
    row takes its default), or None when a NOT NULL column without a default cannot be made.
    Deterministic from ``seed`` and the table's name. ``parent_keys``: by foreign key columns, the
    parent's key values (rows of texts) to pick from."""
    rng = random.Random(f"{seed}:{table.schema}.{table.name}")
    unique_columns = {name for key in table.unique for name in key}
    fk_columns = {name: fk for fk in table.foreign_keys for name in fk.columns}
    rows: list[dict[str, str | None]] = [{} for _ in range(count)]
    for column in table.columns:
        if column.generated:
            continue
        sequence = column.default is not None and ("nextval(" in column.default or column.default == "identity")
        if sequence:
            continue  # the sequence writes it, as the application would: a later INSERT must not collide
        fk = fk_columns.get(column.name)
        if fk is not None:
            keys = parent_keys.get(fk.columns, [])
            position = fk.columns.index(column.name)
            for k, row in enumerate(rows):
                if (not column.not_null and k == 0) or not keys:
                    row[column.name] = None
                else:
                    index = k if column.name in unique_columns else k // 2
                    row[column.name] = keys[index % len(keys)][position]
            continue
        unique = column.name in unique_columns
        edges = _edges(column, rng, unique)
        if edges is None:
            if column.not_null and column.default is None:
                return None
            continue  # NULL or its default
        offset = rng.randrange(len(edges))
        for k, row in enumerate(rows):
            if not column.not_null and not unique and k == 0:
                row[column.name] = None  # NULL wherever allowed
                continue
            j = k - (0 if column.not_null or unique else 1)
            if unique:
                row[column.name] = edges[(offset + j) % len(edges)] if j < len(edges) else _distinct(column, j, rng)
            else:
                # a value repeats: the last row takes the first row's value
                row[column.name] = (
                    edges[offset % len(edges)] if k == count - 1 and count > 1 else edges[(offset + j) % len(edges)]
                )
    return rows


def _distinct(column: Column, j: int, rng: random.Random) -> str:
    """One more value for a unique column once the edge values ran out (a refused row is dropped)."""
    if column.base in _INTS or column.base in ("numeric", "float4", "float8", "money"):
        return str(-1000 - j)  # (negative: not an id a seed row takes)
    if column.base == "uuid":
        return _uuid(rng)
    if column.base in ("date",):
        return f"2001-01-{j % 28 + 1:02d}"
    if column.base in ("timestamp", "timestamptz"):
        return f"2001-01-01 00:00:{j % 60:02d}"
    return f"u{j}"[: column.length or None]


def _insert(table: Table, rows: Iterable[dict[str, str | None]]) -> str:
    rows = list(rows)
    types = {c.name: c.type for c in table.columns}
    names = [c.name for c in table.columns if any(c.name in row for row in rows)]
    if not names:
        return f"INSERT INTO {table.qualified} DEFAULT VALUES"
    values = []
    for row in rows:
        cells = []
        for name in names:
            if name not in row:
                cells.append("DEFAULT")
            elif row[name] is None:
                cells.append("NULL")
            else:
                cells.append(f"{literal(str(row[name]))}::{types[name]}")
        values.append("(" + ", ".join(cells) + ")")
    columns = ", ".join(_ident(n) for n in names)
    return f"INSERT INTO {table.qualified} ({columns}) VALUES " + ", ".join(values)


class Failure(NamedTuple):
    """A step that failed with rows in the tables and passed on empty ones."""

    table: str | None
    statement: str | None
    error: str
    line: int | None
    sample: str | None

    def data(self) -> dict[str, Any]:
        return self._asdict()


_DROP_COLUMN = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w.\"$]+)\s+DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?([\w\"$]+)",
    re.I,
)
_DROP_TABLE = re.compile(r"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([\w.\"$]+(?:\s*,\s*[\w.\"$]+)*)", re.I)
_CONSTRAINT = re.compile(r"^\s*CONSTRAINT\b", re.I)
# the table a failing statement works on, when the error does not say
_TARGET = re.compile(
    r"^\s*(?:ALTER\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?|UPDATE(?:\s+ONLY)?|INSERT\s+INTO|DELETE\s+FROM"
    r"|CREATE\s+(?:UNIQUE\s+)?INDEX\b.*?\bON(?:\s+ONLY)?)\s+([\w.\"$]+)",
    re.I | re.S,
)
_WORD = re.compile(r"[A-Za-z_][\w$]*")


def _split_name(written: str) -> tuple[str | None, str]:
    parts = [p.strip().strip('"') for p in re.findall(r'"(?:[^"]|"")*"|[^.]+', written.strip())]
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


Values = dict[tuple[str, str], Counter[str]]  # (table label, column) -> non-NULL values


class Rows:
    """The rows machinery of one migration child: ``count`` rows per table, from ``seed``."""

    def __init__(self, count: int, seed: int, version_table: str) -> None:
        self.count = count
        self.seed = seed
        self.version_table = version_table
        self.filled: set[int] = set()  # table oids filled (by us) and not emptied since
        self.broken: str | None = None  # our own SQL failed once: no more rows (never break the migration)
        # revision -> the values before its first upgrade, and the tables (schema, name) they are of
        self.before: dict[str, tuple[Values, set[tuple[str, str]]]] = {}
        self.recording: str | None = None  # the revision whose first upgrade runs (remember)
        self.watching: str | None = None  # the revision whose checked downgrade runs
        self.names: dict[str, list[tuple[str, str]]] = {}  # bare table name -> (schema, name), at the last fill
        self.dropped: list[tuple[str, str | None, list[str], int | None]] = []  # (table, column, values, line)
        self.path: str | None = None
        self.failure: Failure | None = None
        self.signature: tuple[Any, ...] | None = None  # of pg_class's tables at the last fill
        self.kept: Kept | None = None  # the current run's kept plans (headcheck.db.kept)

    # -- filling -------------------------------------------------------------------------------

    def fill(self, execute: Execute) -> int:
        """Fill every user table not filled yet. Returns the number of rows inserted."""
        if self.broken is not None:
            return 0
        try:
            return self._fill(execute)
        except Exception as exc:  # rows must never break the user's migration
            self.broken = f"{type(exc).__name__}: {exc}"
            return 0

    def _fill(self, execute: Execute) -> int:
        signature = tuple(read(execute, _SIGNATURE, self.kept)[0])
        if signature == self.signature:
            return 0  # no table created or dropped since the last fill
        self.signature = signature
        names = {oid: (schema, name) for oid, schema, name in user_tables(execute, self.version_table, self.kept)}
        self.names = {}
        for schema, name in names.values():
            self.names.setdefault(name, []).append((schema, name))
        new = [oid for oid in names if oid not in self.filled]
        if not new:
            return 0
        tables = read_catalog(execute, self.version_table, new, self.kept)  # (the filled ones: not again)
        inserted = 0
        for table in fill_order(tables):
            self.filled.add(table.oid)
            keys = {fk.columns: self._keys(execute, names.get(fk.parent), fk) for fk in table.foreign_keys}
            rows = generate_rows(table, self.count, self.seed, keys)
            if not rows:
                continue
            inserted += self._insert_rows(execute, table, rows)
        return inserted

    def _keys(self, execute: Execute, parent: tuple[str, str] | None, fk: ForeignKey) -> list[list[str | None]]:
        if parent is None:
            return []
        columns = ", ".join(f"{_ident(c)}::text" for c in fk.parent_columns)
        where = " AND ".join(f"{_ident(c)} IS NOT NULL" for c in fk.parent_columns)
        table = f"{_ident(parent[0])}.{_ident(parent[1])}"
        found = execute(f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {columns} LIMIT {self.count * 2}")
        return [list(row) for row in found]

    def _insert_rows(self, execute: Execute, table: Table, rows: list[dict[str, str | None]]) -> int:
        if _attempt(execute, _insert(table, rows)):
            return len(rows)
        done = 0
        for row in rows:  # one refused row (a CHECK, a domain, a key) must not lose the others
            done += _attempt(execute, _insert(table, [row]))
        return done

    def empty(self, execute: Execute) -> None:
        """Delete every row of the user tables (children first): the state without rows."""
        tables = fill_order(read_catalog(execute, self.version_table, kept=self.kept))
        left = list(reversed(tables))
        for _ in range(3):  # a row referenced from a table emptied later: try again
            left = [t for t in left if not _attempt(execute, f"DELETE FROM {t.qualified}")]
            if not left:
                break
        self.filled.clear()
        self.signature = None

    # -- a step in a savepoint -----------------------------------------------------------------

    def guard(
        self,
        step: Any,
        execute: Execute,
        context: Any,
        path: str | None,
        restart: Callable[[], None],
        watch: bool,
        record: bool = False,
    ) -> Any:
        """``step`` whose migration function runs in a savepoint: failing with rows, it is rolled
        back and run again on empty tables (passing then: :attr:`failure`). ``restart``: called
        before the second run (the tracer starts the step again). ``watch``: read what each DROP
        drops (the downgrade of a revision whose data is compared); ``record``: read the values of
        each table a statement names before it runs (:meth:`remember`)."""
        original = step.migration_fn
        revision = step.revision.revision if hasattr(step, "revision") else None
        self.failure = None
        self.dropped = []
        self.path = path
        rows = self

        def migration_fn(**kw: Any) -> Any:
            from alembic import context as alembic_context

            current: Any
            try:
                current = alembic_context.get_context()
            except Exception:
                current = None
            if current is not context or rows.broken is not None:
                return original(**kw)  # another database of a multi-database env.py: as it is
            memo = getattr(context.impl, "memo", None)
            saved_memo = {k: copy.copy(v) for k, v in memo.items()} if isinstance(memo, dict) else None
            if not _attempt(execute, "SAVEPOINT headcheck_rows_step", keep=True):
                return original(**kw)  # no transaction (autocommit): nothing to roll back to
            connection = context.connection
            transaction = _transaction(connection)
            if (watch or record) and revision in rows.before:
                _listen(connection)
                connection.info["headcheck.rows"] = (rows, execute)
                rows.watching = revision if watch else None
                rows.recording = revision if record else None
            try:
                result = original(**kw)
            except Exception as first:
                connection.info.pop("headcheck.rows", None)
                rows.dropped = []
                try:
                    execute("ROLLBACK TO SAVEPOINT headcheck_rows_step")
                except Exception:
                    raise first from None  # the migration ended our transaction (autocommit_block)
                failure = rows._describe(first, execute)
                rows.empty(execute)
                if saved_memo is not None and isinstance(memo, dict):
                    memo.clear()
                    memo.update(saved_memo)
                restart()
                result = original(**kw)  # fails again: the ordinary failure, as without rows
                rows.failure = failure
                return result
            finally:
                connection.info.pop("headcheck.rows", None)
                rows.recording = rows.watching = None
            if transaction is not None and _transaction(connection) is transaction:
                _attempt(execute, "RELEASE SAVEPOINT headcheck_rows_step", keep=True)
            else:
                _release_step(execute)  # the transaction may have changed (autocommit_block)
            return result

        step.migration_fn = migration_fn
        return step

    def _describe(self, exc: BaseException, execute: Execute) -> Failure:
        statement = getattr(exc, "statement", None)
        orig = getattr(exc, "orig", None)
        error = str(orig if orig is not None else exc).strip() or type(exc).__name__
        if orig is None:
            error = f"{type(exc).__name__}: {error}"
        table = None
        diag = getattr(orig, "diag", None)
        if diag is not None and getattr(diag, "table_name", None):
            schema = getattr(diag, "schema_name", None)
            table = str(diag.table_name) if schema in (None, "public") else f"{schema}.{diag.table_name}"
        elif statement:
            target = _TARGET.search(str(statement))
            if target is not None:
                schema, name = _split_name(target.group(1))
                table = name if schema in (None, "public") else f"{schema}.{name}"
        line = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.path:
                line = tb.tb_lineno
            tb = tb.tb_next
        return Failure(
            table, str(statement)[:2000] if statement else None, error[:2000], line, self._sample(execute, table)
        )

    def _sample(self, execute: Execute, table: str | None) -> str | None:
        """One row of ``table`` as it was before the step (the savepoint is rolled back by now)."""
        if table is None:
            return None
        schema, name = table.split(".", 1) if "." in table else ("public", table)
        found = _query(execute, f"SELECT row_to_json(x)::text FROM {_ident(schema)}.{_ident(name)} x LIMIT 1")
        if not found:
            return None
        text = str(found[0][0])
        return text if len(text) <= SAMPLE_CHARS else text[:SAMPLE_CHARS] + "..."

    # -- data a downgrade destroys ---------------------------------------------------------------

    def remember(self, revision: str) -> None:
        """Record the values before ``revision``'s first upgrade (its downgrade is checked later):
        of each table a statement of the upgrade names, read just before that statement runs (a
        table the upgrade never names keeps its values; the downgrade's drops read it then)."""
        if self.broken is None:
            self.before[revision] = ({}, set())

    def record(self, execute: Execute, statement: str) -> None:
        """Before a statement of the recorded upgrade: the values of the tables it names, once."""
        if self.recording is None:
            return
        values, seen = self.before[self.recording]
        for word in set(_WORD.findall(statement)):
            for table in self.names.get(word, ()):
                if table not in seen:
                    seen.add(table)
                    values.update(self._values(execute, [table]) or {})

    def _values(self, execute: Execute, tables: Iterable[tuple[str, str]]) -> Values | None:
        """The non-NULL values of ``tables`` ((schema, name)), by (table label, column)."""
        tables = list(tables)
        if not tables:
            return {}
        parts = ", ".join(
            f"{literal(_label(schema, name))}, (SELECT json_agg(x) FROM "
            f"(SELECT * FROM {_ident(schema)}.{_ident(name)} LIMIT {VALUES_LIMIT + 1}) x)"
            for schema, name in tables
        )
        found = _query(execute, f"SELECT json_build_object({parts})::text")
        if not found:
            return None
        values: Values = {}
        for label, rows in json.loads(found[0][0]).items():
            if rows is None or len(rows) > VALUES_LIMIT:
                continue
            for row in rows:
                for column, value in row.items():
                    counter = values.setdefault((label, column), Counter())
                    if value is not None:
                        counter[_scalar(value)] += 1
        return values

    def watch_drop(self, execute: Execute, statement: str) -> None:
        """Before a DROP TABLE / DROP COLUMN of the watched downgrade: read what it drops."""
        found: list[tuple[str, str | None]] = []
        column = _DROP_COLUMN.match(statement)
        if column is not None and not _CONSTRAINT.match(statement[column.start(2) :]):
            schema, name = _split_name(column.group(1))
            found.append((f"{schema}.{name}" if schema else name, column.group(2).strip('"')))
        dropped = _DROP_TABLE.match(statement)
        if dropped is not None:
            found += [(".".join(p for p in _split_name(w) if p), None) for w in dropped.group(1).split(",")]
        for table, col in found:
            schema, name = table.split(".", 1) if "." in table else (None, table)
            target = f"{_ident(schema)}.{_ident(name)}" if schema else _ident(name)
            if self.watching is not None:  # not named by the upgrade: its values are the ones before it
                values_before, seen = self.before[self.watching]
                for known in self.names.get(name, ()):
                    if known not in seen and (schema is None or known[0] == schema):
                        seen.add(known)
                        values_before.update(self._values(execute, [known]) or {})
            what = "row_to_json(x)::text" if col is None else f"to_json(x.{_ident(col)})::text"
            rows = _query(execute, f"SELECT {what} FROM {target} x LIMIT {VALUES_LIMIT + 1}")
            if not rows or len(rows) > VALUES_LIMIT:
                continue
            values: list[str] = []
            for (text,) in rows:
                if text is None:
                    continue
                value = json.loads(text)
                if col is None:
                    values += [_scalar(v) for v in value.values() if v is not None]
                elif value is not None:
                    values.append(_scalar(value))
            if values:
                label = name if schema in (None, "public") else f"{schema}.{name}"
                self.dropped.append((label, col, values, _line(self.path)))

    def losses(self, execute: Execute, revision: str) -> list[dict[str, Any]]:
        """After the checked downgrade of ``revision``: what it dropped that held values existing
        before the upgrade and now found nowhere. One entry per dropped column or table."""
        recorded = self.before.pop(revision, None)
        dropped, self.dropped = self.dropped, []
        if recorded is None or not dropped:
            return []
        before, tables = recorded
        after = self._values(execute, [t for t in tables if t in self._current(execute)])
        if after is None:
            return []
        # values that existed before the upgrade and are gone now, with the columns they were in
        gone: Counter[str] = Counter()
        origin: dict[str, set[str]] = {}
        for key, counter in before.items():
            missing = counter - after.get(key, Counter())
            gone += missing
            for value in missing:
                origin.setdefault(value, set()).add(f"{key[0]}.{key[1]}")
        found = []
        for table, column, values, line in dropped:
            held = Counter(values)
            lost = held & gone
            if not lost:
                continue
            gone -= lost
            sources = sorted({src for value in lost for src in origin.get(value, ())})
            found.append(
                {
                    "table": table,
                    "column": column,
                    "lost": sum(lost.values()),
                    "from": sources,
                    "line": line,
                }
            )
        return found

    def _current(self, execute: Execute) -> set[tuple[str, str]]:
        return {(schema, name) for _, schema, name in user_tables(execute, self.version_table, self.kept)}

    def step_event(self, execute: Execute, revision: str, watched: bool) -> dict[str, Any]:
        """What the step event carries about rows: ``rows_failure`` (the step failed with rows and
        passed without), ``rows_lost`` (the checked downgrade destroyed data), ``rows_broken``."""
        event: dict[str, Any] = {}
        if self.failure is not None:
            event["rows_failure"] = self.failure.data()
            self.failure = None
            self.before.pop(revision, None)  # the tables were emptied: nothing to compare
            self.dropped = []
        elif watched:
            lost = self.losses(execute, revision)
            if lost:
                event["rows_lost"] = lost
        if self.broken is not None:
            event["rows_broken"] = self.broken
        return event


def _label(schema: str, name: str) -> str:
    return name if schema == "public" else f"{schema}.{name}"


def _line(path: str | None) -> int | None:
    """The line of the innermost frame running the revision file ``path``."""
    frame = sys._getframe(1)  # noqa: SLF001 -- sys._getframe is CPython's documented frame access
    while frame is not None:
        if path is not None and frame.f_code.co_filename == path:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _dispatch(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    watched = conn.info.get("headcheck.rows")
    if watched is None:
        return
    rows, execute = watched
    try:
        if rows.recording is not None:
            rows.record(execute, statement)
        elif _DROP_COLUMN.match(statement) or _DROP_TABLE.match(statement):
            rows.watch_drop(execute, statement)
    except Exception as exc:  # watching must never break the user's migration
        rows.broken = f"{type(exc).__name__}: {exc}"


def _listen(connection: Any) -> None:
    from sqlalchemy import event

    if not connection.info.get("headcheck.rows_listening"):
        connection.info["headcheck.rows_listening"] = True
        event.listen(connection, "before_cursor_execute", _dispatch)


def _attempt(execute: Execute, sql: str, *, keep: bool = False) -> bool:
    """Run ``sql`` in a savepoint of its own (``keep``: no savepoint, the statement is one);
    False when the database refused it (the transaction is usable again)."""
    if keep:
        try:
            execute(sql)
        except Exception:
            return False
        return True
    if getattr(execute, "several", False):  # one round trip (runner._executor)
        try:
            execute(f"SAVEPOINT headcheck_rows; {sql}; RELEASE SAVEPOINT headcheck_rows")
        except Exception as exc:
            _back(execute, exc)
            return False
        return True
    execute("SAVEPOINT headcheck_rows")
    try:
        execute(sql)
    except Exception:
        execute("ROLLBACK TO SAVEPOINT headcheck_rows")
        execute("RELEASE SAVEPOINT headcheck_rows")
        return False
    execute("RELEASE SAVEPOINT headcheck_rows")
    return True


def _back(execute: Execute, failure: Exception) -> None:
    """After a batch that began with ``SAVEPOINT headcheck_rows`` failed: back to that savepoint, or,
    when it could not even be made (no transaction), ``failure`` itself, as a lone SAVEPOINT's."""
    try:
        execute("ROLLBACK TO SAVEPOINT headcheck_rows; RELEASE SAVEPOINT headcheck_rows")
    except Exception:
        raise failure from None


def _transaction(connection: Any) -> Any:
    """SQLAlchemy's transaction object on ``connection`` now (a new one after an autocommit_block)."""
    try:
        return connection.get_transaction()
    except Exception:
        return None


def _release_step(execute: Execute) -> None:
    """Release the step's savepoint, if it still exists: an ``autocommit_block()`` in the migration
    committed the transaction it was in (the failed RELEASE is undone by a savepoint of its own;
    releasing the step's savepoint releases that one too)."""
    try:
        execute("SAVEPOINT headcheck_rows_check")
    except Exception:
        return  # no transaction (autocommit): nothing to release
    try:
        execute("RELEASE SAVEPOINT headcheck_rows_step")
    except Exception:
        execute("ROLLBACK TO SAVEPOINT headcheck_rows_check")
        execute("RELEASE SAVEPOINT headcheck_rows_check")


def _query(execute: Execute, sql: str) -> list[Any] | None:
    """Rows of a read in a savepoint of its own; None when it failed."""
    if getattr(execute, "several", False):  # two round trips (runner._executor)
        try:
            found = list(execute(f"SAVEPOINT headcheck_rows; {sql}"))
        except Exception as exc:
            _back(execute, exc)
            return None
        execute("RELEASE SAVEPOINT headcheck_rows")
        return found
    execute("SAVEPOINT headcheck_rows")
    try:
        found = list(execute(sql))
    except Exception:
        execute("ROLLBACK TO SAVEPOINT headcheck_rows")
        execute("RELEASE SAVEPOINT headcheck_rows")
        return None
    execute("RELEASE SAVEPOINT headcheck_rows")
    return found

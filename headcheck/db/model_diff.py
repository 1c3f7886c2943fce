"""What differs between two schemas read from PostgreSQL's catalogs, in the terms of models: the
schema the migrations made and the one ``metadata.create_all`` made (headcheck.db.drift).

Both are :func:`headcheck.db.snapshot.take` snapshots, so PostgreSQL's own rendering
(``pg_get_expr``, ``pg_get_constraintdef``, ``pg_get_indexdef``) decides what is equal. On top:
constraints and indexes are matched by what they do on which table, not by name (naming
conventions); a serial column's default by the sequence its column owns, not the sequence's name
(a renamed table keeps its old one); a default by its parse tree when the rendering differs
(``now() AT TIME ZONE 'utc'`` and ``timezone('utc', now())``); a UNIQUE constraint matches a
unique index on the same columns. Standard library only; the queries run through ``execute``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import NamedTuple

from headcheck.db.snapshot import Execute, Snapshot

__all__ = ["DIFFERENT", "MIGRATIONS_ONLY", "MODELS_ONLY", "Drift", "Schema", "catalog_extras", "compare", "ignored"]

MODELS_ONLY, MIGRATIONS_ONLY, DIFFERENT = "HC640", "HC641", "HC642"


class Drift(NamedTuple):
    code: str  # HC640 models only, HC641 migrations only, HC642 both but different
    kind: str  # table, column, default, constraint, index, enum, sequence
    table: str  # schema.table (schema.type for an enum, schema.sequence for a sequence)
    name: str  # the column, constraint, index or enum value ("" for a table or type)
    message: str
    path: str | None = None  # the model's file (set by the child)
    line: int | None = None


class Column(NamedTuple):
    type: str
    not_null: bool
    default: str | None
    identity: str  # "", "always", "by default"
    tree: str | None = None  # the default's parse tree without text positions (pg_attrdef.adbin)

    def describe(self) -> str:
        identity = f" GENERATED {self.identity.upper()} AS IDENTITY" if self.identity else ""
        return f"{self.type}{' NOT NULL' if self.not_null else ''}{identity}"


# the owned sequences (serial, identity) and identity columns: what the snapshot does not say
_EXTRAS = """
SELECT 'sequence', sn.nspname || '.' || s.relname, tn.nspname || '.' || t.relname || '.' || a.attname
FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_namespace sn ON sn.oid = s.relnamespace
    JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
    AND d.deptype IN ('a', 'i') AND s.oid >= 16384
UNION ALL
SELECT 'identity', n.nspname || '.' || c.relname || '.' || a.attname,
    CASE a.attidentity WHEN 'a' THEN 'always' ELSE 'by default' END
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attidentity <> '' AND c.oid >= 16384 AND NOT a.attisdropped
UNION ALL
SELECT 'tree', n.nspname || '.' || c.relname || '.' || a.attname, d.adbin::text
FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE c.oid >= 16384
"""


def catalog_extras(execute: Execute) -> list[tuple[str, str, str]]:
    """(kind, name, value) rows: owned sequences (sequence -> owning column), identity columns and
    the parse trees of column defaults."""
    return [(str(k), str(n), str(v)) for k, n, v in execute(_EXTRAS)]


_IDENT = r'(?:"(?:[^"]|"")*"|[^\s".]+)'
_INDEX = re.compile(
    rf"^CREATE (?P<unique>UNIQUE )?INDEX (?P<name>{_IDENT}) ON (?:ONLY )?(?P<table>{_IDENT}\.{_IDENT}) USING (?P<rest>.*)$"
)
_NEXTVAL = re.compile(r"nextval\('((?:[^']|'')*)'::regclass\)")
_LITERAL = re.compile(r"E?'((?:[^']|'')*)'")
# spellings PostgreSQL keeps apart but that mean the same default
_SAME_DEFAULT = {"CURRENT_TIMESTAMP": "now()", "transaction_timestamp()": "now()"}


def _unquote(ident: str) -> str:
    return ".".join(
        part[1:-1].replace('""', '"') if part.startswith('"') else part for part in re.findall(_IDENT, ident)
    )


def _prefix(line: str, keys: set[str]) -> str | None:
    """The longest ``schema.table`` in ``keys`` that ``line`` starts with, followed by a dot or space."""
    best = None
    for k, char in enumerate(line):
        if char in ". " and line[:k] in keys:
            best = line[:k]
    return best


class Schema(NamedTuple):
    """One database's schema in the terms models are compared in."""

    tables: frozenset[str]
    columns: Mapping[tuple[str, str], Column]
    constraints: Mapping[tuple[str, str], str]  # (table, definition) -> name
    indexes: Mapping[tuple[str, str], str]  # (table, "UNIQUE btree (a)") -> name (not constraints' own)
    enums: Mapping[str, tuple[str, ...]]
    sequences: Mapping[str, str]  # standalone sequences -> definition

    @classmethod
    def read(cls, snap: Snapshot, extras: Iterable[tuple[str, str, str]]) -> Schema:
        found: dict[str, dict[str, str]] = {"sequence": {}, "identity": {}, "tree": {}}
        for kind, name, value in extras:
            found[kind][name] = value
        owned = found["sequence"]  # sequence -> schema.table.column owning it
        tables = {line.split(" ", 1)[1] for line in snap["tables"] if line.startswith(("table ", "partitioned table "))}
        tables = {t.removeprefix("table ") for t in tables}
        columns: dict[tuple[str, str], Column] = {}
        for line in snap["columns"]:
            table = _prefix(line, tables)
            if table is None:
                continue
            name, _, rest = line[len(table) + 1 :].partition(" ")
            rest, _, default = rest.partition(" DEFAULT ")
            not_null = rest.endswith(" NOT NULL")
            key = (table, name)
            columns[key] = Column(
                rest.removesuffix(" NOT NULL"),
                not_null,
                _default(default, f"{table}.{name}", owned) if default else None,
                found["identity"].get(f"{table}.{name}", ""),
                _tree(found["tree"].get(f"{table}.{name}")),
            )
        constraints: dict[tuple[str, str], str] = {}
        for line in snap["constraints"]:
            table = _prefix(line, tables)
            if table is not None:
                name, _, definition = line[len(table) + 1 :].partition(" ")
                constraints[(table, definition)] = name
        own = {(table, name) for (table, definition), name in constraints.items() if definition.startswith(_OWN_INDEX)}
        indexes: dict[tuple[str, str], str] = {}
        for line in snap["indexes"]:
            match = _INDEX.match(line)
            if match is None:
                continue
            table, name = _unquote(match["table"]), _unquote(match["name"])
            if table in tables and (table, name) not in own:
                indexes[(table, f"{match['unique'] or ''}{match['rest']}")] = name
        enums = {}
        for line in snap["types"]:
            name, _, rest = line.partition(" enum(")
            if rest:
                enums[name] = tuple(v.replace("''", "'") for v in _LITERAL.findall(rest[:-1]))
        sequences = {}
        for line in snap["sequences"]:
            name, _, definition = line.partition(" ")
            if name not in owned:
                sequences[name] = definition
        return cls(frozenset(tables), columns, constraints, indexes, enums, sequences)


_OWN_INDEX = ("PRIMARY KEY", "UNIQUE", "EXCLUDE")  # constraints that bring an index of their own


def _default(expression: str, column: str, owned: Mapping[str, str]) -> str:
    """The default as compared: a serial column's ``nextval('<its sequence>')`` without the sequence's
    name, and the few spellings PostgreSQL keeps apart for the same value."""

    def sequence(match: re.Match[str]) -> str:
        name = _unquote(match[1].replace("''", "'"))
        qualified = name if "." in name else f"public.{name}"
        return "nextval(<its own sequence>)" if owned.get(qualified) == column else match[0]

    expression = _NEXTVAL.sub(sequence, expression)
    return _SAME_DEFAULT.get(expression, expression)


_POSITION = re.compile(r" :(?:location|funcformat) -?\d+")


def _tree(adbin: str | None) -> str | None:
    """A default's parse tree without where its parts were in the text and how the call was spelled
    (``now() AT TIME ZONE 'utc'`` and ``timezone('utc', now())`` are the same call)."""
    return _POSITION.sub("", adbin) if adbin else None


def _same_default(model: Column, migration: Column) -> bool:
    """Equal as PostgreSQL renders them, or as it parsed them (type OIDs in a tree differ between
    the two databases, which is why the rendering is compared first)."""
    return model.default == migration.default or (model.tree is not None and model.tree == migration.tree)


def ignored(table: str, patterns: Sequence[str]) -> bool:
    """``[tool.headcheck] models-ignore``: ``"name"`` matches a table (or enum type, sequence) of that
    name in any schema, ``"schema.name"`` that one; ``*``, ``?`` and ``[...]`` as in shell globs."""
    name = table.split(".", 1)[-1]
    return any(fnmatchcase(table if "." in pattern else name, pattern) for pattern in patterns)


def _shown(table: str) -> str:
    return table.removeprefix("public.")


def _constraint_kind(definition: str) -> str:
    for prefix, kind in (
        ("PRIMARY KEY", "primary key"),
        ("UNIQUE", "unique constraint"),
        ("CHECK", "check constraint"),
        ("FOREIGN KEY", "foreign key"),
        ("EXCLUDE", "exclusion constraint"),
    ):
        if definition.startswith(prefix):
            return kind
    return "constraint"


_UNIQUE = re.compile(r"^UNIQUE (\(.*\))$")


def _unique_as_index(definition: str) -> str | None:
    """``UNIQUE (a, b)`` -> ``UNIQUE btree (a, b)``: the unique index the constraint stands for."""
    match = _UNIQUE.match(definition)
    return f"UNIQUE btree {match[1]}" if match else None


def compare(migrated: Schema, modelled: Schema, ignored: Callable[[str], bool] = lambda _table: False) -> list[Drift]:
    """Every difference between the schema the migrations made and the one the models made."""
    out: list[Drift] = []

    def add(code: str, kind: str, table: str, name: str, what: str) -> None:
        if code == MODELS_ONLY:
            message = f"models declare {what} that no migration creates"
        elif code == MIGRATIONS_ONLY:
            message = f"migrations create {what} that no model declares"
        else:
            message = what
        out.append(Drift(code, kind, table, name, message))

    for table in sorted(modelled.tables - migrated.tables):
        if not ignored(table):
            add(MODELS_ONLY, "table", table, "", f"table {_shown(table)}")
    for table in sorted(migrated.tables - modelled.tables):
        if not ignored(table):
            add(MIGRATIONS_ONLY, "table", table, "", f"table {_shown(table)}")
    common = {table for table in modelled.tables & migrated.tables if not ignored(table)}
    _columns(migrated, modelled, common, add)
    _constraints_and_indexes(migrated, modelled, common, add)
    _enums(migrated, modelled, ignored, add)
    for name in sorted(modelled.sequences.keys() - migrated.sequences.keys()):
        if not ignored(name):
            add(MODELS_ONLY, "sequence", name, "", f"sequence {_shown(name)}")
    for name in sorted(migrated.sequences.keys() - modelled.sequences.keys()):
        if not ignored(name):
            add(MIGRATIONS_ONLY, "sequence", name, "", f"sequence {_shown(name)}")
    return out


Add = Callable[[str, str, str, str, str], None]


def _columns(migrated: Schema, modelled: Schema, common: set[str], add: Add) -> None:
    keys = sorted(k for k in modelled.columns.keys() | migrated.columns.keys() if k[0] in common)
    for table, name in keys:
        model, migration = modelled.columns.get((table, name)), migrated.columns.get((table, name))
        where = f"{_shown(table)}.{name}"
        if migration is None and model is not None:
            add(MODELS_ONLY, "column", table, name, f"column {where} ({model.describe()})")
        elif model is None and migration is not None:
            add(MIGRATIONS_ONLY, "column", table, name, f"column {where} ({migration.describe()})")
        elif model is not None and migration is not None:
            if model.describe() != migration.describe():
                add(
                    DIFFERENT,
                    "column",
                    table,
                    name,
                    f"column {where} is {model.describe()} in the models but {migration.describe()} after the migrations",
                )
            if _same_default(model, migration):
                continue
            if migration.default is None:
                add(MODELS_ONLY, "default", table, name, f"default {model.default} on {where}")
            elif model.default is None:
                add(MIGRATIONS_ONLY, "default", table, name, f"default {migration.default} on {where}")
            else:
                add(
                    DIFFERENT,
                    "default",
                    table,
                    name,
                    f"default of {where} is {model.default} in the models but {migration.default} after the migrations",
                )


def _constraints_and_indexes(migrated: Schema, modelled: Schema, common: set[str], add: Add) -> None:
    model_cons = {k: v for k, v in modelled.constraints.items() if k[0] in common}
    migration_cons = {k: v for k, v in migrated.constraints.items() if k[0] in common}
    model_idx = {k: v for k, v in modelled.indexes.items() if k[0] in common}
    migration_idx = {k: v for k, v in migrated.indexes.items() if k[0] in common}
    only_model_cons = model_cons.keys() - migration_cons.keys()
    only_migration_cons = migration_cons.keys() - model_cons.keys()
    only_model_idx = model_idx.keys() - migration_idx.keys()
    only_migration_idx = migration_idx.keys() - model_idx.keys()
    # a UNIQUE constraint on one side and a plain unique index on the same columns on the other
    for cons, idx in ((only_model_cons, only_migration_idx), (only_migration_cons, only_model_idx)):
        for table, definition in sorted(cons):
            as_index = _unique_as_index(definition)
            if as_index is not None and (table, as_index) in idx:
                cons.discard((table, definition))
                idx.discard((table, as_index))
    for code, keys, names in (
        (MODELS_ONLY, only_model_cons, model_cons),
        (MIGRATIONS_ONLY, only_migration_cons, migration_cons),
    ):
        for table, definition in sorted(keys):
            name = names[(table, definition)]
            what = f"{_constraint_kind(definition)} {name} on {_shown(table)} ({definition})"
            add(code, "constraint", table, name, what)
    for code, keys, names in (
        (MODELS_ONLY, only_model_idx, model_idx),
        (MIGRATIONS_ONLY, only_migration_idx, migration_idx),
    ):
        for table, definition in sorted(keys):
            name = names[(table, definition)]
            unique = definition.startswith("UNIQUE ")
            what = f"{'unique index' if unique else 'index'} {name} on {_shown(table)} ({definition.removeprefix('UNIQUE ')})"
            add(code, "index", table, name, what)


def _enums(migrated: Schema, modelled: Schema, ignored: Callable[[str], bool], add: Add) -> None:
    for name in sorted(modelled.enums.keys() | migrated.enums.keys()):
        if ignored(name):
            continue
        model, migration = modelled.enums.get(name), migrated.enums.get(name)
        shown = _shown(name)
        if migration is None and model is not None:
            add(MODELS_ONLY, "enum", name, "", f"enum type {shown} ({', '.join(model)})")
        elif model is None and migration is not None:
            add(MIGRATIONS_ONLY, "enum", name, "", f"enum type {shown} ({', '.join(migration)})")
        elif model is not None and migration is not None:
            for value in model:
                if value not in migration:
                    add(MODELS_ONLY, "enum", name, value, f"value {value!r} of enum type {shown}")
            for value in migration:
                if value not in model:
                    add(MIGRATIONS_ONLY, "enum", name, value, f"value {value!r} of enum type {shown}")
            common = [v for v in model if v in migration]
            if common != [v for v in migration if v in model]:
                add(
                    DIFFERENT,
                    "enum",
                    name,
                    "",
                    f"enum type {shown} orders its values {', '.join(common)} in the models but "
                    f"{', '.join(v for v in migration if v in model)} after the migrations (comparisons and ORDER BY follow it)",
                )

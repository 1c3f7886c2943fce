"""Schema snapshots of a MySQL/MariaDB database from ``information_schema``.

The same format as the PostgreSQL snapshots (:mod:`headcheck.db.snapshot`): a category (tables,
columns, constraints, indexes, functions, triggers) maps to the sorted lines describing every
object of the connection's current database (``DATABASE()``; MySQL's schema is a database), so
:func:`headcheck.db.snapshot.diff` and ``diff_lines`` and the report work unchanged. Alembic's
version table is left out, as there.

Flat SELECTs, the lines assembled here: MariaDB runs a correlated subquery on ``information_schema``
once per outer row (seconds at 200 tables), while each flat query filtered on ``TABLE_SCHEMA`` reads
only the current database (milliseconds). The queries contain no ``%`` so they run unchanged
through any DB-API paramstyle, and nothing but SELECTs: a snapshot inside a migration changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["CATEGORIES", "take"]

Snapshot = dict[str, tuple[str, ...]]
Execute = Callable[[str], Iterable[Sequence[Any]]]  # SQL -> rows

# the categories, in the order of headcheck.db.snapshot (which sorts differences by it)
CATEGORIES = ("tables", "columns", "constraints", "indexes", "functions", "triggers")

_HERE = "TABLE_SCHEMA = DATABASE()"
_KINDS = {"BASE TABLE": "table", "VIEW": "view", "SEQUENCE": "sequence", "SYSTEM VERSIONED": "system versioned table"}

_TABLES = f"SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE {_HERE}"
_VIEWS = f"SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION FROM information_schema.VIEWS WHERE {_HERE}"
_COLUMNS = (
    "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, GENERATION_EXPRESSION,"
    f" COLLATION_NAME FROM information_schema.COLUMNS WHERE {_HERE}"
)
_STATISTICS = (
    "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE,"
    f" INDEX_COMMENT FROM information_schema.STATISTICS WHERE {_HERE}"
)
_CONSTRAINTS = (
    f"SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE FROM information_schema.TABLE_CONSTRAINTS WHERE {_HERE}"
)
_KEY_COLUMNS = (
    "SELECT TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION, COLUMN_NAME, REFERENCED_TABLE_SCHEMA,"
    f" REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE {_HERE}"
)
_RULES = (
    "SELECT TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS"
    " WHERE CONSTRAINT_SCHEMA = DATABASE()"
)
_CHECKS = (
    "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
    " WHERE CONSTRAINT_SCHEMA = DATABASE()"
)
_ROUTINES = (
    "SELECT ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, ROUTINE_DEFINITION, IS_DETERMINISTIC, SQL_DATA_ACCESS,"
    " SECURITY_TYPE, SPECIFIC_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()"
)
_PARAMETERS = (
    "SELECT SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER"
    " FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = DATABASE() AND ORDINAL_POSITION > 0"
)
_TRIGGERS = (
    "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_ORIENTATION, ACTION_STATEMENT"
    " FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)


def _md5(*parts: Any) -> str:
    return hashlib.md5(
        " ".join("" if p is None else _text(p) for p in parts).encode(), usedforsecurity=False
    ).hexdigest()


def _words(*parts: Any) -> str:
    return " ".join(_text(p) for p in parts if p is not None and p != "")


def take(execute: Execute, version_table: str = "alembic_version", *, keep_plan: bool = False) -> Snapshot:
    """Read the current database's schema through ``execute`` (the migration's own connection, or a
    fresh one). ``keep_plan`` is accepted for the PostgreSQL snapshot's signature; there is nothing
    to keep here."""
    del keep_plan
    rows = list(execute("SELECT DATABASE()"))
    schema = _text(rows[0][0]) if rows and rows[0][0] is not None else ""

    def rows_of(sql: str) -> list[list[Any]]:
        return [[_text(v) if isinstance(v, bytes | bytearray) else v for v in row] for row in execute(sql)]

    def own(table: Any) -> bool:
        return _text(table) != version_table

    out: dict[str, list[str]] = {name: [] for name in CATEGORIES}
    views = {name: (definition, check) for name, definition, check in rows_of(_VIEWS)}
    for name, kind, engine, collation in rows_of(_TABLES):
        if not own(name):
            continue
        label = _KINDS.get(kind, str(kind).lower())
        if kind == "VIEW":
            out["tables"].append(_words(label, f"{schema}.{name}", _md5(*views.get(name, ("", "")))))
        else:
            out["tables"].append(_words(label, f"{schema}.{name}", engine, collation))
    for table, column, ctype, nullable, default, extra, generated, collation in rows_of(_COLUMNS):
        if own(table):
            out["columns"].append(
                _words(
                    f"{schema}.{table}.{column}",
                    ctype,
                    "NOT NULL" if nullable == "NO" else None,
                    f"DEFAULT {default}" if default is not None and default != "NULL" else None,
                    extra,
                    f"AS ({generated})" if generated else None,
                    f"COLLATE {collation}" if collation else None,
                )
            )
    index_parts: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    index_info: dict[tuple[str, str], tuple[bool, str, str]] = {}
    for table, index, non_unique, seq, column, sub_part, order, itype, comment in rows_of(_STATISTICS):
        if own(table):
            part = (
                f"{column or '?'}"
                + (f"({sub_part})" if sub_part is not None else "")
                + (" DESC" if order == "D" else "")
            )
            index_parts[(table, index)].append((int(seq), part))
            index_info[(table, index)] = (int(non_unique) == 0, str(itype), _text(comment or ""))
    for (table, index), parts in index_parts.items():
        unique, itype, comment = index_info[(table, index)]
        columns = ", ".join(part for _, part in sorted(parts))
        out["indexes"].append(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {index} ON {schema}.{table} USING {itype} ({columns})"
            + (f" COMMENT {comment}" if comment else "")
        )
    key_columns: dict[tuple[str, str], list[tuple[int, str, str | None, str | None, str | None]]] = defaultdict(list)
    for table, name, position, column, ref_schema, ref_table, ref_column in rows_of(_KEY_COLUMNS):
        key_columns[(table, name)].append((int(position), column, ref_schema, ref_table, ref_column))
    rules = {(table, name): (update, delete) for table, name, update, delete in rows_of(_RULES)}
    for table, name, ctype in rows_of(_CONSTRAINTS):
        if not own(table) or ctype == "CHECK":
            continue
        keys = sorted(key_columns.get((table, name), []), key=lambda key: key[0])
        line = f"{schema}.{table} {name} {ctype} ({', '.join(k[1] for k in keys)})"
        if ctype == "FOREIGN KEY" and keys:
            referenced = ", ".join(str(k[4]) for k in keys)
            update, delete = rules.get((table, name), ("?", "?"))
            line += f" REFERENCES {keys[0][2]}.{keys[0][3]} ({referenced}) ON UPDATE {update} ON DELETE {delete}"
        out["constraints"].append(line)
    for table, name, clause in rows_of(_CHECKS):
        if own(table):
            out["constraints"].append(f"{schema}.{table} {name} CHECK ({clause})")
    parameters: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for specific, rtype, position, mode, pname, dtd in rows_of(_PARAMETERS):
        parameters[(specific, rtype)].append((int(position), _words(mode, pname, dtd)))
    for name, rtype, dtd, definition, deterministic, access, security, specific in rows_of(_ROUTINES):
        params = ", ".join(p for _, p in sorted(parameters.get((specific, rtype), [])))
        out["functions"].append(
            _words(
                f"{schema}.{name}({params})",
                rtype,
                f"returns {dtd}" if dtd and rtype == "FUNCTION" else None,
                _md5(definition, deterministic, access, security),
            )
        )
    for name, timing, event, table, orientation, statement in rows_of(_TRIGGERS):
        out["triggers"].append(
            f"CREATE TRIGGER {name} {timing} {event} ON {schema}.{table} FOR EACH {orientation} {_md5(statement)}"
        )
    return {name: tuple(sorted(out[name])) for name in CATEGORIES}

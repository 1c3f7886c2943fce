"""Static twins of the database proof's lock rules: mistakes visible in a revision's Python itself.

- HC611 ``op.create_index`` on a table the revision did not create, without
  ``postgresql_concurrently=True``;
- HC612 ``postgresql_concurrently=True`` or ``CREATE/DROP INDEX CONCURRENTLY`` outside
  ``with op.get_context().autocommit_block():`` (PostgreSQL refuses it in a transaction);
- HC613 a ``downgrade()`` that only passes while ``upgrade()`` calls ``op.*``.

Standard library only, nothing imported from the checked repository. Cost: the file's bytes are
read again and matched against two byte patterns; only files that can hold one of these
mistakes (an index call, CONCURRENTLY, a ``pass``-only downgrade) are parsed, once. The
graph verdict never depends on these warnings. ``# headcheck: ignore[HC611]`` comments apply.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from headcheck.inline_ignore import ignores_in
from headcheck.scan import FileIssue, source_encoding

__all__ = ["body_issues", "issues_in_source"]

_CANDIDATE = re.compile(rb"create_index|concurrently|CONCURRENTLY")
_PASS_DOWNGRADE = re.compile(rb"def\s+downgrade\s*\([^)]*\)[^:\n]*:\s*(?:(?:#[^\n]*)?\n\s*)*pass\b")
_CONCURRENT_SQL = re.compile(
    r"\b(CREATE|DROP)\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b|\bREINDEX\b.*\bCONCURRENTLY\b", re.I
)


def body_issues(path: Path) -> list[FileIssue]:
    """The HC611-HC613 issues of one revision file (none when it cannot be read or parsed)."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if _CANDIDATE.search(data) is None and _PASS_DOWNGRADE.search(data) is None:
        return []
    try:
        source = data.decode(source_encoding(data))
    except (LookupError, UnicodeDecodeError):
        return []
    return issues_in_source(source)


def issues_in_source(source: str) -> list[FileIssue]:
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    functions = {stmt.name: stmt for stmt in module.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))}
    found: list[FileIssue] = []
    upgrade = functions.get("upgrade")
    for function in (upgrade, functions.get("downgrade")):
        if function is not None:
            found += _index_issues(function, created=_created_tables(function))
    downgrade = functions.get("downgrade")
    if upgrade is not None and downgrade is not None and _only_pass(downgrade) and _calls_op(upgrade):
        found.append(
            FileIssue(
                "HC613",
                "downgrade() only passes while upgrade() changes the schema: a rollback silently does nothing",
                downgrade.lineno,
            )
        )
    ignores = ignores_in(source)
    return [issue for issue in found if not ignores.ignored(issue.code, issue.line)]


def _op_call(node: ast.AST, *names: str) -> bool:
    """``op.<name>(...)`` (or ``batch_op``/any ``*.name`` for ``execute``)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "op"
    )


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def _string(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _created_tables(function: ast.AST) -> set[str]:
    created: set[str] = set()
    for node in ast.walk(function):
        if _op_call(node, "create_table") and isinstance(node, ast.Call):
            name = _string(_argument(node, 0, "table_name"))
            if name is not None:
                created.add(name)
    return created


def _concurrently(call: ast.Call) -> bool:
    return any(
        kw.arg == "postgresql_concurrently" and isinstance(kw.value, ast.Constant) and kw.value.value is True
        for kw in call.keywords
    )


def _is_autocommit_block(item: ast.withitem) -> bool:
    expr = item.context_expr
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "autocommit_block"


def _index_issues(function: ast.AST, created: set[str]) -> list[FileIssue]:
    found: list[FileIssue] = []

    def visit(node: ast.AST, in_autocommit: bool) -> None:
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(_is_autocommit_block(i) for i in node.items):
            in_autocommit = True
        if isinstance(node, ast.Call):
            concurrent = False
            if _op_call(node, "create_index", "drop_index"):
                concurrent = _concurrently(node)
                table = _string(_argument(node, 1, "table_name"))
                is_create = isinstance(node.func, ast.Attribute) and node.func.attr == "create_index"
                if is_create and not concurrent and table is not None and table not in created:
                    found.append(
                        FileIssue(
                            "HC611",
                            f"op.create_index on table {table}, which this revision did not create, without "
                            "postgresql_concurrently=True: writes to the table block while the index builds",
                            node.lineno,
                        )
                    )
            elif _op_call(node, "execute"):
                sql = _string(_argument(node, 0, "sqltext"))
                if sql is None and node.args and isinstance(node.args[0], ast.Call):
                    inner = node.args[0]  # op.execute(sa.text("..."))
                    sql = _string(inner.args[0]) if inner.args else None
                concurrent = sql is not None and _CONCURRENT_SQL.search(sql) is not None
            if concurrent and not in_autocommit:
                found.append(
                    FileIssue(
                        "HC612",
                        "CONCURRENTLY outside `with op.get_context().autocommit_block():`: PostgreSQL refuses it "
                        "inside the migration's transaction",
                        node.lineno,
                    )
                )
        for child in ast.iter_child_nodes(node):
            visit(child, in_autocommit)

    visit(function, False)
    return found


def _only_pass(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    return bool(body) and all(isinstance(stmt, ast.Pass) for stmt in body)


def _calls_op(function: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "op"
        for node in ast.walk(function)
    )

"""Read revision files into records with ``ast``, never importing or executing them.

Which files are read is ``headcheck.version_files``; turning a record into what Alembic's
``Revision`` holds is ``headcheck.records``. Alembic *executes* each file and reads module
attributes; headcheck reads the last top-level literal binding instead and says "cannot verify
statically" for anything else.
"""

from __future__ import annotations

import ast
import bisect
import itertools
import os
import re
import sys
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.fs import NotRegularFile, is_dir, read_regular_stat
from headcheck.limits import TEXT_LIMIT, shorten
from headcheck.source import FileIssue, source_encoding

__all__ = [
    "FileIssue",
    "RevisionFile",
    "Scan",
    "Value",
    "parse_revision",
    "parse_revisions",
    "prepare",
    "read_revision",
    "read_source",
    "read_source_stat",
]

ATTRIBUTES = ("revision", "down_revision", "branch_labels", "depends_on")
# [ \t], never \s, before the keyword: \s* would rescan every following blank line (quadratic).
_ID_SEPARATORS = re.compile(r"[\s,]+")
_REVISES = re.compile(r"^[ \t]*Revises:[ \t]*(.*)$", re.MULTILINE)
_REVISION_GUESS = re.compile(rb"""^revision[ \t]*(?::[^=\n]*)?=[ \t]*['"]([^'"\n]+)['"]""", re.MULTILINE)
_DYNAMIC = object()
_OWN_SCOPE = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_MENTION = re.compile(r"\b(?:revision|down_revision|branch_labels|depends_on)\b")


class Value(NamedTuple):
    """The last top-level binding of one attribute."""

    value: Any  # the literal, or None when not literal
    line: int
    literal: bool  # False: computed, imported or conditional; cannot verify statically
    text: str  # source text of the expression
    # Not literal: a name/attribute reference to resolve (headcheck.constants), or, once
    # resolution failed, ("why", reason).
    ref: Any = None


class RevisionFile(NamedTuple):
    path: Path
    values: dict[str, Value]
    revises_doc: tuple[str, ...] | None  # ids on the docstring's "Revises:" line
    revises_line: int | None
    has_upgrade: bool
    issues: tuple[FileIssue, ...]  # problems that stop Alembic from loading this file
    guessed_id: str | None  # id recovered by regex from a file that does not parse
    names: dict[str, Any] | None = None  # module-level bindings, kept when a value needs resolving
    warnings: tuple[FileIssue, ...] = ()  # static twins of the lock rules (HC611-HC613): never block loading


class Scan(NamedTuple):
    files: tuple[RevisionFile, ...]
    twice: tuple[tuple[Path, Path], ...]  # (skipped path, first path): Alembic's "loaded twice"
    ignored_dirs: tuple[Path, ...]  # subfolders with .py files skipped (recursion off)
    missing: tuple[Path, ...]  # version locations that do not exist


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):  # the common case, as literal_eval would answer it
        return node.value
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _DYNAMIC


class _Source:
    """Source text, split into lines once: segments cost the size of the segment only.

    (``ast.get_source_segment`` splits the whole file on every call: quadratic in the file.)
    """

    def __init__(self, text: str) -> None:
        if "\r" in text:  # ast counts \r\n, \r and \n as line breaks (not form feeds)
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.text = text
        self._lines: list[str] | None = None
        self._mentions: list[int] | None = None

    def mentions(self, node: ast.stmt) -> bool:
        """Whether an attribute name (``revision``, ...) occurs in the node's lines at all."""
        if not self.text.isascii():
            return True  # identifiers are NFKC-normalised: a text search could miss one
        if self._mentions is None:
            self._mentions = []
            line, last = 1, 0
            for match in _MENTION.finditer(self.text):
                line += self.text.count("\n", last, match.start())
                last = match.start()
                self._mentions.append(line)
        first = bisect.bisect_left(self._mentions, node.lineno)
        return first < len(self._mentions) and self._mentions[first] <= (node.end_lineno or node.lineno)

    def _line(self, number: int) -> str:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines[number - 1] if 1 <= number <= len(self._lines) else ""

    def segment(self, node: ast.AST) -> str:
        """The node's source, cut to one bounded line ("..." when there is more)."""
        lineno = getattr(node, "lineno", None)
        if lineno is None:
            return ""
        line = self._line(lineno)
        col = getattr(node, "col_offset", 0) or 0
        end_line = getattr(node, "end_lineno", lineno)
        end_col = getattr(node, "end_col_offset", None)
        # Offsets are UTF-8 byte offsets; only the bounded head of the line is ever decoded.
        window = line.encode("utf-8", "surrogatepass")[col:]
        more = end_line != lineno
        if not more and end_col is not None:
            window = window[: max(end_col - col, 0)]
        head = window[: TEXT_LIMIT * 4].decode("utf-8", "replace")
        if more or len(window) > TEXT_LIMIT * 4:
            head += "..."
        return shorten(head)


def _bind(values: dict[str, Value], target: ast.expr, value: ast.expr | None, source: _Source, dynamic: bool) -> None:
    """Record ``target = value`` for the attributes we track (tuple unpacking included)."""
    if isinstance(target, ast.Name):
        if target.id not in ATTRIBUTES:
            return
        literal = _DYNAMIC if dynamic or value is None else _literal(value)
        line = value.lineno if value is not None else target.lineno
        if literal is _DYNAMIC:
            text = source.segment(value) if value is not None else ""
            from headcheck.constants import expression_ref  # (only a non-literal needs it)

            ref = expression_ref(value) if value is not None and not dynamic else None
            values[target.id] = Value(None, line, False, text, ref)
        else:
            values[target.id] = Value(literal, line, True, shorten(repr(literal)))
    elif isinstance(target, (ast.Tuple, ast.List)):
        elements = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
        starred = any(isinstance(t, ast.Starred) for t in target.elts)
        if elements is not None and len(elements) == len(target.elts) and not starred:
            for sub_target, sub_value in zip(target.elts, elements, strict=True):
                _bind(values, sub_target, sub_value, source, dynamic)
        else:
            for sub_target in target.elts:
                inner = sub_target.value if isinstance(sub_target, ast.Starred) else sub_target
                _bind(values, inner, value, source, True)


def _nested_bindings(stmt: ast.stmt) -> list[ast.Name]:
    """Names bound inside compound statements (if/try/with/for/while) at module level.

    Bodies of functions, classes and lambdas bind their own scope and are skipped. Returned in
    source order (the last one is the binding a reader sees last).
    """
    names: list[ast.Name] = []
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name):
            if node.id in ATTRIBUTES and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.append(node)
            continue
        if node is not stmt and isinstance(node, _OWN_SCOPE):
            continue
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                todo.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                todo.append(value)
    names.sort(key=lambda name: (name.lineno, name.col_offset))
    return names


def _deleted_names(targets: list[ast.expr]) -> list[str]:
    names: list[str] = []
    for target in targets:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            names.extend(_deleted_names(target.elts))
    return names


def _walk_module(module: ast.Module, source: _Source) -> tuple[dict[str, Value], bool]:
    values: dict[str, Value] = {}
    has_upgrade = False
    for stmt in module.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _bind(values, target, stmt.value, source, False)
        elif isinstance(stmt, ast.AnnAssign):
            # A bare annotation (``down_revision: str``) binds nothing, as at run time.
            if stmt.value is not None:
                _bind(values, stmt.target, stmt.value, source, False)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name == "upgrade":
                has_upgrade = True
            if stmt.name in ATTRIBUTES:
                values[stmt.name] = Value(None, stmt.lineno, False, f"def {stmt.name}")
        elif isinstance(stmt, ast.Delete):
            # ``del revision`` at module level removes the attribute, as if never bound.
            for name in _deleted_names(stmt.targets):
                values.pop(name, None)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound in ATTRIBUTES:
                    values[bound] = Value(None, stmt.lineno, False, f"import {alias.name}")
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring or a bare constant binds nothing
        elif isinstance(stmt, (ast.Pass, ast.Global, ast.Nonlocal)):
            continue
        elif source.mentions(stmt):
            for bound_name in _nested_bindings(stmt):
                values[bound_name.id] = Value(None, bound_name.lineno, False, source.segment(stmt))
    return values, has_upgrade


def _revises_from_docstring(module: ast.Module) -> tuple[tuple[str, ...] | None, int | None]:
    if not module.body:
        return None, None
    first = module.body[0]
    if not (
        isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    ):
        return None, None
    return _revises(first.value.value, first.lineno)


def _revises(doc: str, first_line: int) -> tuple[tuple[str, ...] | None, int | None]:
    """The ids on the module docstring's ``Revises:`` line, and that line's number."""
    match = _REVISES.search(doc)
    if match is None:
        return None, None
    ids = tuple(part for part in _ID_SEPARATORS.split(match.group(1).strip()) if part and part != "None")
    line = first_line + doc.count("\n", 0, match.start(1))
    return ids, line


_FAST_SET = frozenset((*ATTRIBUTES, "__doc__"))  # the names the bytecode reader locates
_new = tuple.__new__
# ``^`` would be tried at every byte; a leading newline is searched for fast (line 1: .match).
_COMPOUND = re.compile(rb"(?:if|while|for|with|try|match|async)\b")
_COMPOUND_LINE = re.compile(rb"\n(?:if|while|for|with|try|match|async)\b")
# Reading the header from the compiled module instead of parsing the file a second time halves
# the cold cost. Bytecode differs between Python versions: only the version the parity and fuzz
# tests ran on takes this path; any other uses the syntax tree.
FAST_PYTHON = sys.version_info[:2] == (3, 11)


class _Ops(NamedTuple):
    """Opcode numbers of the running Python (read once)."""

    jump_table: bytes  # 256 bytes: 1 for a jump opcode
    load_const: int
    build_list: int
    list_extend: int
    extended_arg: int
    store_name: int
    store_global: int
    delete_name: int
    delete_global: int


_OPS: _Ops | None = None


def _ops() -> _Ops:
    global _OPS
    if _OPS is None:
        import opcode

        op = opcode.opmap
        jumps = set(opcode.hasjrel) | set(opcode.hasjabs)
        _OPS = _Ops(
            bytes(1 if n in jumps else 0 for n in range(256)),
            op["LOAD_CONST"],
            op["BUILD_LIST"],
            op["LIST_EXTEND"],
            op["EXTENDED_ARG"],
            op["STORE_NAME"],
            op["STORE_GLOBAL"],
            op["DELETE_NAME"],
            op["DELETE_GLOBAL"],
        )
    return _OPS


def from_code(code: Any, data: bytes) -> tuple[dict[str, Value], bool, tuple[str, int] | None] | None:
    """The header values from a module's straight-line bytecode, or None (then: the syntax tree).

    Taken only when the module-level code has no jumps, no exception handlers, no comprehension
    or lambda, no compound statement, and every binding of a tracked name is a constant (or a
    list of constants) loaded and stored on one line that reads ``name [: annotation] =
    <literal>`` and nothing else, the literal being what ``ast.literal_eval`` makes the very
    same value of. Constant folding (``'a' + 'b'``, and ``'a' if True else 'b'``, which leaves
    only the load of ``'a'``) is not a literal for the syntax-tree path, so it must not be one
    here. Instructions are located in the raw code (opcode bytes; 0 is an inline cache); lines
    come from the line table.
    """
    # The compiler drops `if False:` blocks and `if True:` tests without a trace; the syntax
    # tree calls bindings under them conditional. Compound statements at module level start in
    # column 0 (a line inside a string may match too: that only costs the fast path).
    if code.co_exceptiontable or _COMPOUND.match(data) or _COMPOUND_LINE.search(data):
        return None
    code_type = type(code)
    has_upgrade = False
    for const in code.co_consts:
        if type(const) is code_type:
            if const.co_name[:1] == "<":
                return None  # a comprehension or lambda: bindings in a code object of its own
            # A function's code among the module's constants is a top-level def (a method's is
            # in its class body's), decorated or not: what the syntax tree counts.
            has_upgrade = has_upgrade or const.co_name == "upgrade"
    names = code.co_names
    if len(names) > 256:
        return None  # a store could need EXTENDED_ARG for its name
    ops = _ops()
    raw = code.co_code
    opcodes = raw[0::2]
    if 1 in opcodes.translate(ops.jump_table) or ops.store_global in opcodes:
        return None  # (`global x` at module level: rare, the syntax tree handles it)
    if ops.delete_name in opcodes or ops.delete_global in opcodes:
        return None  # `del` at module level: the syntax tree handles it
    store_name = ops.store_name
    stores: list[tuple[int, str]] = []  # (code unit, name) of every store of a tracked name
    at = opcodes.find(store_name)
    while at >= 0:  # (opcodes[k] is the opcode of code unit k; a name's index fits its one byte)
        name = names[raw[2 * at + 1]]
        if name in _FAST_SET:
            stores.append((at, name))
        at = opcodes.find(store_name, at + 1)
    consts = code.co_consts
    extended_arg = ops.extended_arg
    load_const = ops.load_const
    line_offsets: list[int] | None = None  # from co_lnotab: where each line starts, in code bytes
    line_numbers: list[int] = []
    text_lines: list[bytes] | None = None
    values: dict[str, Value] = {}
    doc: tuple[str, int] | None = None
    for unit, name in stores:
        before = unit - 1  # the instruction before (inline caches, opcode 0, skipped)
        while before >= 0 and opcodes[before] == 0:
            before -= 1
        if before < 0:
            return None
        if opcodes[before] == load_const and (before == 0 or opcodes[before - 1] != extended_arg):
            value, value_unit = consts[raw[2 * before + 1]], before  # the common case, inline
        else:
            found = _constant_at(raw, opcodes, before, consts, ops)
            if found is None:
                return None
            value, value_unit = found
        if name == "__doc__":
            # A docstring is the module's first store, located at the string; ``__doc__ = "..."``
            # stores at the name.
            if opcodes.find(store_name) != unit or not isinstance(value, str):
                return None
            positions = list(itertools.islice(code.co_positions(), unit + 1))
            where = positions[value_unit]
            if where[0] is None or positions[unit] != where:
                return None
            doc = (value, where[0])
            continue
        if line_offsets is None:
            line_offsets, line_numbers = _line_table(code)
        line = line_numbers[bisect.bisect_right(line_offsets, 2 * value_unit)]
        if line_numbers[bisect.bisect_right(line_offsets, 2 * unit)] != line:
            return None
        if text_lines is None:
            text_lines = _physical_lines(data)
            if text_lines is None:
                return None
        if not 0 < line <= len(text_lines):
            return None
        bound = _statement_value(text_lines, line, name, value)
        if bound is None:
            return None
        values[name] = bound
    return values, has_upgrade, doc


def _physical_lines(data: bytes) -> list[bytes] | None:
    """The lines of a UTF-8 file as the compiler numbers them (\\n or \\r\\n), or None."""
    encoding = source_encoding(data)
    if encoding == "utf-8-sig":
        data = data[3:]
    elif encoding != "utf-8":
        return None  # a PEP 263 cookie: the syntax tree decodes it
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n"):
            return None  # a lone \r is a line break too
        data = data.replace(b"\r\n", b"\n")
    return data.split(b"\n")


def _line_table(code: Any) -> tuple[list[int], list[int]]:
    """The code offsets where the line changes, and the lines: the line of offset ``x`` is
    ``numbers[bisect_right(offsets, x)]``. From ``co_lnotab`` (pairs of an offset increment and a
    signed line increment, the line applying from there on): a fraction of ``co_positions()``."""
    table = code.co_lnotab
    offsets = list(itertools.accumulate(table[0::2]))
    numbers = list(itertools.accumulate(array("b", table[1::2]), initial=code.co_firstlineno))
    return offsets, numbers


_MAX_LITERAL_LINES = 100
_NAME_BYTES = {name: name.encode() for name in ATTRIBUTES}
# After the name: an annotation without quotes or "=", then the one "=" of the statement.
_ASSIGNED = re.compile(rb"[ \t]*(?::[^=\n'\"]+)?=(.*)", re.DOTALL)


def _statement_value(lines: list[bytes], line: int, name: str, value: Any) -> Value | None:
    """The binding, when line ``line`` is exactly ``name [: annotation] = <literal>`` (a comment
    may follow; a bracketed literal may go on over the next lines, to a line starting with its
    closing bracket) and the literal is ``value``; else None.

    The line holds both the load of the constant and the store of ``name``, and nothing but this
    statement: so it is the assignment itself (inside brackets ``name = ...`` is a keyword
    argument or a default, never a store of ``name``; inside a string no instruction has a line),
    and the literal, which ``ast.literal_eval`` reads whole, is all of its value.
    """
    text = lines[line - 1]
    if not text.startswith(_NAME_BYTES[name]):
        return None
    match = _ASSIGNED.fullmatch(text, len(name))
    if match is None:
        return None
    literal = match.group(1).strip(b" \t")
    if literal in (b"(", b"["):  # a tuple or list written one item a line, as black and ruff do
        closer = b")" if literal == b"(" else b"]"
        for end in range(line, min(line + _MAX_LITERAL_LINES, len(lines))):
            if lines[end].lstrip(b" \t").startswith(closer):
                literal = b"\n".join([literal, *lines[line : end + 1]])
                break
        else:
            return None
    try:
        written_text = literal.decode("utf-8")
    except UnicodeDecodeError:
        return None
    shown = repr(value)
    if written_text == shown and (value is None or type(value) is str):
        written = value  # the id as Python prints it (the usual file): nothing to evaluate
    else:
        written = _written_literal(written_text, value)
        if written is _DYNAMIC:
            return None
        shown = repr(written)
    return _new(Value, (written, line, True, shorten(shown), None))


def _previous(opcodes: bytes, unit: int) -> int | None:
    """The code unit of the instruction before ``unit`` (inline caches, opcode 0, skipped)."""
    unit -= 1
    while unit >= 0 and opcodes[unit] == 0:
        unit -= 1
    return unit if unit >= 0 else None


def _constant_at(raw: bytes, opcodes: bytes, unit: int, consts: tuple[Any, ...], ops: _Ops) -> tuple[Any, int] | None:
    """The constant the instruction at ``unit`` leaves (a LOAD_CONST, or a list built of them)."""
    code_op = opcodes[unit]
    before = _previous(opcodes, unit)
    if before is not None and opcodes[before] == ops.extended_arg:
        return None
    argument = raw[2 * unit + 1]
    if code_op == ops.load_const:
        return consts[argument], unit
    if code_op == ops.build_list:
        items = []
        cursor: int | None = unit
        for _ in range(argument):
            cursor = _previous(opcodes, cursor) if cursor is not None else None
            if cursor is None or opcodes[cursor] != ops.load_const:
                return None
            items.append(consts[raw[2 * cursor + 1]])
        return list(reversed(items)), unit
    if code_op == ops.list_extend and argument == 1 and before is not None:
        build = _previous(opcodes, before)
        if (
            opcodes[before] == ops.load_const
            and build is not None
            and opcodes[build] == ops.build_list
            and raw[2 * build + 1] == 0
        ):
            return list(consts[raw[2 * before + 1]]), unit
    return None


def _written_literal(text: str | None, value: Any) -> Any:
    """What ``ast.literal_eval`` makes of the source text, when it is ``value``; else _DYNAMIC."""
    if text is None:
        return _DYNAMIC
    if value is None and text == "None":
        return None
    if type(value) is str:
        if text == repr(value):  # a plain quoted string: nothing folded
            return value
        if (
            len(text) > 1
            and text[0] == '"' == text[-1]
            and text[1:-1] == value
            and '"' not in value
            and "\\" not in value
        ):
            return value  # the same, in double quotes (as black and ruff write it)
    if type(value) is tuple and all(type(item) is str for item in value) and text == repr(value):
        return value  # a merge's ('a', 'b') written as Python prints it: nothing folded
    try:
        written = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _DYNAMIC
    return written if _identical(written, value) else _DYNAMIC


def _identical(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)


def read_revision(path: Path, python: tuple[int, int] | None = None) -> RevisionFile:
    """Read and parse one file; a file that cannot be read becomes a record with an issue."""
    data = read_source(path)
    return data if isinstance(data, RevisionFile) else parse_revision(path, data, python)


def read_source(path: Path) -> bytes | RevisionFile:
    """The file's bytes, or the HC204 record saying why it cannot be read (never blocks)."""
    found = read_source_stat(path)
    return found if isinstance(found, RevisionFile) else found[0]


def read_source_stat(path: Path) -> tuple[bytes, tuple[int, ...]] | RevisionFile:
    """``read_source``, with the ``headcheck.fs.stat_key`` of the file as read."""
    try:
        return read_regular_stat(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, NotRegularFile) and not is_dir(path):
            issue = FileIssue("HC204", f"cannot read file: {reason}", None)
        elif is_dir(path):
            try:
                os.listdir(path)
            except OSError as listing:
                reason = listing.strerror or type(listing).__name__
            issue = FileIssue("HC204", f"cannot read folder: {reason}", None)
        else:
            issue = FileIssue("HC204", f"cannot read file: {reason}", None)
        return RevisionFile(path, {}, None, None, False, (issue,), None)


def _syntax_error(path: Path, data: bytes, exc: SyntaxError) -> RevisionFile:
    guess = _REVISION_GUESS.search(data)
    guessed = guess.group(1).decode("ascii", "replace") if guess else None
    detail = shorten(exc.msg) if exc.msg else "invalid syntax"
    return RevisionFile(
        path, {}, None, None, False, (FileIssue("HC201", f"syntax error: {detail}", exc.lineno),), guessed
    )


def prepare() -> None:
    """Load what parsing needs, once, before a worker process is forked (not once in each)."""
    import warnings  # noqa: F401

    from headcheck import opslint  # noqa: F401

    if FAST_PYTHON:
        _ops()


def parse_revision(path: Path, data: bytes, python: tuple[int, int] | None = None) -> RevisionFile:
    """Parse a revision file's bytes (from disk or from git); PEP 263 cookies are honoured.

    The bytes are also compiled to a code object, as Alembic's import does: about 14 kinds of
    SyntaxError (``return`` outside a function, ``def f(a, a)``, ``nonlocal`` at module level,
    ...) come from the compiler, not the parser.

    ``python``: the oldest Python the project supports. Syntax newer than that (``match``,
    parenthesised context managers, walrus, ...) is an error, as Alembic on that Python would
    fail to import the file, as far as the parser can tell (``ast.parse(feature_version=...)``).
    """
    return parse_revisions([(path, data)], python)[0]


def parse_revisions(items: Sequence[tuple[Path, bytes]], python: tuple[int, int] | None = None) -> list[RevisionFile]:
    """``parse_revision`` for many files, step by step: every file compiled, then every header
    read, then every file's HC611-HC613 prefilter. Alternating the compiler with Python code file by
    file keeps evicting the interpreter's own code and data from the CPU caches (about 15% slower)."""
    import warnings

    from headcheck.opslint import issues_in_bytes

    done: list[RevisionFile | None] = [None] * len(items)
    with warnings.catch_warnings():
        # Invalid escapes and the like only warn when Alembic imports the file.
        warnings.simplefilter("ignore")
        codes: list[Any] = [None] * len(items)
        for k, (path, data) in enumerate(items):
            try:
                # As importlib does (from the bytes: the same PEP 263 handling and nesting limits;
                # compiling the tree instead would hit Python's recursion limit on long chains).
                codes[k] = compile(data, str(path), "exec", dont_inherit=True, optimize=0)
            except SyntaxError as exc:
                done[k] = _syntax_error(path, data, exc)
            except (ValueError, MemoryError, RecursionError) as exc:
                done[k] = _cannot_parse(path, exc)
        headers: list[tuple[dict[str, Value], bool, tuple[str, int] | None] | None] = [None] * len(items)
        if python is None and FAST_PYTHON:
            for k, code in enumerate(codes):
                if code is not None:
                    # Whatever the bytecode reader cannot take, the syntax tree decides. (Not
                    # contextlib.suppress: a context manager object for every file.)
                    try:  # noqa: SIM105
                        headers[k] = from_code(code, items[k][1])
                    except (ValueError, MemoryError, RecursionError, IndexError):
                        pass
        del codes
        for k, (path, data) in enumerate(items):
            if done[k] is None and headers[k] is None:
                done[k] = _from_tree(path, data, python)
        for k, header in enumerate(headers):
            if header is not None:
                path, data = items[k]
                values, has_upgrade, doc = header
                revises, revises_line = _revises(*doc) if doc is not None else (None, None)
                found = issues_in_bytes(data, None)
                done[k] = _new(  # (the named tuple without its Python-level __new__)
                    RevisionFile,
                    (path, values, revises, revises_line, has_upgrade, (), None, None, tuple(found) if found else ()),
                )
    return done  # type: ignore[return-value]  # every slot is filled above


def _cannot_parse(path: Path, exc: BaseException) -> RevisionFile:
    reason = shorten(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
    return RevisionFile(path, {}, None, None, False, (FileIssue("HC201", f"cannot parse: {reason}", None),), None)


def _from_tree(path: Path, data: bytes, python: tuple[int, int] | None) -> RevisionFile:
    """The header from the syntax tree (any Python, any shape the bytecode reader hands back)."""
    try:
        module = ast.parse(data, filename=str(path), feature_version=python)
    except SyntaxError as exc:
        if python is not None:
            exc.msg = f"{exc.msg} (the project supports Python {python[0]}.{python[1]})"
        return _syntax_error(path, data, exc)
    except (ValueError, MemoryError, RecursionError) as exc:
        return _cannot_parse(path, exc)
    try:
        text = data.decode(source_encoding(data))
    except (LookupError, UnicodeDecodeError):
        text = data.decode("utf-8", "replace")
    values, has_upgrade = _walk_module(module, _Source(text))
    revises, revises_line = _revises_from_docstring(module)
    names = None
    if any(value.ref is not None for value in values.values()):
        from headcheck.constants import module_bindings

        names = module_bindings(module)
    return RevisionFile(path, values, revises, revises_line, has_upgrade, (), None, names, _ops_warnings(data, module))


def _ops_warnings(data: bytes, module: ast.Module | None) -> tuple[FileIssue, ...]:
    """HC611-HC613 (headcheck.opslint), computed once per file content in the parse step: cached
    with the rest of the record and parsed on both cores."""
    from headcheck.opslint import issues_in_bytes

    return tuple(issues_in_bytes(data, module))

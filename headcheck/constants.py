"""Resolve revision attributes bound to module constants, statically, without importing anything.

OpenStack-style histories write ``branch_labels = (migration.EXPAND_BRANCH,)`` after
``from glance.db import migration``. Alembic imports the module; headcheck locates its source
instead (the project's own tree, ``prepend_sys_path``, then the running interpreter's
``sys.path``), reads its module-level bindings with ``ast`` and follows names, attributes,
``import``/``from ... import`` (relative ones inside packages) and tuples/lists of those a few
levels deep. Nothing is executed. A binding that is conditional or computed, a cycle, or a
module that cannot be found stays unresolved, with the reason. ``[tool.headcheck] constants``
names values that cannot be found statically (``{"pkg.mod.NAME" = "value"}``).

Expressions are kept as small marshal-able references (they are cached with the parsed file):
``("c", value)`` a literal, ``("n", name)``, ``("a", ref, attribute)``, ``("t", [refs])`` a tuple,
``("l", [refs])`` a list. Module bindings: ``("v", ref)`` an assignment, ``("i", module)`` an
``import``, ``("f", module, name, level)`` a ``from`` import, ``("x", why)`` anything else.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.fs import is_file, read_regular

__all__ = ["Resolver", "Unresolved", "expression_ref", "module_bindings"]

MAX_DEPTH = 12  # names followed through at most this many bindings
_REF_DEPTH = 16  # nesting of one expression (a.b.c.d..., tuples of tuples)
_OWN_SCOPE = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


class Unresolved(Exception):
    """Why a value cannot be known statically (one short sentence)."""


class ModuleRef(NamedTuple):
    name: str
    missing: str | None = None  # the module that could not be found, when the name is not known


def expression_ref(node: ast.expr, depth: int = 0) -> Any:
    """A reference for a constant-like expression, or None (calls, operators, subscripts...)."""
    if depth > _REF_DEPTH:
        return None
    if isinstance(node, ast.Constant):
        return ("c", node.value) if isinstance(node.value, (str, type(None), int, bool)) else None
    if isinstance(node, ast.Name):
        return ("n", node.id)
    if isinstance(node, ast.Attribute):
        base = expression_ref(node.value, depth + 1)
        return ("a", base, node.attr) if base is not None else None
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [expression_ref(item, depth + 1) for item in node.elts]
        if any(item is None for item in items):
            return None
        return ("t" if isinstance(node, ast.Tuple) else "l", items)
    return None


def _bound_names(stmt: ast.stmt) -> list[str]:
    names: list[str] = []
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                names.append(node.id)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.extend((alias.asname or alias.name).split(".")[0] for alias in node.names)
            continue
        if isinstance(node, _OWN_SCOPE):
            if node is not stmt and not isinstance(node, ast.Lambda):
                names.append(node.name)
            if node is not stmt:
                continue
        todo.extend(ast.iter_child_nodes(node))
    return names


def module_bindings(module: ast.Module) -> dict[str, Any]:
    """The last module-level binding of every name, as the module's attributes would hold them."""
    bindings: dict[str, Any] = {}
    for stmt in module.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if stmt.value is None:
                continue  # a bare annotation binds nothing
            for target in targets:
                if isinstance(target, ast.Name):
                    ref = expression_ref(stmt.value)
                    bindings[target.id] = ("v", ref) if ref is not None else ("x", f"computed (line {stmt.lineno})")
                else:
                    for name in _bound_names(ast.Expr(target)):
                        bindings[name] = ("x", f"unpacked (line {stmt.lineno})")
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    bindings[alias.asname] = ("i", alias.name)
                else:
                    bindings[alias.name.split(".")[0]] = ("i", alias.name.split(".")[0])
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name == "*":
                    continue  # unknown names stay unbound: "not bound" below
                bindings[alias.asname or alias.name] = ("f", stmt.module or "", alias.name, stmt.level)
        elif isinstance(stmt, ast.Delete):
            for name in _bound_names(stmt):
                bindings.pop(name, None)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bindings[stmt.name] = ("x", f"a {'class' if isinstance(stmt, ast.ClassDef) else 'function'}")
        else:
            for name in _bound_names(stmt):
                bindings[name] = ("x", f"bound conditionally (line {stmt.lineno})")
    return bindings


class _Scope(NamedTuple):
    bindings: Mapping[str, Any]
    module: str | None  # dotted name; None for a revision file (Alembic loads it without a package)
    package: str | None  # for relative imports
    where: str  # for messages


class Resolver:
    """Finds module sources on ``roots`` (project first, then sys.path) and follows bindings."""

    def __init__(self, roots: Sequence[Path], overrides: Mapping[str, Any]) -> None:
        self.roots = list(dict.fromkeys(roots))
        self.overrides = dict(overrides)
        self._modules: dict[str, _Scope | None] = {}
        self._active: set[tuple[str, str]] = set()

    def resolve(self, ref: Any, bindings: Mapping[str, Any], where: str) -> Any:
        """The literal value of ``ref`` in a revision file with ``bindings``. Raises Unresolved."""
        value = self._eval(ref, _Scope(bindings, None, None, where), 0)
        return self._plain(value)

    def _plain(self, value: Any) -> Any:
        if isinstance(value, ModuleRef):
            if value.missing is not None or self._find(value.name) is None:
                raise Unresolved(f"module {value.missing or value.name} was not found in the project or on sys.path")
            raise Unresolved(f"{value.name} is a module, not a value")
        if isinstance(value, (tuple, list)):
            return type(value)(self._plain(item) for item in value)
        return value

    def _eval(self, ref: Any, scope: _Scope, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise Unresolved(f"more than {MAX_DEPTH} names to follow")
        kind = ref[0]
        if kind == "c":
            return ref[1]
        if kind in ("t", "l"):
            items = [self._plain(self._eval(item, scope, depth + 1)) for item in ref[1]]
            return tuple(items) if kind == "t" else items
        if kind == "n":
            return self._name(ref[1], scope, depth + 1)
        if kind == "a":
            base = self._eval(ref[1], scope, depth + 1)
            if not isinstance(base, ModuleRef):
                raise Unresolved(f"attribute {ref[2]} of a value, not of a module")
            return self._attribute(base.name, ref[2], depth + 1)
        raise Unresolved("unsupported expression")

    def _name(self, name: str, scope: _Scope, depth: int) -> Any:
        if scope.module is not None and f"{scope.module}.{name}" in self.overrides:
            return self.overrides[f"{scope.module}.{name}"]
        binding = scope.bindings.get(name)
        if binding is None:
            raise Unresolved(f"{name} is not bound at module level in {scope.where}")
        key = (scope.where, name)
        if key in self._active:
            raise Unresolved(f"{name} refers to itself in a cycle ({scope.where})")
        self._active.add(key)
        try:
            return self._binding(name, binding, scope, depth)
        finally:
            self._active.discard(key)

    def _binding(self, name: str, binding: Any, scope: _Scope, depth: int) -> Any:
        kind = binding[0]
        if kind == "v":
            return self._eval(binding[1], scope, depth + 1)
        if kind == "x":
            raise Unresolved(f"{name} is {binding[1]} in {scope.where}")
        if kind == "i":
            return ModuleRef(binding[1])
        if kind == "f":
            _, module, attribute, level = binding
            if level:
                if scope.package is None:
                    raise Unresolved(f"relative import of {attribute} in {scope.where}, which has no package")
                parts = scope.package.split(".")
                if level - 1 > len(parts) - 1 and level - 1 >= len(parts):
                    raise Unresolved(f"relative import beyond the top-level package in {scope.where}")
                parent = ".".join(parts[: len(parts) - (level - 1)])
                module = f"{parent}.{module}" if module else parent
            return self._attribute(module, attribute, depth + 1)
        raise Unresolved(f"{name}: unsupported binding")

    def _attribute(self, module: str, attribute: str, depth: int) -> Any:
        qualified = f"{module}.{attribute}"
        if qualified in self.overrides:
            return self.overrides[qualified]
        scope = self._load(module)
        if scope is not None and attribute in scope.bindings:
            return self._name(attribute, scope, depth + 1)
        if scope is None:
            return ModuleRef(qualified, module)  # reported when used as a value (unless overridden)
        if self._find(qualified) is not None:
            return ModuleRef(qualified)  # a submodule
        raise Unresolved(f"{attribute} is not bound at module level in {scope.where}")

    def _find(self, module: str) -> tuple[Path, bool] | None:
        parts = module.split(".")
        if not all(part.isidentifier() for part in parts):
            return None
        for root in self.roots:
            base = root.joinpath(*parts)
            if is_file(base / "__init__.py"):
                return base / "__init__.py", True
            if is_file(base.with_name(base.name + ".py")):
                return base.with_name(base.name + ".py"), False
        return None

    def _load(self, module: str) -> _Scope | None:
        if module in self._modules:
            return self._modules[module]
        found = self._find(module)
        scope = None
        if found is not None:
            path, is_package = found
            try:
                tree = ast.parse(read_regular(path), filename=str(path))
            except (OSError, SyntaxError, ValueError, MemoryError, RecursionError) as exc:
                raise Unresolved(f"cannot read module {module} ({type(exc).__name__})") from None
            package = module if is_package else module.rpartition(".")[0] or None
            scope = _Scope(module_bindings(tree), module, package, f"module {module} ({path})")
        self._modules[module] = scope
        return scope

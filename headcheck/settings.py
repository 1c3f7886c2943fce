"""headcheck's own settings: ``[tool.headcheck]`` in pyproject.toml, overridden by flags."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from headcheck.alembic_options import ConfigError, load_toml
from headcheck.fs import is_dir, is_file, read_regular
from headcheck.rules import RULES

__all__ = ["Settings", "load_settings", "oldest_python", "parse_python_version"]


class Settings(NamedTuple):
    ignore: frozenset[str] = frozenset()  # rule codes never reported
    max_heads: int | None = None  # None: one head, or one per branch label
    strict: bool = False  # warnings fail the gate too
    # Values of module constants that cannot be found statically: (dotted name, value) pairs.
    constants: tuple[tuple[str, object], ...] = ()
    # The oldest Python the project supports (requires-python or --python-version), when older
    # than the one running headcheck: newer syntax in a revision file is an error.
    python: tuple[int, int] | None = None
    irreversible: tuple[str, ...] = ()  # headcheck db: revisions whose downgrade is not checked
    downgrade_floor: str | None = None  # headcheck db: no downgrade checks at or below this revision
    models_ignore: tuple[str, ...] = ()  # headcheck db: tables/types the models do not own (globs)

    def gate_severity(self, severity: str) -> str:
        """How a finding of ``severity`` counts: ``strict`` (``--strict``, the Action's
        ``fail-on: warning``) makes every warning an error that fails the gate."""
        return "error" if severity == "error" or self.strict else "warning"


def _codes(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: ignore must be a list of rule codes")
    unknown = sorted(set(value) - set(RULES))
    if unknown:
        raise ConfigError(f"{where}: unknown rule code(s): {', '.join(unknown)}")
    return frozenset(value)


def load_settings(root: Path) -> Settings:
    """Read ``[tool.headcheck]`` from ``root/pyproject.toml`` when present."""
    path = (root if is_dir(root) else root.parent) / "pyproject.toml"
    if not is_file(path):
        return Settings()
    try:
        text = read_regular(path).decode("utf-8", "replace")
    except OSError:
        return Settings()
    if "tool.headcheck" not in text and "requires-python" not in text:
        return Settings()
    data = load_toml(path)
    project = data.get("project", {})
    requires = project.get("requires-python") if isinstance(project, dict) else None
    python = oldest_python(requires) if isinstance(requires, str) else None
    if "tool.headcheck" not in text:
        return Settings(python=python)
    table = data.get("tool", {}).get("headcheck", {})
    where = f"{path} [tool.headcheck]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    known = {"ignore", "max-heads", "strict", "constants", "irreversible", "downgrade-floor", "models-ignore"}
    unknown_keys = sorted(set(table) - known)
    if unknown_keys:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(unknown_keys)}")
    max_heads = table.get("max-heads")
    if max_heads is not None and (not isinstance(max_heads, int) or isinstance(max_heads, bool) or max_heads < 1):
        raise ConfigError(f"{where}: max-heads must be a positive integer")
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise ConfigError(f"{where}: strict must be true or false")
    ignore = _codes(table.get("ignore", []), where)
    irreversible = table.get("irreversible", [])
    if not isinstance(irreversible, list) or not all(isinstance(item, str) for item in irreversible):
        raise ConfigError(f"{where}: irreversible must be a list of revision ids")
    floor = table.get("downgrade-floor")
    if floor is not None and not isinstance(floor, str):
        raise ConfigError(f"{where}: downgrade-floor must be a revision id")
    models_ignore = table.get("models-ignore", [])
    if not isinstance(models_ignore, list) or not all(isinstance(item, str) and item for item in models_ignore):
        raise ConfigError(f'{where}: models-ignore must be a list of table names ("name", "schema.name", globs)')
    return Settings(
        ignore=ignore,
        max_heads=max_heads,
        strict=strict,
        constants=_constants(table, where),
        python=python,
        irreversible=tuple(irreversible),
        downgrade_floor=floor,
        models_ignore=tuple(models_ignore),
    )


def oldest_python(spec: str) -> tuple[int, int] | None:
    """The lowest ``3.X`` a ``requires-python`` specifier allows (``>=3.8``, ``~=3.9``, ``==3.10.*``),
    or None when it names no lower bound or one not older than the running Python."""
    import re
    import sys

    bounds = [(int(major), int(minor)) for _, major, minor in re.findall(r"(>=|~=|==|>)\s*(\d+)\.(\d+)", spec)]
    bounds = [(3, 4) if bound[0] < 3 else bound for bound in bounds if bound[0] <= 3]
    if not bounds:
        return None
    # Every clause must hold: the tightest lower bound wins. ast's grammar goes back to 3.4.
    oldest = max(*bounds, (3, 4))
    return oldest if oldest < sys.version_info[:2] else None


def parse_python_version(text: str) -> tuple[int, int]:
    """``--python-version 3.9``. Raises ConfigError."""
    import re
    import sys

    match = re.fullmatch(r"\s*3\.(\d+)\s*", text)
    if match is None or not 4 <= int(match.group(1)) <= sys.version_info[1]:
        raise ConfigError(
            f"--python-version: expected 3.4 to {sys.version_info[0]}.{sys.version_info[1]} (the running Python), got {text!r}"
        )
    return (3, int(match.group(1)))


def _constants(table: dict[str, object], where: str) -> tuple[tuple[str, object], ...]:
    """``constants = {"pkg.module.NAME" = "value" or ["a", "b"]}``."""
    raw = table.get("constants", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: constants must be a table of dotted names to strings or lists of strings")
    pairs: list[tuple[str, object]] = []
    for name, value in raw.items():
        parts = name.split(".")
        if len(parts) < 2 or not all(part.isidentifier() for part in parts):
            raise ConfigError(f"{where}: constants: {name!r} is not a dotted name like 'package.module.NAME'")
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = tuple(value)
        elif not isinstance(value, str):
            raise ConfigError(f"{where}: constants: {name} must be a string or a list of strings")
        pairs.append((name, value))
    return tuple(pairs)

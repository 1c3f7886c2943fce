"""Alembic's option lookup, read without Alembic: ini sections, ``[tool.alembic]``, interpolation.

Mirrors ``alembic.config.Config``: per key the ini section wins over ``[tool.alembic]``; ini
values interpolate ``%(here)s`` and ``[DEFAULT]``; TOML strings are ``%``-formatted with
``here``; ini booleans are exactly ``"true"``; TOML booleans must be booleans;
``version_locations`` splits on ``path_separator`` (or the legacy rules).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.fs import is_dir, read_regular
from headcheck.limits import shorten

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "OptionSource",
    "ini_section",
    "load_toml",
    "option_line",
    "read_ini",
    "resolve_location",
    "search_path",
    "toml_alembic",
    "version_location_strings",
]

_PATH_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
_LEGACY_SPLIT = re.compile(r", *|(?: +)")


class ConfigError(Exception):
    """A configuration file cannot be read at all (the CLI exits 2)."""


class ConfigProblem(NamedTuple):
    """Something Alembic would fail on (or silently drop) while loading an environment."""

    code: str  # rule code, see headcheck.rules
    message: str
    path: Path | None
    line: int | None


def option_line(path: Path, key: str, section: str | None = None) -> int | None:
    """Line of ``key = ...`` in an ini or TOML file (inside ``section`` when given)."""
    try:
        lines = read_regular(path).decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    in_section = section is None
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*[=:]")
    for number, text in enumerate(lines, 1):
        stripped = text.strip()
        if stripped.startswith("["):
            in_section = section is None or stripped.strip("[] ") == section
            continue
        if in_section and key_re.match(text):
            return number
    return None


class OptionSource:
    """Key lookup across an ini section and ``[tool.alembic]``, as ``Config.get_alembic_option``."""

    def __init__(
        self,
        ini_path: Path | None,
        section: str | None,
        ini_values: dict[str, str] | None,
        toml_path: Path | None,
        toml_values: dict[str, Any] | None,
    ) -> None:
        self.ini_path = ini_path
        self.section = section
        self.ini = ini_values or {}
        self.toml_path = toml_path
        self.toml = toml_values or {}
        self.problems: list[ConfigProblem] = []

    def where(self, key: str) -> tuple[Path | None, int | None]:
        if key in self.ini and self.ini_path is not None:
            return self.ini_path, option_line(self.ini_path, key, self.section)
        if key in self.toml and self.toml_path is not None:
            return self.toml_path, option_line(self.toml_path, key, "tool.alembic")
        return self.ini_path or self.toml_path, None

    def problem(self, code: str, key: str, message: str) -> None:
        path, line = self.where(key)
        self.problems.append(ConfigProblem(code, message, path, line))

    def get(self, key: str) -> Any:
        if key in self.ini:
            return self.ini[key]
        if key not in self.toml:
            return None
        value = self.toml[key]
        here = {"here": self.toml_path.parent.as_posix() if self.toml_path else os.getcwd()}
        try:
            if isinstance(value, str):
                return value % here
            if isinstance(value, list):
                return [
                    {k: v % here for k, v in item.items()} if isinstance(item, dict) else item % here for item in value
                ]
            if isinstance(value, dict):
                return {k: v % here for k, v in value.items()}
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, bool):
                return value
        except (TypeError, ValueError, KeyError) as exc:
            self.problem("HC407", key, f"cannot interpolate [tool.alembic] {key}: {exc}")
            return None
        self.problem("HC404", key, f"unsupported TOML value type for key: {key!r}")
        return None

    def boolean(self, key: str) -> bool:
        if key in self.ini:
            # Alembic: ini booleans are exactly the string "true" ("True" is false).
            return self.ini[key] == "true"
        value = self.toml.get(key, False)
        if not isinstance(value, bool):
            self.problem("HC404", key, f"boolean value expected for TOML parameter {key!r}")
            return False
        return value

    def base_dir(self, key: str) -> Path:
        path, _ = self.where(key)
        return path.parent if path is not None else Path.cwd()


def read_ini(path: Path) -> Any:
    import configparser

    parser = configparser.ConfigParser(defaults={"here": path.parent.absolute().as_posix()})
    try:
        # Universal newlines, as the open() in Alembic's ConfigParser.read translates them.
        parser.read_file(io.StringIO(read_regular(path).decode("utf-8"), newline=None), str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: cannot parse ini file: {shorten(first)}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parser


def ini_section(parser: Any, path: Path, section: str) -> tuple[dict[str, str], list[ConfigProblem]]:
    """The section's interpolated values; keys that fail interpolation become HC407 problems."""
    import configparser

    values: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    if not parser.has_section(section):
        return values, problems
    for key in parser.options(section):
        if key == "here" or (key in parser.defaults() and key not in parser._sections[section]):  # noqa: SLF001 -- configparser has no public view of a section's own keys (options() adds DEFAULT's)
            continue
        try:
            values[key] = parser.get(section, key)
        except configparser.Error as exc:
            message = str(exc).splitlines()[0]
            problems.append(
                ConfigProblem("HC407", f"cannot interpolate {key}: {message}", path, option_line(path, key, section))
            )
    return values, problems


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file or raise ConfigError with a one-line reason."""
    import tomllib

    try:
        return tomllib.loads(read_regular(path).decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot parse TOML: {shorten(str(exc))}") from None
    except RecursionError:  # tomllib recurses once per nesting level
        raise ConfigError(f"{path}: cannot parse TOML: nested too deeply") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot parse TOML: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def toml_alembic(path: Path) -> tuple[dict[str, Any] | None, list[ConfigProblem]]:
    data = load_toml(path)
    tool = data.get("tool", {})
    if not isinstance(tool, dict) or "alembic" not in tool:
        return None, []
    table = tool["alembic"]
    if not isinstance(table, dict):
        return {}, [ConfigProblem("HC404", "Incorrect TOML format: [tool.alembic] is not a table", path, None)]
    return table, []


def resolve_location(
    raw: str, bases: Sequence[tuple[str, Path]], search_path: Sequence[str] = ()
) -> tuple[Path | None, str | None]:
    """Where Alembic finds a location, and what it was resolved against (None: absolute).

    A relative path resolves as Alembic does, against the working directory (the first of
    ``bases``); when nothing is there, the next bases (the checked folder, the config file's
    folder) are tried, and when nothing exists anywhere the working directory's answer is kept.
    A ``package:dir`` resource is looked up as a folder on the bases and ``search_path``
    (``prepend_sys_path``, then ``sys.path``), never imported; ``(None, None)`` when not found.
    """
    if ":" in raw and not os.path.isabs(raw) and not re.match(r"^[A-Za-z]:[\\/]", raw):
        package, _, sub = raw.partition(":")
        parts = [part for part in package.split(".") if part]
        if not parts or any(part in (".", "..") or os.sep in part for part in parts):
            return None, None
        roots = [(label, base) for label, base in bases]
        roots += [(label, base / "src") for label, base in bases]
        roots += [("sys.path", Path(entry)) for entry in search_path if entry]
        for label, root in roots:
            if is_dir(root.joinpath(*parts)):
                return root.joinpath(*parts, sub).absolute(), f"{label} ({root})"
        return None, None
    path = Path(raw)
    if path.is_absolute():
        return path, None
    for label, base in bases:
        candidate = (base / path).absolute()
        if is_dir(candidate):
            return candidate, label
    label, base = bases[0]
    return (base / path).absolute(), label


def search_path(prepend_sys_path: object, cwd: Path) -> list[str]:
    """``prepend_sys_path`` (relative to the working directory, as Alembic inserts it), then sys.path."""
    import sys

    raw = prepend_sys_path
    entries = [item for item in _LEGACY_SPLIT.split(raw) if item] if isinstance(raw, str) else []
    return [str(cwd / entry) for entry in entries] + [entry for entry in sys.path if entry]


def version_location_strings(source: OptionSource) -> list[str] | None:
    """``Config.get_version_locations_list``: ini string split on path_separator, or TOML list."""
    raw = source.ini.get("version_locations")
    if raw:
        separator_key = next((k for k in ("path_separator", "version_path_separator") if source.get(k)), None)
        if separator_key is None:
            return [item for item in _LEGACY_SPLIT.split(raw) if item]
        separator = source.get(separator_key)
        if separator not in _PATH_SEPARATORS:
            source.problem(
                "HC403",
                separator_key,
                f"'{separator}' is not a valid value for {separator_key}; expected 'space', 'newline', 'os', ':', ';'",
            )
            return []
        return [item.strip() for item in raw.split(_PATH_SEPARATORS[separator]) if item.strip()]
    value = source.get("version_locations")
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    source.problem("HC404", "version_locations", "version_locations must be a list of strings")
    return []

"""Find Alembic environments the way Alembic and Flask-Migrate configure them.

Reads ``alembic.ini`` (any ``*.ini`` holding a ``script_location``), ``pyproject.toml``
``[tool.alembic]`` and Flask-Migrate's ``migrations/alembic.ini`` layout, without importing
anything from the user's project. Relative paths resolve as Alembic resolves them, against
the working directory; when nothing exists there, the checked folder and then the config
file's folder are tried (people run ``alembic`` from either), and the environment's notes say
which was used. ``package:resource`` locations are found as folders on the project's roots,
``prepend_sys_path`` and ``sys.path``, never imported.

Problems Alembic would raise while loading an environment (missing script folder, bad
``path_separator``, non-boolean TOML flags, ...) become :class:`ConfigProblem` records that the
findings layer turns into rule violations; files that cannot be parsed at all raise
:class:`ConfigError` (the CLI exits 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.alembic_options import (
    ConfigError,
    ConfigProblem,
    OptionSource,
    ini_section,
    read_ini,
    resolve_location,
    search_path,
    toml_alembic,
    version_location_strings,
)
from headcheck.fs import is_dir, is_file, read_regular, stat_error, touch
from headcheck.limits import shorten

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "Environment",
    "EnvironmentSelection",
    "VersionLocation",
    "find_environments",
]

# Directories never worth descending into when looking for configuration.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        "site-packages",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "build",
        "dist",
    }
)


class VersionLocation(NamedTuple):
    path: Path
    configured: bool  # True when listed in version_locations, False for <script>/versions
    line: int | None  # where it was configured


class Environment(NamedTuple):
    """One Alembic environment: one script directory, one revision graph."""

    name: str
    kind: str  # "ini", "pyproject", "flask" or "versions"
    config_path: Path | None
    section: str | None
    script_location: Path
    version_locations: tuple[VersionLocation, ...]
    recursive: bool
    sourceless: bool
    options: dict[str, Any]  # every main option, interpolated (file_template, hooks, ...)
    toml_path: Path | None
    problems: tuple[ConfigProblem, ...]
    # How relative locations were resolved, when the working directory and the config file's
    # folder differ (Alembic uses the working directory): shown to the user as a note.
    notes: tuple[str, ...] = ()

    @property
    def versions_dirs(self) -> tuple[Path, ...]:
        return tuple(loc.path for loc in self.version_locations)


def _build(
    name: str,
    kind: str,
    config_path: Path | None,
    section: str | None,
    source: OptionSource,
    script_override: Path | None = None,
    pre_problems: list[ConfigProblem] | None = None,
    root: Path | None = None,
) -> Environment | None:
    problems = list(pre_problems or [])
    notes: list[str] = []
    cwd = Path.cwd()
    searched = search_path(source.get("prepend_sys_path"), cwd)

    def bases(key: str) -> list[tuple[str, Path]]:
        found = [("working directory", cwd)]
        if root is not None and root != cwd:
            found.append(("checked folder", root))
        folder = source.base_dir(key).absolute()
        if folder not in (base for _, base in found):
            found.append(("config file's folder", folder))
        return found

    def resolve(key: str, raw: str) -> Path | None:
        candidates = bases(key)
        path, used = resolve_location(raw, candidates, searched)
        folder = source.base_dir(key).absolute()
        if path is None or used is None:
            return path
        if ":" in raw and not os.path.isabs(raw):
            notes.append(f"{key} {shorten(raw)!r} found as a package folder on the {used}")
        elif dict(candidates).get(used) != folder:
            notes.append(
                f"{key} {shorten(raw)!r} resolved against the {used}, as Alembic does "
                f"({shorten(str(path), 300)}), not against the config file's folder"
            )
        elif used == "config file's folder":
            notes.append(
                f"{key} {shorten(raw)!r} resolved against the config file's folder ({shorten(str(path), 300)}): "
                "nothing is there from the working directory, where Alembic would look"
            )
        return path

    if script_override is not None:
        script_location: Path | None = script_override
    else:
        raw_script = source.get("script_location")
        if raw_script is None:
            return None
        if not isinstance(raw_script, str):
            source.problem("HC404", "script_location", "script_location must be a string")
            return None
        script_location = resolve("script_location", raw_script)
        if script_location is None:
            source.problem(
                "HC402",
                "script_location",
                f"cannot find package resource {shorten(raw_script)!r} as a folder in the project or on sys.path "
                "(nothing is imported); use a path or pass --versions",
            )
            script_location = Path(raw_script)
        elif not is_dir(script_location):
            reason = stat_error(script_location)
            because = f" ({reason})" if reason and reason != "No such file or directory" else ""
            source.problem(
                "HC402",
                "script_location",
                f"Path doesn't exist: {shorten(str(script_location), 300)}{because}. Alembic cannot load this environment.",
            )
    assert script_location is not None
    locations: list[VersionLocation] = []
    configured = version_location_strings(source)
    if configured is None:
        locations.append(VersionLocation((script_location / "versions").absolute(), False, None))
    else:
        _, line = source.where("version_locations")
        for raw in configured:
            resolved = resolve("version_locations", raw)
            if resolved is None:
                source.problem(
                    "HC402",
                    "version_locations",
                    f"cannot find package resource {shorten(raw)!r} as a folder in the project or on sys.path",
                )
                continue
            locations.append(VersionLocation(resolved, True, line))
    recursive = source.boolean("recursive_version_locations")
    sourceless = source.boolean("sourceless")
    if sourceless:
        source.problem(
            "HC406",
            "sourceless",
            "sourceless = true: Alembic may load .pyc-only revisions, which headcheck cannot read",
        )
    options: dict[str, Any] = {}
    for key in set(source.toml) | set(source.ini):
        value = source.get(key)
        if value is not None:
            options[key] = value
    problems.extend(source.problems)
    return Environment(
        name=name,
        kind=kind,
        config_path=config_path,
        section=section,
        script_location=script_location,
        version_locations=tuple(locations),
        recursive=recursive,
        sourceless=sourceless,
        options=options,
        toml_path=source.toml_path,
        problems=tuple(problems),
        notes=tuple(dict.fromkeys(notes)),
    )


def _envs_for_ini(
    ini: Path,
    sections: list[str] | None,
    toml_path: Path | None,
    toml: dict[str, Any] | None,
    root: Path | None = None,
) -> list[Environment]:
    parser = read_ini(ini)
    chosen = sections if sections is not None else parser.sections()
    if sections is None and "alembic" not in chosen and ini.name == "alembic.ini" and is_file(ini.parent / "env.py"):
        chosen = ["alembic", *chosen]  # Flask-Migrate works even without an [alembic] section
    environments: list[Environment] = []
    for section in chosen:
        values, problems = ini_section(parser, ini, section)
        # [tool.alembic] only completes the "alembic" section, as in Alembic's default setup.
        use_toml = toml if section == "alembic" else None
        source = OptionSource(ini, section, values, toml_path if use_toml is not None else None, use_toml)
        script_override = None
        kind = "ini"
        if "script_location" not in values and parser.has_option(section, "script_location"):
            # It is there but does not interpolate: report that (HC407), not "no environment".
            environments.append(_unloadable(section, ini, problems))
            continue
        if source.get("script_location") is None:
            if is_file(ini.parent / "env.py") and section == "alembic" and "script_location" not in (toml or {}):
                # Flask-Migrate: script_location is the folder holding alembic.ini.
                script_override, kind = ini.parent.absolute(), "flask"
                source = OptionSource(ini, section, values, None, None)
            elif sections is not None:
                problems.append(
                    ConfigProblem("HC401", f"No 'script_location' key found in section [{section}]", ini, None)
                )
                environments.append(_unloadable(section, ini, problems))
                continue
            else:
                continue
        elif use_toml is not None and "script_location" not in values:
            kind = "pyproject"
        name = section if section != "alembic" else ""
        env = _build(name, kind, ini, section, source, script_override, problems, root)
        if env is not None:
            environments.append(env)
    return environments


def _unloadable(section: str, ini: Path, problems: list[ConfigProblem]) -> Environment:
    """An environment Alembic cannot load at all: only its problems are reported."""
    return Environment(section, "ini", ini, section, ini.parent, (), False, False, {}, None, tuple(problems))


def _env_for_toml(toml_path: Path, root: Path | None = None) -> list[Environment]:
    table, problems = toml_alembic(toml_path)
    if table is None:
        return []
    source = OptionSource(None, None, None, toml_path, table)
    env = _build("", "pyproject", toml_path, None, source, None, problems, root)
    return [env] if env is not None else []


def _name_environments(environments: list[Environment], root: Path) -> list[Environment]:
    named = []
    for env in environments:
        try:
            where = env.script_location.relative_to(root.absolute()).as_posix() or "."
        except ValueError:
            where = env.script_location.as_posix()
        label = shorten(where if not env.name else f"{where} [{env.name}]", 300)
        named.append(env._replace(name=label))
    return named


def _candidate_files(root: Path) -> tuple[list[Path], list[Path]]:
    """All ``*.ini`` files mentioning script_location or sitting beside an env.py, and pyprojects."""
    inis: list[Path] = []
    tomls: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda exc: touch(exc.filename or root)):
        touch(dirpath)  # a config file appearing anywhere changes the folder's mtime
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        here = Path(dirpath)
        # Only config-looking names sorted: a versions folder holds thousands of other files.
        for filename in sorted(f for f in filenames if f.endswith(".ini") or f == "pyproject.toml"):
            if filename.endswith(".ini"):
                path = here / filename
                try:
                    text = read_regular(path).decode("utf-8", "replace")
                except OSError:
                    if filename == "alembic.ini":
                        inis.append(path)  # reading it again gives the one-line error
                    continue
                if "script_location" in text or (filename == "alembic.ini" and "env.py" in filenames):
                    inis.append(path)
            elif filename == "pyproject.toml":
                path = here / filename
                try:
                    text = read_regular(path).decode("utf-8", "replace")
                except OSError:
                    tomls.append(path)
                    continue
                if "tool.alembic" in text:
                    tomls.append(path)
    return inis, tomls


class EnvironmentSelection(NamedTuple):
    """Which environments under a root to check (``--config``, ``--name``, ``--versions``, ``--recursive``).

    The default is every environment found; ``config`` pins one config file (``name``: its ini
    section, as ``alembic -n``); ``versions`` checks a bare versions folder with no config file,
    ``recursive`` standing for its ``recursive_version_locations``.
    """

    config: Path | None = None
    name: str | None = None
    versions: Path | None = None
    recursive: bool = False


EVERY_ENVIRONMENT = EnvironmentSelection()


def find_environments(root: Path, selection: EnvironmentSelection = EVERY_ENVIRONMENT) -> list[Environment]:
    """Every Alembic environment under ``root`` (or the one ``selection`` pins).

    Raises ConfigError for unreadable config files or a missing root.
    """
    config, name, versions, recursive = selection
    reason = stat_error(root)
    if reason is not None:
        raise ConfigError(f"{root}: {reason[:1].lower() + reason[1:]}")
    try:
        root = root.absolute()
        Path.cwd()
    except OSError as exc:  # the working directory was deleted under us
        raise ConfigError(f"cannot use the working directory: {exc.strerror or exc}") from None
    if config is not None:
        config = config.absolute()
    if versions is not None:
        versions = versions if versions.is_absolute() else (Path.cwd() / versions)
        if not is_dir(versions):
            raise ConfigError(f"{versions}: {stat_error(versions) or 'not a directory'}")
        loc = VersionLocation(versions.absolute(), True, None)
        env = Environment(
            "", "versions", None, None, versions.parent.absolute(), (loc,), recursive, False, {}, None, ()
        )
        return _name_environments([env], root)
    if config is not None:
        if not is_file(config):
            reason = stat_error(config)
            raise ConfigError(
                f"{config}: {'no such config file' if reason in (None, 'No such file or directory') else reason}"
            )
        if config.name == "pyproject.toml":
            found = _env_for_toml(config, root)
        else:
            toml_path = config.parent / "pyproject.toml"
            toml = toml_alembic(toml_path)[0] if is_file(toml_path) else None
            found = _envs_for_ini(config, [name or "alembic"], toml_path if toml is not None else None, toml, root)
        if not found:
            raise ConfigError(f"{config}: no Alembic environment in it (no script_location)")
        return _name_environments(found, root)
    if not is_dir(root):
        raise ConfigError(f"{root}: expected a directory (use --config for a config file)")
    inis, tomls = _candidate_files(root)
    environments: list[Environment] = []
    toml_by_dir = {}
    for toml_path in tomls:
        table, _ = toml_alembic(toml_path)
        if table is not None:
            toml_by_dir[toml_path.parent] = (toml_path, table)
    used_tomls: set[Path] = set()
    for ini in inis:
        toml_entry = toml_by_dir.get(ini.parent)
        if toml_entry is not None and ini.name == "alembic.ini":
            found = _envs_for_ini(ini, [name] if name else None, toml_entry[0], toml_entry[1], root)
            if any(env.section == "alembic" for env in found):
                used_tomls.add(toml_entry[0])
            environments.extend(found)
        else:
            environments.extend(_envs_for_ini(ini, [name] if name else None, None, None, root))
    for toml_path in tomls:
        if toml_path not in used_tomls:
            environments.extend(_env_for_toml(toml_path, root))
    unique: list[Environment] = []
    seen: set[tuple[Path, tuple[Path, ...]]] = set()
    for env in environments:
        key = (env.script_location, env.versions_dirs)
        if key not in seen:
            seen.add(key)
            unique.append(env)
    return _name_environments(unique, root)

"""Run the project's ``post_write_hooks`` on a new revision file, as Alembic runs them.

Mirrors ``alembic.config.Config.get_hooks_list`` and ``alembic.script.write_hooks``:

* ini: the ``[post_write_hooks]`` section; ``hooks = a, b`` names them and ``a.type``,
  ``a.entrypoint`` ... configure each. Only when that section is absent does Alembic read the
  TOML list ``[[tool.alembic.post_write_hooks]]`` (each with ``name``, ``type``, ...).
* types ``console_scripts`` (``entrypoint``: run ``import module; module.attr()`` with this Python),
  ``exec`` (``executable``) and ``module`` (``python -m module``). ``options`` is split with
  ``shlex``; ``REVISION_SCRIPT_FILENAME`` is replaced by the file's path and put first when absent;
  ``cwd`` sets the working directory.
* Alembic does not check a hook's exit status; neither does headcheck, but it reports it.

Hook types registered by the project's ``env.py`` (``write_hooks.register``) cannot run without
importing it; headcheck refuses them with a clear message instead.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import NamedTuple

from headcheck.alembic_options import ConfigError, ini_section, read_ini
from headcheck.config import Environment
from headcheck.fix import FixError

__all__ = ["Hook", "HookRun", "load_hooks", "run_hooks"]

TOKEN = "REVISION_SCRIPT_FILENAME"
_SPLIT = re.compile(r", *|(?: +)")  # Config.get_hooks_list


class Hook(NamedTuple):
    name: str
    options: dict[str, str]


class HookRun(NamedTuple):
    name: str
    command: tuple[str, ...]
    returncode: int


def load_hooks(env: Environment) -> list[Hook]:
    """The hooks Alembic would run for this environment, in order."""
    ini = env.config_path if env.config_path is not None and env.config_path.suffix != ".toml" else None
    if ini is not None and ini.is_file():
        try:
            parser = read_ini(ini)  # the same reading as the gate's (Alembic's ConfigParser)
        except ConfigError as exc:
            raise FixError(str(exc)) from None
        if parser.has_section("post_write_hooks"):
            section, problems = ini_section(parser, ini, "post_write_hooks")
            if problems:
                raise FixError(f"{ini} [post_write_hooks]: {problems[0].message}")
            hooks = []
            for name in _SPLIT.split(section.get("hooks", "")):
                if not name:
                    continue
                prefix = name + "."
                hooks.append(Hook(name, {k[len(prefix) :]: v for k, v in section.items() if k.startswith(prefix)}))
            return hooks
    if env.kind == "flask":
        return []  # Flask-Migrate passes no toml_file to Config
    raw = env.options.get("post_write_hooks")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise FixError("[tool.alembic] post_write_hooks must be a list of tables")
    hooks = []
    for item in raw:
        options = {str(k): str(v) for k, v in item.items()}
        if "name" not in options:
            raise FixError("[tool.alembic] post_write_hooks: every hook needs a name")
        hooks.append(Hook(options.pop("name"), options))
    return hooks


def _required(hook: Hook, key: str) -> str:
    try:
        return hook.options[key]
    except KeyError:
        raise FixError(f"Key {hook.name}.{key} is required for post write hook {hook.name!r}") from None


def _console_scripts(hook: Hook) -> list[str]:
    wanted = _required(hook, "entrypoint")
    for entry in entry_points(group="console_scripts"):
        if entry.name == wanted:
            return [sys.executable, "-c", f"import {entry.module}; {entry.module}.{entry.attr}()"]
    raise FixError(f"Could not find entrypoint console_scripts.{wanted}")


def _exec(hook: Hook) -> list[str]:
    return [_required(hook, "executable")]


def _module(hook: Hook) -> list[str]:
    name = _required(hook, "module")
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise FixError(f"Could not find module {name}")
    return [sys.executable, "-m", name]


_TYPES: dict[str, Callable[[Hook], list[str]]] = {
    "console_scripts": _console_scripts,
    "exec": _exec,
    "module": _module,
}


def command_for(hook: Hook, path: Path) -> tuple[list[str], str | None]:
    """The argv and working directory Alembic would use for this hook."""
    kind = hook.options.get("type")
    if kind is None:
        raise FixError(f"Key '{hook.name}.type' (or 'type' in toml) is required for post write hook {hook.name!r}")
    if kind not in _TYPES:
        raise FixError(
            f"post write hook {hook.name!r} has type {kind!r}, which env.py registers; "
            "headcheck does not import env.py: run the hook yourself (built in: console_scripts, exec, module)"
        )
    command = _TYPES[kind](hook)
    text = hook.options.get("options", "")
    if TOKEN not in text:
        text = f"{TOKEN} {text}"
    arguments = [part.replace(TOKEN, str(path)) for part in shlex.split(text, posix=True)]
    return [*command, *arguments], hook.options.get("cwd") or None


def run_hooks(hooks: list[Hook], path: Path) -> list[HookRun]:
    """Run every hook on ``path`` in order (a hook that fails to start raises FixError)."""
    runs: list[HookRun] = []
    for hook in hooks:
        argv, cwd = command_for(hook, path)
        try:
            done = subprocess.run(argv, cwd=cwd, check=False)
        except OSError as exc:
            raise FixError(f"post write hook {hook.name!r}: cannot run {argv[0]}: {exc.strerror or exc}") from None
        runs.append(HookRun(hook.name, tuple(argv), done.returncode))
    return runs

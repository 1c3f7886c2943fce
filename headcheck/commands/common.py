"""Arguments and steps every gate-running command shares (check, db, action, merge, ...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from headcheck.config import ConfigError, EnvironmentSelection
from headcheck.fs import exists, write_stdout
from headcheck.logsafe import line
from headcheck.rules import RULES
from headcheck.settings import Settings, load_settings, parse_python_version
from headcheck.terminal import EXIT_FAIL, EXIT_OK, EXIT_USAGE, use_color

if TYPE_CHECKING:
    from headcheck.gate import GateResult

__all__ = [
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_environment_arguments",
    "add_policy_arguments",
    "emit",
    "error",
    "gate_from_args",
    "no_environment",
    "selection_from",
    "settings_from",
    "use_color",
]


def add_environment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=".", help="repository or folder to check (default: .)")
    parser.add_argument(
        "--config", "-c", type=Path, help="check only the environment of this alembic.ini or pyproject.toml"
    )
    parser.add_argument(
        "--name", "-n", help="ini section of the environment (default: every section with script_location)"
    )
    parser.add_argument("--versions", type=Path, help="check this versions folder alone (no config file needed)")
    parser.add_argument("--recursive", action="store_true", help="with --versions: read subfolders too")


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ignore", default="", help="comma-separated rule codes to ignore (adds to [tool.headcheck] ignore)"
    )
    parser.add_argument("--max-heads", type=int, help="allow up to N heads (replaces the branch-label policy)")
    parser.add_argument("--strict", action="store_true", default=None, help="warnings fail the gate too")
    parser.add_argument(
        "--python-version",
        metavar="3.X",
        help="the oldest Python the project supports (default: requires-python in pyproject.toml); "
        "newer syntax in a revision file is an error",
    )


def error(message: str) -> int:
    """Print a one-line error and return the usage/configuration exit code.

    Messages quote paths, sections and ids from the checked repository: one line, bounded and
    neutralised (limits, logsafe).
    """
    from headcheck.limits import MESSAGE_LIMIT, shorten

    print(line(f"headcheck: error: {shorten(' '.join(message.split()), MESSAGE_LIMIT)}"), file=sys.stderr)
    return EXIT_USAGE


def settings_from(args: argparse.Namespace) -> Settings:
    """[tool.headcheck] from the checked root, overridden by flags. Raises ConfigError."""
    root = Path(args.path)
    settings = load_settings(root) if exists(root) else Settings()
    ignore = set(settings.ignore)
    extra = {code.strip().upper() for code in (getattr(args, "ignore", "") or "").split(",") if code.strip()}
    unknown = sorted(extra - set(RULES))
    if unknown:
        raise ConfigError(f"--ignore: unknown rule code(s): {', '.join(unknown)}")
    ignore |= extra
    max_heads = getattr(args, "max_heads", None)
    if max_heads is not None and max_heads < 1:
        raise ConfigError("--max-heads must be at least 1")
    strict = getattr(args, "strict", None)
    python_version = getattr(args, "python_version", None)
    if python_version is not None:
        settings = settings._replace(python=parse_python_version(python_version))
    return settings._replace(
        ignore=frozenset(ignore),
        max_heads=max_heads if max_heads is not None else settings.max_heads,
        strict=settings.strict if strict is None else strict,
        irreversible=settings.irreversible,
        downgrade_floor=settings.downgrade_floor,
    )


def selection_from(args: argparse.Namespace) -> EnvironmentSelection:
    """The environments ``--config``, ``--name``, ``--versions`` and ``--recursive`` select."""
    return EnvironmentSelection(args.config, args.name, args.versions, args.recursive)


def gate_from_args(args: argparse.Namespace, *, cache_dir: Path | None = None) -> GateResult:
    """Run the static gate on the environments the common arguments select. Raises ConfigError."""
    from headcheck.gate import run_gate

    return run_gate(Path(args.path), settings_from(args), selection_from(args), cache_dir=cache_dir)


def no_environment(args: argparse.Namespace) -> int:
    """The one-line error for a PATH without any Alembic environment (exit 2)."""
    return error(
        f"no Alembic environment found under {args.path} "
        "(looked for *.ini with script_location, pyproject.toml [tool.alembic], migrations/alembic.ini + env.py); "
        "pass --config or --versions"
    )


def emit(text: str, output: Path | None) -> int | None:
    """Write a report to ``output`` (or stdout); the exit code of a failed write, else None."""
    if output is None:
        write_stdout(text)
        return None
    try:
        output.write_text(text, encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        return error(f"{output}: cannot write: {exc.strerror or exc}")
    return None

"""``headcheck graph [PATH] [--format text|mermaid|dot]``: the revision history as a picture.

Drawing is :func:`headcheck.picture.render` (the job summary uses the same pictures): long linear
runs folded, heads, bases, merge and branch points and every revision a finding names marked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from headcheck.commands.common import EXIT_OK, add_environment_arguments, emit, error, gate_from_args, no_environment
from headcheck.config import ConfigError
from headcheck.logsafe import line

PICTURE_FORMATS = ("text", "mermaid", "dot", "table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_environment_arguments(parser)
    parser.add_argument(
        "--format", "-f", choices=PICTURE_FORMATS, default="text", help="picture format (default: text)"
    )
    parser.add_argument("--focus", action="store_true", help="draw only the part that matters (forks, problems)")
    parser.add_argument("--output", "-o", type=Path, help="write the picture to this file instead of stdout")


def run(args: argparse.Namespace) -> int:
    from headcheck.picture import render

    try:
        gate = gate_from_args(args)
    except ConfigError as exc:
        return error(str(exc))
    if not gate.environments:
        return no_environment(args)
    pictures: list[str] = []
    several = len(gate.environments) > 1
    for env in gate.environments:
        try:
            picture = render(env, args.format, focus=args.focus)
        except ValueError as exc:
            return error(str(exc))
        if several and args.format in ("text", "table"):
            picture = f"{line(env.environment.name)}:\n{picture}"
        elif several and args.format == "mermaid":
            # A comment line; % escaped so that no %%{init: ...}%% directive can form in it.
            picture = f"%% {line(env.environment.name).replace('%', '%25')}\n{picture}"
        pictures.append(picture if picture.endswith("\n") else picture + "\n")
    text = "\n".join(pictures)
    return emit(text, args.output) or EXIT_OK

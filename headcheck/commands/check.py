"""``headcheck [check] [PATH]``: the static gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from headcheck.commands.common import (
    EXIT_FAIL,
    EXIT_OK,
    add_environment_arguments,
    add_policy_arguments,
    emit,
    error,
    gate_from_args,
    no_environment,
    selection_from,
    settings_from,
    use_color,
)
from headcheck.config import ConfigError
from headcheck.logsafe import line
from headcheck.report import FORMATS, render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_environment_arguments(parser)
    add_policy_arguments(parser)
    parser.add_argument("--format", "-f", choices=sorted(FORMATS), default="text", help="output format (default: text)")
    parser.add_argument("--output", "-o", type=Path, help="write the report to this file instead of stdout")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="parse every file again (no content-hash cache; also HEADCHECK_NO_CACHE=1)",
    )
    parser.add_argument("--base", metavar="REF", help="check the history after merging into git REF (e.g. origin/main)")
    parser.add_argument("--allow-history-edits", action="store_true", help="with --base: allow editing REF's revisions")


def run(args: argparse.Namespace) -> int:

    try:
        settings = settings_from(args)
        from headcheck.result_cache import cache_dir_from_env

        if args.base is not None:
            from headcheck.change import describe, gate_against_base

            change = gate_against_base(
                Path(args.path),
                settings,
                args.base,
                selection_from(args),
                allow_history_edits=args.allow_history_edits,
            )
            result = change.gate
            sys.stderr.write(describe(change))
        else:
            cache_dir = None if args.no_cache else cache_dir_from_env()
            result = gate_from_args(args, cache_dir=Path(cache_dir) if cache_dir else None)
            if any(f.code == "HC102" for env in result.environments for f in env.findings):
                from headcheck.elsewhere import explain_missing_parents

                result = explain_missing_parents(result)
    except ConfigError as exc:
        return error(str(exc))
    if not result.environments:
        return no_environment(args)
    notes = "".join(
        line(f"headcheck: note: {env.environment.name}: {note}") + "\n"
        for env in result.environments
        for note in env.environment.notes
    )
    sys.stderr.write(notes)
    text = render(args.format, result, color=args.output is None and args.format == "text" and use_color(sys.stdout))
    code = emit(text, args.output) or (EXIT_OK if result.ok else EXIT_FAIL)
    from headcheck.result_cache import store

    store(text, notes, code)  # for the next identical run (only after headcheck.cli's replay missed)
    global _last_result
    _last_result = result  # kept: headcheck.cli ends the process without freeing it record by record
    return code


_last_result: object = None

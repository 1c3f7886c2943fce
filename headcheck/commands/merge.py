"""``headcheck merge [PATH] [-m MESSAGE]``: write the merge revision for the current heads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from headcheck.commands.common import (
    EXIT_FAIL,
    EXIT_OK,
    add_environment_arguments,
    error,
    gate_from_args,
)
from headcheck.config import ConfigError
from headcheck.logsafe import line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_environment_arguments(parser)
    parser.add_argument("-m", "--message", default="merge heads", help="revision message (default: merge heads)")
    parser.add_argument("--rev-id", help="revision id to use instead of a random one")
    parser.add_argument("--no-hooks", action="store_true", help="do not run the project's post_write_hooks")


def run(args: argparse.Namespace) -> int:
    from headcheck.fix import FixError, pick_environment
    from headcheck.fix.hooks import command_for, load_hooks, run_hooks
    from headcheck.fix.merge import merge_heads, verify
    from headcheck.gate import check_environment
    from headcheck.heads import winning_heads

    try:
        gate = gate_from_args(args)
    except ConfigError as exc:
        return error(str(exc))
    try:
        result = pick_environment(gate.environments)
        heads = winning_heads(result.graph)
        if len(heads) < 2:
            ids = ", ".join(result.graph.nodes[h].revision for h in heads) or "none"
            print(line(f"nothing to merge: {result.environment.name} has one head ({ids})"))
            return EXIT_OK
        hooks = [] if args.no_hooks else load_hooks(result.environment)
        for hook in hooks:
            command_for(hook, Path("check"))  # refuse a misconfigured hook before writing anything
        if str(result.environment.options.get("revision_environment", "")).lower() == "true":
            print("headcheck: note: revision_environment = true: Alembic would run env.py first; headcheck does not")
        written = merge_heads(result.environment, result, message=args.message, rev_id=args.rev_id)
        print(line(f"Generating {written.path} ... done"))
        for run_ in run_hooks(hooks, written.path):
            status = "done" if run_.returncode == 0 else f"exit {run_.returncode} (Alembic ignores it too)"
            print(line(f"Running post write hook {run_.name!r} ... {status}"))
    except FixError as exc:
        print(line(f"headcheck: error: {exc}"), file=sys.stderr)
        return EXIT_FAIL
    problem = verify(written)
    if problem is not None:
        print(line(f"headcheck: warning: {problem}"), file=sys.stderr)
        return EXIT_FAIL
    after = check_environment(result.environment, gate.settings, gate.root)
    left = winning_heads(after.graph)
    print(
        line(
            f"merged {', '.join(written.heads)} into {written.revision}; heads now: "
            f"{', '.join(after.graph.nodes[h].revision for h in left)}"
        )
    )
    return EXIT_OK if len(left) == 1 else EXIT_FAIL

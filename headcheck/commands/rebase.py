"""``headcheck rebase [REV] [PATH] [--onto HEAD] [--base REF]``: re-parent a branch onto the other head."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

from headcheck.commands.common import EXIT_FAIL, EXIT_OK, error, gate_from_args, selection_from, settings_from
from headcheck.config import ConfigError
from headcheck.logsafe import block, line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev", nargs="?", help="a head (or a revision of its branch) to move; optional with --base")
    parser.add_argument("path", nargs="?", help="repository or folder (default: .)")
    parser.add_argument("--onto", metavar="HEAD", help="the head to put the branch on (default: the other head)")
    parser.add_argument("--base", metavar="REF", help="move the branch that is not on git REF onto REF's head")
    parser.add_argument("--config", "-c", type=Path, help="the environment's alembic.ini or pyproject.toml")
    parser.add_argument("--name", "-n", help="ini section of the environment")
    parser.add_argument("--versions", type=Path, help="a versions folder alone (no config file needed)")
    parser.add_argument("--recursive", action="store_true", help="with --versions: read subfolders too")
    parser.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")


def _diff(path: Path, old: bytes, new: bytes) -> str:
    lines = difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(keepends=True),
        new.decode("utf-8", "replace").splitlines(keepends=True),
        f"a/{path.name}",
        f"b/{path.name}",
    )
    return block("".join(lines).rstrip("\n")) + "\n"  # the file's own lines are the pull request's


def _on_disk(args: argparse.Namespace) -> set[str]:
    """Revision ids in the work tree's history (not the merged one ``--base`` builds)."""
    try:
        gate = gate_from_args(args)
    except ConfigError:
        return set()
    return {node.revision for env in gate.environments for node in env.graph.nodes}


def run(args: argparse.Namespace) -> int:
    from headcheck.change import gate_against_base
    from headcheck.fix import FixError, pick_environment, write_revision_file
    from headcheck.fix.rebase import plan, rewrite_down_revision
    from headcheck.gate import EnvironmentResult
    from headcheck.heads import winning_heads

    # `headcheck rebase some/dir`: a lone positional that exists on disk is the path.
    if args.path is None and args.rev is not None and os.path.exists(args.rev):
        args.rev, args.path = None, args.rev
    args.path = args.path or "."

    def gate_result() -> tuple[EnvironmentResult, frozenset[str] | None]:
        settings = settings_from(args)
        if args.base is not None:
            change = gate_against_base(
                Path(args.path), settings, args.base, selection_from(args), allow_history_edits=True
            )
            env = pick_environment(change.gate.environments)
            match = [c for c in change.environments if c.result is env]
            return env, match[0].base_ids
        return pick_environment(gate_from_args(args).environments), None

    try:
        result, base_ids = gate_result()
    except ConfigError as exc:
        return error(str(exc))
    except FixError as exc:
        print(line(f"headcheck: error: {exc}"), file=sys.stderr)
        return EXIT_FAIL
    heads = winning_heads(result.graph)
    if len(heads) < 2:
        ids = ", ".join(result.graph.nodes[h].revision for h in heads) or "none"
        print(line(f"nothing to rebase: {result.environment.name} has one head ({ids})"))
        return EXIT_OK
    try:
        chosen = plan(result, args.rev, args.onto, base_ids)
        old = chosen.path.read_bytes()
        new = rewrite_down_revision(old, chosen.onto, chosen.old_down)
    except OSError as exc:
        return error(f"cannot read the revision file: {exc.strerror or exc}")
    except FixError as exc:
        print(line(f"headcheck: error: {exc}"), file=sys.stderr)
        return EXIT_FAIL
    sys.stdout.write(_diff(chosen.path, old, new))
    if args.dry_run:
        return EXIT_OK
    try:
        write_revision_file(chosen.path, new, new=False)
    except FixError as exc:
        return error(str(exc))
    print(
        line(
            f"moved {chosen.moving_head} on top of {chosen.onto}: {chosen.root} now revises {chosen.onto} "
            f"(was {', '.join(chosen.old_down)})"
        )
    )
    try:
        after, _ = gate_result()
    except (ConfigError, FixError):
        return EXIT_OK
    left = winning_heads(after.graph)
    print(line(f"heads now: {', '.join(after.graph.nodes[h].revision for h in left)}"))
    if args.base is not None and chosen.onto not in _on_disk(args):
        print(
            line(
                f"next: {chosen.onto} exists on {args.base} only; merge {args.base} into your branch "
                f"(`git merge {args.base}`) before committing, or the gate reports HC102 for the new down_revision"
            )
        )
    return EXIT_OK if len(left) < len(heads) else EXIT_FAIL

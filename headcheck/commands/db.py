"""``headcheck db [PATH]``: the static gate, then the migrations on a throwaway PostgreSQL.

Steps (see headcheck.db.plan): upgrade one revision at a time to the heads, check
``alembic_version``, ``downgrade -1`` (once per head), upgrade again, comparing schema snapshots.
Exit 0 all good, 1 a finding or a failed step, 2 usage/config error or the server did not start.
This module is argument parsing, ``prove_gate`` (the proof as a library, ``headcheck.db.prove``,
under SIGTERM/SIGHUP handling, plus what production will feel as findings) and rendering; the
Action calls the same ``prove_gate``. Only the standard library is imported here; the database
parts load when the command runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from headcheck.commands.common import (
    EXIT_FAIL,
    EXIT_OK,
    add_environment_arguments,
    add_policy_arguments,
    emit,
    error,
    gate_from_args,
    no_environment,
    use_color,
)
from headcheck.config import ConfigError
from headcheck.terminal import EXIT_TERMINATED

if TYPE_CHECKING:
    from collections.abc import Sequence

    from headcheck.change import ChangeResult
    from headcheck.db.child import Spare
    from headcheck.db.proof import Proof, ProofOptions, ProofRun
    from headcheck.gate import GateResult
    from headcheck.graph import Graph


class Terminated(BaseException):
    """SIGTERM/SIGHUP, raised like KeyboardInterrupt so every ``finally`` (server, child) runs."""


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from headcheck.db.rows import DEFAULT_ROWS, DEFAULT_SEED  # (standard library only)

    add_environment_arguments(parser)
    add_policy_arguments(parser)
    parser.add_argument(
        "--format", "-f", choices=["text", "json"], default="text", help="output format (default: text)"
    )
    parser.add_argument("--output", "-o", type=Path, help="write the report to this file instead of stdout")
    parser.add_argument(
        "--stairway", action="store_true", help="every revision: up, down, up, comparing schemas (nightly)"
    )
    parser.add_argument(
        "--database-url", help="use this existing, empty PostgreSQL database instead of a throwaway server"
    )
    parser.add_argument(
        "--allow-nonempty", action="store_true", help="with --database-url: accept a database with tables"
    )
    parser.add_argument(
        "--url-env",
        action="append",
        default=[],
        metavar="NAME",
        help="also export the database URL in this environment variable for env.py (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per migration step (default: 300)")
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=0,
        metavar="N",
        help="--stairway workers on headcheck's own server: 1 or 2 (default: 2 when two CPUs are available)",
    )
    parser.add_argument(
        "--from-schema", type=Path, metavar="FILE", help="load this schema dump (pg_dump --schema-only) first"
    )
    parser.add_argument("--stamp", metavar="REV", help="with --from-schema: the revision that schema is at")
    parser.add_argument(
        "--irreversible",
        action="append",
        default=[],
        metavar="REV",
        help="a revision whose downgrade is not checked, reported as irreversible (repeatable; "
        "also [tool.headcheck] irreversible = [...])",
    )
    parser.add_argument(
        "--downgrade-floor",
        metavar="REV",
        help="no downgrade checks at or below this revision (also [tool.headcheck] downgrade-floor)",
    )
    parser.add_argument("--pg-bin", type=Path, metavar="DIR", help="folder with pg_ctl, initdb and postgres")
    parser.add_argument(
        "--mysql-bin", type=Path, metavar="DIR", help="--backend mariadb: folder with mariadbd and mariadb-install-db"
    )
    parser.add_argument(
        "--backend",
        metavar="NAME",
        help="the database to prove on: postgres, mariadb or sqlite (default: the dialect of the project's "
        "sqlalchemy.url, else postgres)",
    )
    parser.add_argument("--force", action="store_true", help="run the database proof even when the static gate fails")
    parser.add_argument(
        "--show-sql", action="store_true", help="text: every statement each revision executed, at its op.* line"
    )
    parser.add_argument("--no-squawk", action="store_true", help="do not lint the captured SQL with squawk")
    parser.add_argument(
        "--rows",
        type=int,
        default=DEFAULT_ROWS,
        metavar="N",
        help=f"generated rows per table before each judged revision (default: {DEFAULT_ROWS}; docs/rows.md)",
    )
    parser.add_argument("--no-rows", action="store_true", help="run the migrations on empty tables (no HC630/HC631)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of the generated rows (default: {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--no-models",
        action="store_true",
        help="do not compare env.py's target_metadata (metadata.create_all) with the migrations at the heads",
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help="judge only the revisions the work tree adds to git REF: upgrade to REF's revisions, then "
        "up, down, up each added one (the work tree must contain REF's revisions: merge REF first)",
    )


def _validate(args: argparse.Namespace) -> str | None:
    if args.from_schema is not None and not args.stamp:
        return "--from-schema needs --stamp REV (the revision the loaded schema is at)"
    if args.stamp and args.from_schema is None:
        return "--stamp needs --from-schema FILE"
    if args.from_schema is not None and not args.from_schema.is_file():
        return f"--from-schema {args.from_schema}: no such file"
    if args.timeout <= 0:
        return "--timeout must be a positive number of seconds"
    from headcheck.db.rows import MAX_ROWS

    if not 0 <= args.rows <= MAX_ROWS:
        return f"--rows must be between 0 and {MAX_ROWS}"
    if args.allow_nonempty and not args.database_url:
        return "--allow-nonempty only applies with --database-url"
    for name in args.url_env:
        if not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
            return f"--url-env {name!r}: not an environment variable name"
    return None


def _emit(args: argparse.Namespace, result: GateResult, proofs: Sequence[Proof | None]) -> int | None:
    """Write the report; an exit code when writing failed."""
    if args.format == "json":
        from headcheck.db.report import json_report

        text = json_report(result, proofs)
    else:
        from headcheck.db.report import text_section
        from headcheck.report import render

        color = args.output is None and use_color(sys.stdout)
        parts = [render("text", result, color=color)]
        for env, proof in zip(result.environments, proofs, strict=False):
            if proof is not None:
                name = env.environment.name or "environment"
                parts.append(text_section(name, proof, color=color, show_sql=args.show_sql, root=result.root))
        text = "\n".join(parts)
    return emit(text, args.output)


def run(args: argparse.Namespace) -> int:
    from headcheck.extras import missing_extra

    # the modules every backend needs; the chosen backend's driver is checked once it is known
    problem = _validate(args) or missing_extra("headcheck db", "postgres", ("alembic", "sqlalchemy"))
    if problem:
        return error(problem)
    ahead = _start_ahead(args)
    try:
        return _run(args, ahead)
    finally:
        if ahead is not None:
            ahead.close()  # (when the proof did not take it: the gate failed, no environment, ...)


def _start_ahead(args: argparse.Namespace) -> Spare | None:
    """The first migration child, started before the static gate runs (it imports Alembic,
    SQLAlchemy and psycopg meanwhile: about 0.3 s of CPU, on the other core), where the
    environment's folder is plain to see: PATH (or ``--config``'s folder) holding alembic.ini,
    migrations/alembic.ini (Flask-Migrate) or pyproject.toml. The proof takes it over when the
    gate finds the environment there (headcheck.db.proof.prove), else closes it. Not for
    ``--backend mariadb``/``sqlite`` or a non-PostgreSQL ``--database-url``."""
    if args.backend not in (None, "postgres") or (args.database_url and not args.database_url.startswith("postgres")):
        return None
    try:
        folder = (Path(args.config).parent if args.config is not None else Path(args.path)).resolve()
        if not any((folder / name).is_file() for name in ("alembic.ini", "pyproject.toml", "migrations/alembic.ini")):
            return None
    except (OSError, RuntimeError, ValueError):
        return None
    from headcheck.db.backends.postgres import BACKEND
    from headcheck.db.child import start_ahead

    # (a guess: headcheck.db.proof.may_split decides, once the environment is known)
    split = args.stairway and not args.database_url and args.jobs != 1 and args.from_schema is None
    return start_ahead(folder, args.url_env, (BACKEND.default_driver,), split=split)


def _run(args: argparse.Namespace, ahead: Spare | None) -> int:
    from headcheck.db.proof import ProofError, check_environments

    try:
        result = gate_from_args(args)
    except ConfigError as exc:
        return error(str(exc))
    if not result.environments:
        return no_environment(args)
    if not result.ok and not args.force:
        print(
            "headcheck: the static gate failed; the database proof did not run (--force runs it anyway)",
            file=sys.stderr,
        )
        return _emit(args, result, ()) or EXIT_FAIL
    try:
        check_environments([env.environment for env in result.environments], _options(args, result))  # before git
        change = _change(args) if args.base is not None else None
        options = _options(args, result, revisions_to_judge(result, change))
        result, proved = prove_gate(result, options, squawk=not args.no_squawk, ahead=ahead)
    except (ProofError, ConfigError) as exc:
        return error(str(exc))
    except Terminated:
        print("headcheck: terminated; the database server and its files were removed", file=sys.stderr)
        return EXIT_TERMINATED
    written = _emit(args, result, proved.proofs)
    if written is not None:
        return written
    return EXIT_OK if result.ok and proved.ok else EXIT_FAIL


def _jobs(text: str) -> int:
    if text not in ("1", "2"):
        raise argparse.ArgumentTypeError(f"expected 1 or 2, got {text!r}")
    return int(text)


def _options(
    args: argparse.Namespace, result: GateResult, focus: dict[int, tuple[str, ...]] | None = None
) -> ProofOptions:
    from headcheck.db.proof import Options, ProofOptions

    plan = Options(
        stairway=args.stairway,
        timeout=args.timeout,
        url_env=tuple(args.url_env),
        from_schema=args.from_schema,
        stamp=args.stamp,
        irreversible=(*result.settings.irreversible, *args.irreversible),
        downgrade_floor=args.downgrade_floor or result.settings.downgrade_floor,
        rows=0 if args.no_rows else args.rows,
        seed=args.seed,
        models=not args.no_models,
        models_ignore=result.settings.models_ignore,
        jobs=args.jobs,
    )
    return ProofOptions(
        plan=plan,
        database_url=args.database_url or None,
        allow_nonempty=args.allow_nonempty,
        pg_bin=args.pg_bin,
        mysql_bin=args.mysql_bin,
        backend=args.backend,
        focus=focus or {},
        revisions={index: len(env.node_files) for index, env in enumerate(result.environments)},
    )


def prove_gate(
    result: GateResult, options: ProofOptions, *, squawk: bool = True, ahead: Spare | None = None
) -> tuple[GateResult, ProofRun]:
    """Prove ``result``'s environments (``headcheck.db.prove``) with SIGTERM/SIGHUP raising
    Terminated, so that every ``finally`` (server, child) runs; then ``result`` with what production
    will feel (locks, rewrites, squawk) as findings. Raises ProofError (exit 2) and Terminated."""
    from headcheck.db import prove
    from headcheck.db.drift import with_model_findings
    from headcheck.db.launch import background_teardown
    from headcheck.db.production import with_production_findings  # locks, rewrites, squawk: as findings

    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        # (the server stops and its files go while the findings are made: about 25 ms at the end;
        # SIGTERM still raises Terminated until they are gone)
        with background_teardown():
            proved = prove([env.environment for env in result.environments], options, ahead)
            proofs = dict(enumerate(proved.proofs))
            result = with_production_findings(result, proofs, squawk=squawk, focus=options.focus)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return with_model_findings(result, {k: p.models for k, p in proofs.items()}), proved  # HC640-HC642


def _change(args: argparse.Namespace) -> ChangeResult:
    from headcheck.change import gate_against_base
    from headcheck.commands.common import selection_from, settings_from

    return gate_against_base(
        Path(args.path), settings_from(args), args.base, selection_from(args), allow_history_edits=True
    )


def revisions_to_judge(result: GateResult, change: ChangeResult | None) -> dict[int, tuple[str, ...]]:
    """The revisions to judge, by environment index (none: judge as the default plan does).
    ``result`` is the work tree's gate. With ``change`` (``--base REF``): the revisions the work tree
    adds to REF's. Else, where a head merges branches: every head, and the merged branches'
    revisions back to their fork point. Raises ProofError."""
    from headcheck.db.proof import ProofError

    if change is None:
        return {index: found for index, env in enumerate(result.environments) if (found := _merged_branches(env.graph))}
    if [c.result.environment for c in change.environments] != [e.environment for e in result.environments]:
        raise ProofError(f"--base {change.ref}: the environments differ from the work tree's")
    focus: dict[int, tuple[str, ...]] = {}
    for index, (env, env_change) in enumerate(zip(result.environments, change.environments, strict=True)):
        work = {node.revision for node in env.graph.nodes}
        missing = sorted(env_change.base_ids - work)
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ProofError(
                f"the work tree lacks {len(missing)} revision(s) of {change.ref} ({shown}): the proof runs the "
                f"work tree's files, merge {change.ref} first (git merge {change.ref})"
            )
        focus[index] = tuple(
            dict.fromkeys(n.revision for n in env.graph.nodes if n.revision not in env_change.base_ids)
        )
    return focus


def _merged_branches(graph: Graph) -> tuple[str, ...]:
    """Every head and the revisions a merge head brings together back to their fork point; () when
    no head is a merge revision."""
    from headcheck.heads import fork_points, winning_heads

    heads = winning_heads(graph)
    chosen: set[int] = set()
    for head in heads:
        parents = graph.parents(head)
        if len(parents) < 2:
            continue
        below: set[int] = set()
        for fork in fork_points(graph, parents):
            below |= graph.ancestors(fork)
        chosen |= graph.ancestors(head) - below
    if not chosen:
        return ()
    return tuple(dict.fromkeys(graph.nodes[node].revision for node in sorted(chosen | set(heads))))

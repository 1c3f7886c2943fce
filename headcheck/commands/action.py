"""``headcheck action``: the Docker action's entry point, driven by the runner's environment.

The runner starts the container with ``--workdir /github/workspace`` and passes every input as
``INPUT_<NAME>`` (upper case, hyphens kept: ``INPUT_FAIL-ON``), empty when the workflow leaves it
out and action.yml has no default. This command reads those, runs the static gate (and, with
``database: postgres``, the database proof: ``headcheck.db.prove`` as ``headcheck db`` calls it),
then writes:

- annotations on stdout (at most 10 per kind, then one notice with the count);
- the JSON report (and the SARIF file when asked) into the workspace, never through a symbolic
  link and never under ``.git`` (the checkout is the pull request's);
- the job summary to ``$GITHUB_STEP_SUMMARY`` and the outputs to ``$GITHUB_OUTPUT``.

Exit codes as everywhere: 0 passed, 1 the gate failed, 2 an input or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from headcheck.commands.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, settings_from
from headcheck.config import ConfigError, EnvironmentSelection
from headcheck.github import (
    Annotation,
    InputError,
    UnsafeWriteError,
    annotation_lines,
    append_summary,
    format_annotation,
    get_bool_input,
    get_input,
    trust_directory,
    workspace,
    workspace_file_parts,
    workspace_relative,
    write_outputs,
    write_workspace_file,
)
from headcheck.logsafe import block, json_document, line

if TYPE_CHECKING:
    from headcheck.change import ChangeResult
    from headcheck.db.proof import Proof
    from headcheck.gate import GateResult

__all__ = ["ActionInputs", "add_arguments", "database_annotations", "read_inputs", "run"]


class ActionInputs(NamedTuple):
    """The inputs of action.yml, validated (names as in action.yml)."""

    path: str
    config: str
    name: str  # ini section, "" for every section
    base: str  # git ref to check the post-merge history against, "" for none
    database: str  # "none", "postgres", "mariadb" or "sqlite"
    database_url: str
    stairway: bool
    fail_on: str  # "error" or "warning"
    sarif: str  # workspace-relative path of the SARIF file to write, "" for none
    report: str  # workspace-relative path of the JSON report, "" for none
    ignore: str
    summary: bool
    annotations: bool


def read_inputs(environ: Mapping[str, str] | None = None) -> ActionInputs:
    """``INPUT_*`` as the runner sets them; raises InputError for a value the action cannot use."""
    env = os.environ if environ is None else environ
    database = get_input("database", env).lower() or "none"
    if database not in ("none", "postgres", "mariadb", "sqlite"):
        raise InputError(f"input 'database' must be none, postgres, mariadb or sqlite, got {database!r}")
    database_url = get_input("database-url", env)
    if database_url and database not in ("postgres", "mariadb"):
        raise InputError("input 'database-url' needs 'database: postgres' or 'database: mariadb'")
    fail_on = get_input("fail-on", env).lower() or "error"
    if fail_on not in ("error", "warning"):
        raise InputError(f"input 'fail-on' must be error or warning, got {fail_on!r}")
    return ActionInputs(
        path=get_input("path", env, default=".") or ".",
        config=get_input("config", env),
        name=get_input("name", env),
        base=get_input("base", env),
        database=database,
        database_url=database_url,
        stairway=get_bool_input("stairway", False, env),
        fail_on=fail_on,
        sarif=get_input("sarif", env),
        report=get_input("report", env, default="headcheck-report.json"),
        ignore=get_input("ignore", env),
        summary=get_bool_input("summary", True, env),
        annotations=get_bool_input("annotations", True, env),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Reads INPUT_PATH, INPUT_CONFIG, INPUT_NAME, INPUT_BASE, INPUT_DATABASE, INPUT_DATABASE-URL, INPUT_STAIRWAY, "
        "INPUT_FAIL-ON, INPUT_SARIF, INPUT_REPORT, INPUT_IGNORE, INPUT_SUMMARY, INPUT_ANNOTATIONS and writes to "
        "GITHUB_OUTPUT and GITHUB_STEP_SUMMARY inside GITHUB_WORKSPACE (see action.yml)."
    )


def _fail(message: str) -> int:
    """An input/config error: an annotation so it shows on the run page, and exit 2."""
    print(format_annotation(Annotation("error", message, title="headcheck: configuration")))
    print(line(f"headcheck: error: {message}"), file=sys.stderr)
    return EXIT_USAGE


def _inside(base: Path, relative: str, what: str) -> Path:
    path = (base / relative).resolve() if relative else base
    if not path.is_relative_to(base.resolve()):
        raise InputError(f"input '{what}' must stay inside the workspace, got {relative!r}")
    return path


def _redact(text: str) -> str:
    """Hide the password of any URL (``database-url`` may carry one) before it reaches the log."""
    from headcheck.db.urls import redact

    return redact(text)


# The image carries no MariaDB server (it would take the image past its size goal): a MariaDB service
# container of the job, reached through database-url (docs/github-action.md, "MariaDB").
MARIADB_NEEDS_A_SERVICE = (
    "database: mariadb needs a MariaDB server, and this image carries none: add a mariadb service container to "
    "the job and pass its URL as database-url: mysql+pymysql://... (docs/github-action.md, MariaDB)"
)


def _have_mariadb() -> bool:
    from headcheck.db.backends.mariadb import ServerError, find_mysql_bin

    try:
        find_mysql_bin()
    except ServerError:
        return False
    return True


class _Proved(NamedTuple):
    result: GateResult  # with what production will feel (locks, rewrites, squawk) as findings
    proofs: tuple[Proof | None, ...]  # by environment index; None where the proof did not run
    failure: str  # why the proof stopped ("" when it ran to the end)
    focus: Mapping[int, tuple[str, ...]]  # by environment index, the revisions judged


def _database_proof(
    inputs: ActionInputs, path: Path, config: Path | None, result: GateResult, change: ChangeResult | None
) -> _Proved:
    """The database proof as ``headcheck db`` runs it (``headcheck.commands.db.prove_gate``).
    Raises ProofError when it cannot start."""
    from headcheck.commands.db import Terminated, prove_gate, revisions_to_judge
    from headcheck.db.proof import Options, ProofError, ProofOptions, check_environments
    from headcheck.extras import missing_extra
    from headcheck.terminal import EXIT_TERMINATED

    problem = missing_extra("headcheck db", "postgres", ("alembic", "sqlalchemy"))
    if problem:
        raise ProofError(problem)
    if inputs.database == "mariadb" and not inputs.database_url and not _have_mariadb():
        raise ProofError(MARIADB_NEEDS_A_SERVICE)
    plan = Options(
        stairway=inputs.stairway,
        irreversible=result.settings.irreversible,
        downgrade_floor=result.settings.downgrade_floor,
        models_ignore=result.settings.models_ignore,
    )
    options = ProofOptions(plan=plan, database_url=inputs.database_url or None, backend=inputs.database)
    check_environments([env.environment for env in result.environments], options)
    work = result
    if change is not None:  # the proof runs the work tree's files: the focus is judged on them
        from headcheck.gate import run_gate

        work = run_gate(path, result.settings, EnvironmentSelection(config, inputs.name or None))
    try:
        options = ProofOptions(
            plan=plan,
            database_url=inputs.database_url or None,
            backend=inputs.database,
            focus=revisions_to_judge(work, change),
        )
        proved_result, proved = prove_gate(result, options)
    except Terminated:
        message = "headcheck: terminated; the database server and its files were removed"
        print(message, file=sys.stderr)
        return _Proved(result, (None,) * len(result.environments), f"{message} (exit {EXIT_TERMINATED})", {})
    return _Proved(proved_result, proved.proofs, "", options.focus)


_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)', re.M)


def database_annotations(proofs: Sequence[Proof | None], base: Path) -> list[Annotation]:
    """An error annotation per failed database step, on the revision file's line when the
    traceback shows it (the last frame inside the workspace that is not env.py)."""
    from headcheck.summary import error_headline

    found: list[Annotation] = []
    for proof in proofs:
        for step in proof.steps if proof is not None else ():
            if step.ok or not step.error:
                continue
            error = step.error.strip()
            file, line = None, None
            for frame in _FRAME.finditer(error):
                path = Path(frame["path"])
                if path.name != "env.py" and path.is_absolute() and path.is_relative_to(base):
                    file, line = workspace_relative(path, base), int(frame["line"])
            what = " ".join(part for part in (step.name, step.revision) if part)
            found.append(Annotation("error", error_headline(error), file, line, f"headcheck db: {what} failed"))
    return found


def _print_database_log(result: GateResult, proofs: Sequence[Proof | None]) -> None:
    """The database proof's verdict for the log, with the full error of each failed step."""
    for env, proof in zip(result.environments, proofs, strict=False):
        if proof is None:
            continue
        failed = [step for step in proof.steps if not step.ok]
        verdict = "passed" if proof.ok else "failed"
        print(
            line(f"{env.environment.name}: database proof {verdict}: {len(proof.steps)} step(s), {len(failed)} failed")
        )
        for step in failed:  # names, revisions and the migration's output are the pull request's
            what = " ".join(part for part in (step.name, step.revision) if part)
            print(line(f"  {what}:"))
            print(block((step.error or "failed").strip(), indent="    "))


def _write_json(relative: str, data: Mapping[str, Any], base: Path, what: str) -> str:
    """Write ``data`` as indented JSON; the path relative to the workspace (for the outputs)."""
    text = json.dumps(data, indent=2) + "\n"
    path = write_workspace_file(base, relative, text.encode("utf-8"), what)
    return workspace_relative(path, base)


class _Verdict(NamedTuple):
    """What the action reports: the gate (with the proof's findings), the proofs, the annotations
    for failed proof steps, the notes for the summary, and the revisions whose SQL it shows."""

    result: GateResult
    proofs: tuple[Proof | None, ...]
    focus: Mapping[int, tuple[str, ...]]
    annotations: list[Annotation]
    notes: list[str]
    ok: bool


def _read(base: Path) -> tuple[ActionInputs, Path, Path | None]:
    """The inputs, the path to check and the config file; raises InputError."""
    inputs = read_inputs()
    path = _inside(base, inputs.path, "path")
    config = _inside(base, inputs.config, "config") if inputs.config else None
    for what, value in (("sarif", inputs.sarif), ("report", inputs.report)):
        if value:
            workspace_file_parts(value, what)
    if not path.exists():
        raise InputError(f"input 'path': {inputs.path} does not exist in the workspace")
    return inputs, path, config


def _gate(
    inputs: ActionInputs, path: Path, config: Path | None, base: Path
) -> tuple[GateResult, ChangeResult | None, list[str]]:
    """The static gate (with ``base``: on the history after the merge); raises ConfigError."""
    from headcheck.gate import run_gate

    strict = True if inputs.fail_on == "warning" else None
    namespace = argparse.Namespace(path=str(path), ignore=inputs.ignore, max_heads=None, strict=strict)
    settings = settings_from(namespace)
    if not inputs.base:
        return run_gate(path, settings, EnvironmentSelection(config, inputs.name or None)), None, []
    from headcheck.change import describe, gate_against_base

    change = gate_against_base(
        path, settings, inputs.base, EnvironmentSelection(config, inputs.name or None), boundary=base
    )
    description = describe(change)
    print(description, end="" if description.endswith("\n") else "\n")
    return change.gate, change, [description.splitlines()[0].removeprefix("headcheck: ")]


def _verdict(
    inputs: ActionInputs,
    path: Path,
    config: Path | None,
    base: Path,
    gated: tuple[GateResult, ChangeResult | None, list[str]],
) -> _Verdict:
    """The database proof when asked for and the gate passed; raises ProofError, ConfigError."""
    result, change, notes = gated
    if inputs.database == "none":
        return _Verdict(result, (), {}, [], notes, result.ok)
    if not result.ok:
        skipped = "The database proof was skipped: the static gate failed, so the migrations cannot run."
        return _Verdict(result, (), {}, [], [*notes, skipped], False)
    proved = _database_proof(inputs, path, config, result, change)
    ok = not proved.failure and all(proof is None or proof.ok for proof in proved.proofs)
    annotations = []
    if not ok:
        annotations = database_annotations(proved.proofs, base) or [
            Annotation(
                "error", f"database proof failed: {proved.failure or 'see the job summary'}", title="headcheck db"
            )
        ]
    return _Verdict(proved.result, proved.proofs, proved.focus, annotations, notes, ok and proved.result.ok)


def _log(inputs: ActionInputs, verdict: _Verdict, base: Path) -> None:
    """Annotations, the text report and the proof's verdict on stdout (the job's log)."""
    from headcheck.report import text
    from headcheck.report.github import finding_annotations

    if inputs.annotations:
        for line in annotation_lines([*finding_annotations(verdict.result, base), *verdict.annotations]):
            print(line)
    sys.stdout.write(text.render(verdict.result))
    _print_database_log(verdict.result, verdict.proofs)
    sys.stdout.flush()


def _write(inputs: ActionInputs, verdict: _Verdict, base: Path) -> None:
    """The JSON report, SARIF, the job summary and the outputs; raises InputError,
    UnsafeWriteError, OSError."""
    from headcheck.db.report import report_dict
    from headcheck.report.sarif import sarif_log
    from headcheck.summary import render as render_summary

    result = verdict.result
    written: dict[str, str] = {}
    if inputs.report:
        written["report"] = _write_json(inputs.report, report_dict(result, verdict.proofs), base, "report")
    if inputs.sarif:
        written["sarif"] = _write_json(inputs.sarif, sarif_log(result, base), base, "sarif")
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if inputs.summary and summary_file:
        markdown = render_summary(result, base=base, proofs=verdict.proofs, notes=verdict.notes, focus=verdict.focus)
        append_summary(Path(summary_file), markdown + "\n")
    output_file = os.environ.get("GITHUB_OUTPUT")
    if output_file:
        heads = list(dict.fromkeys(h for env in result.environments for h in env.heads))
        by_env = {env.environment.name: env.heads for env in result.environments}
        outputs = {
            "ok": "true" if verdict.ok else "false",
            # Revision ids are the pull request's: a step that echoes these must not run commands.
            "heads": json_document(json.dumps(heads)),
            "heads-by-environment": json_document(json.dumps(by_env)),
            "report": written.get("report", ""),
            "sarif": written.get("sarif", ""),
        }
        write_outputs(Path(output_file), outputs)


def run(_args: argparse.Namespace) -> int:
    """Read the inputs, gate, prove, write the outputs."""
    from headcheck.db.proof import ProofError

    base = workspace()
    try:
        inputs, path, config = _read(base)
    except InputError as exc:
        return _fail(str(exc))
    # The workspace belongs to the runner's uid; git (used by --base and friends) must trust it.
    trust_directory(base)
    if path.is_dir() and path != base:
        trust_directory(path)
    try:
        gated = _gate(inputs, path, config, base)
    except ConfigError as exc:
        return _fail(str(exc))
    if not gated[0].environments:
        return _fail(f"no Alembic environment found under {inputs.path}; set the 'config' input")
    try:
        verdict = _verdict(inputs, path, config, base, gated)
    except (ProofError, ConfigError) as exc:
        return _fail(f"database proof: {_redact(str(exc))}")
    _log(inputs, verdict, base)
    try:
        _write(inputs, verdict, base)
    except (InputError, UnsafeWriteError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {exc.filename}: {exc.strerror or exc}")
    return EXIT_OK if verdict.ok else EXIT_FAIL

"""The ``database`` section of the text and JSON reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headcheck.db.proof import Proof
from headcheck.db.rows_findings import rows_notice
from headcheck.db.sql_report import revisions_dict, sql_lines
from headcheck.gate import GateResult
from headcheck.logsafe import block, json_document, line
from headcheck.report.json_report import SCHEMA_VERSION, environment_dict
from headcheck.terminal import paint

__all__ = ["json_report", "proof_dict", "report_dict", "text_section"]


def proof_dict(proof: Proof, root: Path | None = None) -> dict[str, Any]:
    return {
        "server_version": proof.server_version,
        "startup_seconds": round(proof.startup_seconds, 4),
        "ok": proof.ok,
        "steps": [
            {
                "name": step.name,
                "revision": step.revision,
                "seconds": round(step.seconds, 4),
                "ok": step.ok,
                "error": step.error,
            }
            for step in proof.steps
        ],
        "slowest": [{"revision": rev, "seconds": round(seconds, 4)} for rev, seconds in proof.slowest],
        "schema_diffs": [
            {"revision": d.revision, "check": d.check, "message": d.message, "lines": list(d.lines)}
            for d in proof.schema_diffs
        ],
        "revisions": revisions_dict(proof.traces, root),
        "models": _models_dict(proof),
        "rows_notice": rows_notice(proof.rows),
    }


def _models_dict(proof: Proof) -> dict[str, Any] | None:
    """The model comparison (headcheck.db.drift; its differences are findings): None when off."""
    models = proof.models
    if models is None:
        return None
    compared = models.notice is None
    return {
        "compared": compared,
        "notice": models.notice,
        "differences": len(models.drift) if compared else None,
        "seconds": round(models.seconds, 4),
    }


def report_dict(result: GateResult, proofs: Sequence[Proof | None] = ()) -> dict[str, Any]:
    """The static JSON report's document, each proven environment with its ``database`` section
    (``proofs[i]`` is environment i's, or None), and ``ok`` covering the proofs."""
    environments = []
    for index, env in enumerate(result.environments):
        entry = environment_dict(env, result)
        proof = proofs[index] if index < len(proofs) else None
        if proof is not None:
            entry = {**entry, "ok": bool(entry["ok"]) and proof.ok, "database": proof_dict(proof, result.root)}
        environments.append(entry)
    return {
        "version": SCHEMA_VERSION,
        "ok": result.ok and all(proof.ok for proof in proofs if proof is not None),
        "environments": environments,
    }


def json_report(result: GateResult, proofs: Sequence[Proof | None] = ()) -> str:
    """The static JSON report; each proven environment gains ``database``, and ``ok`` covers it."""
    return json_document(json.dumps(report_dict(result, proofs), indent=2)) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _server_label(version: str) -> str:
    """``PostgreSQL 16.4``; ``MariaDB 10.11.19`` for MariaDB's ``10.11.19-MariaDB-0+deb12u1``;
    ``SQLite 3.40.1`` as the SQLite backend names itself."""
    if version.startswith("SQLite"):
        return version.split("-")[0]
    if "mariadb" in version.lower():
        return f"MariaDB {version.split('-')[0]}"
    return f"PostgreSQL {version.split(' ')[0]}"


def text_section(
    name: str, proof: Proof, *, color: bool = False, show_sql: bool = False, root: Path | None = None
) -> str:
    where = "external database" if not proof.server_version else _server_label(proof.server_version)
    started = f", started in {proof.startup_seconds:.2f} s" if proof.startup_seconds else ""
    out = [paint(line(f"{name}: database proof on {where}{started}"), "bold", color)]
    width = max((len(step.name) for step in proof.steps), default=0)
    rev_width = max((len(step.revision or "") for step in proof.steps), default=0) + 2
    for step in proof.steps:
        mark = paint("ok  ", "ok", color) if step.ok else paint("FAIL", "error", color)
        revision = step.revision or ""
        out.append(f"  {mark} {line(step.name.ljust(width))} {line(revision.ljust(rev_width))} {step.seconds:7.3f} s")
        if step.error:  # the migration's own output: the pull request's
            out.append(block(step.error.rstrip(), indent="       "))
    if proof.slowest:
        slowest = ", ".join(f"{rev} {seconds:.3f} s" for rev, seconds in proof.slowest)
        out.append(paint(line(f"  slowest: {slowest}"), "dim", color))
    stopped = rows_notice(proof.rows)
    if stopped is not None:
        out.append(line(f"  rows: {stopped}"))
    if proof.models is not None:  # headcheck.db.drift: the differences are findings (HC640-HC642)
        if proof.models.notice is not None:
            out.append(line(f"  models: not compared: {proof.models.notice}"))
        else:
            found = len(proof.models.drift)
            out.append(
                line(
                    f"  models: compared with the migrations, {_count(found, 'difference')} ({proof.models.seconds:.2f} s)"
                )
            )
    if show_sql:  # headcheck.db.sql_report: each revision's statements at their op.* lines
        out += sql_lines(proof.traces, root)
    failed = sum(not step.ok for step in proof.steps)
    if proof.ok:
        out.append(paint(f"database: ok ({_count(len(proof.steps), 'step')})", "ok", color))
    else:
        out.append(paint(f"database: failed ({failed} of {_count(len(proof.steps), 'step')})", "error", color))
    out.append("")
    return "\n".join(out)

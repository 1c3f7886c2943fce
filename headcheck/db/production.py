"""What production will feel: the proof's observations (headcheck.db.locks) and squawk's lint of
the captured SQL (headcheck.db.squawk) as findings of the environment they belong to, so that
every report (text, JSON, SARIF, annotations, summary) and the exit code see them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from headcheck.db.locks import lock_findings
from headcheck.db.proof import Proof
from headcheck.findings import Finding
from headcheck.gate import GateResult

__all__ = ["with_production_findings"]


def with_production_findings(
    result: GateResult,
    proofs: Mapping[int, Proof],
    *,
    squawk: bool = True,
    pg_version: str | None = None,
    focus: Mapping[int, Collection[str]] | None = None,
) -> GateResult:
    """``result`` with each proven environment's lock, rewrite and squawk findings added.
    ``focus``: by environment index, the revisions whose findings are kept (the history before
    them is what production already has)."""
    environments = list(result.environments)
    ignore = result.settings.ignore
    for index, proof in proofs.items():
        traces = proof.traces
        found: list[Finding] = lock_findings(traces, ignore)  # (all revisions: a lock held across them)
        keep = None if focus is None else focus.get(index)
        if keep is not None:
            traces = tuple(t for t in traces if t.revision in keep)
            paths = {Path(t.path) for t in traces if t.path}
            found = [f for f in found if f.path is not None and Path(f.path) in paths]
        if proof.rows:  # what the generated rows showed (HC630, HC631)
            from headcheck.db.rows_findings import rows_findings

            found += rows_findings(proof.rows, ignore, keep)
        if squawk:
            from headcheck.db.squawk import squawk_findings

            found += squawk_findings(traces, found, ignore, pg_version or proof.server_version)
        if found:
            env = environments[index]
            # the static twin (HC611) is redundant where the proof observed the same index build (HC603)
            observed = {(f.path, f.line) for f in found if f.code == "HC603"}
            static = tuple(f for f in env.findings if not (f.code == "HC611" and (f.path, f.line) in observed))
            environments[index] = env._replace(findings=static + tuple(found))
    return result._replace(environments=tuple(environments))

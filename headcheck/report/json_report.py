"""``--format json``: the stable, versioned machine-readable report (see README)."""

from __future__ import annotations

import json
from typing import Any

from headcheck.findings import Finding, relpath
from headcheck.gate import EnvironmentResult, GateResult
from headcheck.logsafe import json_document

SCHEMA_VERSION = 1


def finding_dict(finding: Finding, result: GateResult) -> dict[str, Any]:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity,
        "message": finding.message,
        "fix": finding.fix,
        "path": relpath(finding.path, result.root),
        "line": finding.line,
        "revisions": list(finding.revisions),
    }


def environment_dict(env: EnvironmentResult, result: GateResult) -> dict[str, Any]:
    graph = env.graph
    config = env.environment
    return {
        "name": config.name,
        "kind": config.kind,
        "config": relpath(config.config_path, result.root),
        "section": config.section,
        "script_location": relpath(config.script_location, result.root),
        "version_locations": [relpath(loc.path, result.root) for loc in config.version_locations],
        "ok": not env.failed(result.settings),
        "revisions": env.revision_count,  # as Alembic counts them: a duplicated id once
        "files": env.file_count,
        "heads": env.heads,
        "real_heads": graph.ids(graph.real_heads),
        "bases": env.bases,
        "merge_points": graph.ids(graph.merge_points),
        "branch_points": graph.ids(graph.branch_points),
        "branch_labels": {label: graph.nodes[owner].revision for label, owner in graph.label_owner.items()},
        "findings": [finding_dict(f, result) for f in env.findings],
    }


def report_dict(result: GateResult) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "ok": result.ok,
        "environments": [environment_dict(env, result) for env in result.environments],
    }


def render(result: GateResult, *, color: bool = False) -> str:  # noqa: ARG001 -- every renderer is render(result, *, color) (headcheck.report)
    return json_document(json.dumps(report_dict(result), indent=2)) + "\n"

"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning (``github/codeql-action/upload-sarif``).

Rule ids are the stable finding codes of :data:`headcheck.rules.RULES` (every rule is listed, so
``ruleIndex`` never moves between runs). Artifact URIs are relative to ``$GITHUB_WORKSPACE``
(the current folder outside Actions) under ``uriBaseId`` ``%SRCROOT%``: an absolute
``file:///github/workspace/…`` written inside the action container would not match the
checkout on the host.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from headcheck import __version__
from headcheck.findings import Finding
from headcheck.gate import EnvironmentResult, GateResult
from headcheck.github import workspace, workspace_relative
from headcheck.logsafe import json_document
from headcheck.report.github import finding_file
from headcheck.rules import RULES, Rule

__all__ = ["SCHEMA_URI", "render", "sarif_log"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/headcheck/"
_RULE_INDEX = {code: k for k, code in enumerate(RULES)}


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary} {rule.why}"},
        "help": {
            "text": f"{rule.summary}\nWhy it breaks deploys: {rule.why}\nFix: {rule.fix}",
            "markdown": f"{rule.summary}\n\n**Why it breaks deploys:** {rule.why}\n\n**Fix:** {rule.fix}",
        },
        "defaultConfiguration": {"level": rule.severity},
        "properties": {"tags": ["alembic", "migrations"], "precision": "very-high"},
    }


def _result(finding: Finding, env: EnvironmentResult, result: GateResult, base: Path) -> dict[str, Any]:
    config = env.environment
    location = finding_file(finding, env) or config.script_location
    uri = workspace_relative(location, base)
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    if finding.line is not None and finding.line >= 1 and location == finding.path:
        physical["region"] = {"startLine": finding.line}
    text = finding.message + (f" Fix: {finding.fix}" if finding.fix else "")
    # Stable across runs and line moves: the rule, the file and the revisions involved.
    identity = "\0".join(
        [finding.code, config.name, uri, *finding.revisions, "" if finding.revisions else finding.message]
    )
    level = result.settings.gate_severity(finding.severity)
    return {
        "ruleId": finding.code,
        "ruleIndex": _RULE_INDEX[finding.code],
        "level": level,
        "message": {"text": text},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {"headcheckFinding/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]},
        "properties": {"environment": config.name, "revisions": list(finding.revisions)},
    }


def sarif_log(result: GateResult, base: Path | None = None) -> dict[str, Any]:
    """The SARIF log as a dict: one run, every rule, one result per finding."""
    where = workspace() if base is None else base
    results = [_result(f, env, result, where) for env in result.environments for f in env.findings]
    run: dict[str, Any] = {}
    server, repo, sha = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if server and repo and sha:  # which commit was analysed (GitHub Actions sets these)
        run["versionControlProvenance"] = [{"repositoryUri": f"{server}/{repo}", "revisionId": sha}]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "headcheck",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(rule) for rule in RULES.values()],
                    }
                },
                "automationDetails": {"id": "headcheck/"},
                "columnKind": "unicodeCodePoints",
                "results": results,
                "invocations": [{"executionSuccessful": True}],
                **run,
            }
        ],
    }


def render(result: GateResult, *, color: bool = False) -> str:  # noqa: ARG001 -- every renderer is render(result, *, color) (headcheck.report)
    return json_document(json.dumps(sarif_log(result), indent=2)) + "\n"

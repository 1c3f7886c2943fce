"""``--format github``: workflow-command annotations, then the text report for the log.

For a plain ``pip install headcheck`` step: GitHub turns each ``::error file=…,line=…::`` line
into an annotation on the revision file. Paths are made relative to ``$GITHUB_WORKSPACE`` (the
current folder outside Actions), which is what the runner resolves them against.
"""

from __future__ import annotations

from pathlib import Path

from headcheck import logsafe
from headcheck.findings import Finding
from headcheck.gate import EnvironmentResult, GateResult
from headcheck.github import Annotation, annotation_lines, workspace, workspace_relative
from headcheck.report import text

__all__ = ["finding_annotations", "finding_file", "render"]


def finding_file(finding: Finding, env: EnvironmentResult) -> Path | None:
    """The file to attach a finding to: its own, else the environment's config file.

    A finding about a folder (an ignored subfolder, a missing version location) goes on the
    config file that decides about it: GitHub attaches annotations and code-scanning alerts to files.
    """
    config = env.environment
    path = finding.path
    if path is not None and not path.is_dir():
        return path
    return config.config_path or path or config.script_location


def finding_annotations(result: GateResult, base: Path | None = None) -> list[Annotation]:
    """One annotation per finding (errors first), paths relative to ``base`` (the workspace)."""
    where = workspace() if base is None else base
    items: list[Annotation] = []
    for env in result.environments:
        for finding in env.findings:
            location = finding_file(finding, env)
            file = workspace_relative(location, where) if location is not None else None
            line = finding.line if location == finding.path else None
            message = finding.message
            if len(result.environments) > 1:
                message = f"[{env.environment.name}] {message}"
            # One line each (a newline in a revision id stays visible as \n); the fix on the next.
            message = logsafe.line(message) + (f"\nfix: {logsafe.line(finding.fix)}" if finding.fix else "")
            # With --strict (fail-on: warning) a warning fails the gate, so it is shown as an error.
            kind = result.settings.gate_severity(finding.severity)
            items.append(Annotation(kind, message, file, line, f"{finding.code} {finding.name}"))
    items.sort(key=lambda a: a.kind != "error")
    return items


def render(result: GateResult, *, color: bool = False) -> str:  # noqa: ARG001 -- every renderer is render(result, *, color) (headcheck.report)
    lines = annotation_lines(finding_annotations(result))
    return "\n".join(lines) + ("\n" if lines else "") + text.render(result, color=False)

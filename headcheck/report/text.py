"""``--format text``: file:line first, the fix on the next line; colour only on a terminal.

Every line is composed in full, then passed through :func:`headcheck.logsafe.line` (revision ids,
paths, section names and messages come from the pull request), and only then coloured.
"""

from __future__ import annotations

from headcheck.findings import relpath
from headcheck.gate import GateResult
from headcheck.logsafe import line
from headcheck.report import environment_label
from headcheck.terminal import paint


def render(result: GateResult, *, color: bool = False) -> str:
    out: list[str] = []
    for env in result.environments:
        config = env.environment
        where = relpath(config.config_path, result.root) or relpath(config.script_location, result.root)
        heads = ", ".join(env.heads) or "none"
        count = env.revision_count
        title = f"{environment_label(config, result.root)}: {count} revision{'' if count == 1 else 's'}, heads: {heads}"
        out.append(paint(line(title), "bold", color))
        for finding in sorted(env.findings, key=lambda f: (f.severity != "error", str(f.path), f.line or 0)):
            location = relpath(finding.path, result.root) or where or "."
            if finding.line is not None:
                location = f"{location}:{finding.line}"
            code = f"{finding.code} {finding.severity}"
            text = line(f"{location}: {code}: {finding.message} [{finding.name}]")
            # Colour the code only where it still stands after the neutralised location.
            head = f"{line(location)}: {code}: "
            if color and text.startswith(head):
                text = f"{head[: -len(code) - 2]}{paint(code, finding.severity, color)}: {text[len(head) :]}"
            out.append(text)
            if finding.fix:
                out.append(line(f"  fix: {finding.fix}"))
        verdict = "failed" if env.failed(result.settings) else "ok"
        errors = sum(f.severity == "error" for f in env.findings)
        warnings = len(env.findings) - errors
        summary = f"{verdict}: {errors} error(s), {warnings} warning(s)"
        out.append(paint(summary, "error" if verdict == "failed" else "ok", color))
        out.append("")
    return "\n".join(out)

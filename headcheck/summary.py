"""The job summary: GitHub-flavoured Markdown for ``$GITHUB_STEP_SUMMARY``.

Per environment: the verdict, the heads, every finding (linked to the file at the checked commit
when the run's ``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``/``GITHUB_SHA`` are known), a picture
of the part of the graph that matters (Mermaid, or a table for big graphs) and, when the
database proof ran, its step timings. Kept far below the runner's 1 MiB per-step limit: long
finding lists are cut, and pictures are dropped first if the text would still be too big.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from headcheck import picture
from headcheck.findings import Finding
from headcheck.gate import EnvironmentResult, GateResult
from headcheck.github import workspace_relative

__all__ = ["MAX_FINDINGS", "SIZE_BUDGET", "render"]

MAX_FINDINGS = 50  # rows per environment; the JSON report and the log have them all
SIZE_BUDGET = 512 * 1024  # bytes; GitHub refuses a step summary over 1 MiB
_ICON = {"error": "❌", "warning": "⚠️", True: "✅", False: "❌"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _blob_url(relative: str, line: int | None, environ: Mapping[str, str]) -> str | None:
    server, repo, sha = (environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if not (server and repo and sha) or relative.startswith("../"):
        return None
    return f"{server}/{repo}/blob/{sha}/{quote(relative)}" + (f"#L{line}" if line else "")


def _location(finding: Finding, env: EnvironmentResult, base: Path, environ: Mapping[str, str]) -> str:
    path = finding.path or env.environment.config_path
    if path is None:
        return ""
    relative = workspace_relative(path, base)
    text = f"{relative}:{finding.line}" if finding.line else relative
    url = _blob_url(relative, finding.line, environ)
    return f"[{_code(text)}]({url})" if url else _code(text)


def _picture_caption(env: EnvironmentResult) -> str:
    codes = {f.code for f in env.findings}
    if "HC101" in codes:
        return "the fork and its heads"
    if codes & {"HC102", "HC103", "HC104"}:
        return "the dangling reference"
    if codes & {"HC105", "HC106"}:
        return "the cycle"
    if env.findings:
        return "the revisions named by the findings"
    return "the latest revisions"


def _seconds(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) and not isinstance(value, bool) else "—"


def _database(db: Mapping[str, Any]) -> list[str]:
    """The database proof's steps (``headcheck db --format json``: environments[].database)."""
    verdict = _ICON[bool(db.get("ok"))]
    server = db.get("server_version") or "PostgreSQL"
    out = [f"**Database proof** {verdict}: {server}, started in {_seconds(db.get('startup_seconds'))} s", ""]
    steps = [s for s in db.get("steps") or [] if isinstance(s, Mapping)]
    if steps:
        out += ["| step | revision | seconds | result |", "|---|---|---:|---|"]
        for step in steps[:MAX_FINDINGS]:
            error = step.get("error")
            result = _ICON[bool(step.get("ok"))] + (f" {_cell(str(error))}" if error else "")
            revision = _code(str(step["revision"])) if step.get("revision") else ""
            out.append(
                f"| {_cell(str(step.get('name', '')))} | {revision} | {_seconds(step.get('seconds'))} | {result} |"
            )
        if len(steps) > MAX_FINDINGS:
            out.append(f"| … {len(steps) - MAX_FINDINGS} more steps | | | |")
        total = sum(s["seconds"] for s in steps if isinstance(s.get("seconds"), int | float))
        out += ["", f"{len(steps)} step(s), {total:.2f} s in total."]
    slowest = db.get("slowest") or []
    if slowest:
        names = []
        for entry in slowest[:5]:
            if isinstance(entry, Mapping):
                what = entry.get("revision") or entry.get("name") or "?"
                names.append(f"{_code(str(what))} {_seconds(entry.get('seconds'))} s")
            elif isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) >= 2:
                names.append(f"{_code(str(entry[0]))} {_seconds(entry[1])} s")
            else:
                names.append(_code(str(entry)))
        out += ["", "Slowest: " + ", ".join(names)]
    return [*out, ""]


def _environment(
    env: EnvironmentResult,
    result: GateResult,
    base: Path,
    db: Mapping[str, Any] | None,
    environ: Mapping[str, str],
    pictures: bool,
) -> list[str]:
    config = env.environment
    failed = env.failed(result.settings)
    where = config.config_path or config.script_location
    out = [f"### {_ICON[not failed]} {config.name}: {_code(workspace_relative(where, base))}", ""]
    heads = ", ".join(_code(h) for h in env.heads) or "none"
    out += [f"**Heads:** {heads} · {len(env.graph.nodes)} revision(s) · **{'failed' if failed else 'passed'}**", ""]
    findings = sorted(env.findings, key=lambda f: (f.severity != "error", str(f.path), f.line or 0))
    if findings:
        out += ["| | rule | where | message | fix |", "|---|---|---|---|---|"]
        for finding in findings[:MAX_FINDINGS]:
            icon = _ICON["error" if finding.severity == "error" or result.settings.strict else "warning"]
            rule = f"{_code(finding.code)} {finding.name}"
            location = _location(finding, env, base, environ)
            out.append(f"| {icon} | {rule} | {location} | {_cell(finding.message)} | {_cell(finding.fix or '')} |")
        if len(findings) > MAX_FINDINGS:
            out.append(f"| | | | … {len(findings) - MAX_FINDINGS} more: see the log or the JSON report | |")
        out.append("")
    if pictures and env.graph.nodes:
        out += [
            f"<details open><summary>Graph: {_picture_caption(env)}</summary>",
            "",
            picture.summary_picture(env).rstrip("\n"),
            "",
            "</details>",
            "",
        ]
    if db:
        out += _database(db)
    return out


def render(
    result: GateResult,
    *,
    base: Path,
    databases: Sequence[Mapping[str, Any] | None] = (),
    notes: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    budget: int = SIZE_BUDGET,
) -> str:
    """The summary for ``result``; ``databases[i]`` is the database proof of environment i, if any.

    ``base`` is the workspace: every path is shown relative to it.
    """
    env_vars = os.environ if environ is None else environ
    dbs = list(databases) + [None] * (len(result.environments) - len(databases))
    ok = result.ok and all(db is None or db.get("ok") for db in dbs)

    def build(pictures: bool, limit: int | None) -> str:
        out = [f"## {_ICON[ok]} headcheck: {'passed' if ok else 'failed'}", ""]
        out += [f"> {_cell(note)}" for note in notes]
        if notes:
            out.append("")
        if len(result.environments) > 1:
            out += ["| environment | verdict | revisions | heads | errors | warnings |", "|---|---|---:|---|---:|---:|"]
            for env in result.environments:
                errors = sum(f.severity == "error" for f in env.findings)
                verdict = f"{_ICON[not env.failed(result.settings)]}"
                heads = ", ".join(_code(h) for h in env.heads) or "none"
                out.append(
                    f"| {env.environment.name} | {verdict} | {len(env.graph.nodes)} | {heads} | {errors} | "
                    f"{len(env.findings) - errors} |"
                )
            out.append("")
        shown = result.environments if limit is None else result.environments[:limit]
        for env, db in zip(shown, dbs, strict=False):
            out += _environment(env, result, base, db, env_vars, pictures)
        if len(shown) < len(result.environments):
            out += [
                f"_{len(result.environments) - len(shown)} more environment(s): see the log or the JSON report._",
                "",
            ]
        return "\n".join(out)

    text = build(True, None)
    if len(text.encode()) > budget:
        text = build(False, None)
    limit = len(result.environments)
    while len(text.encode()) > budget and limit > 1:
        limit //= 2
        text = build(False, limit)
    return text

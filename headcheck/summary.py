"""The job summary: GitHub-flavoured Markdown for ``$GITHUB_STEP_SUMMARY``.

Per environment: the verdict, the heads, every finding (linked to the file at the checked commit
when the run's ``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``/``GITHUB_SHA`` are known), a picture
of the part of the graph that matters (Mermaid, or a table for big graphs) and, when the
database proof ran, its step timings. Kept far below the runner's 1 MiB per-step limit: long
finding lists are cut, and pictures are dropped first if the text would still be too big.

Every string from the repository goes through :mod:`headcheck.markdown`, escaped for the exact
place it lands (heading, list text, table cell, inline code, fenced block; Mermaid labels in
:mod:`headcheck.picture`), so a revision id or section name cannot add headings, links, images,
HTML or table rows of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from headcheck import markdown, picture
from headcheck.findings import Finding
from headcheck.gate import EnvironmentResult, GateResult
from headcheck.github import workspace_relative

if TYPE_CHECKING:
    from headcheck.db.proof import Proof

__all__ = ["MAX_FINDINGS", "SIZE_BUDGET", "error_headline", "render"]

MAX_FINDINGS = 50  # rows per environment; the JSON report and the log have them all
SIZE_BUDGET = 512 * 1024  # bytes; GitHub refuses a step summary over 1 MiB
_SEVERITY_ICON = {"error": "❌", "warning": "⚠️"}


def _verdict(ok: bool) -> str:
    return "✅" if ok else "❌"


def _heads(heads: Sequence[str], limit: int = 20, table: bool = False) -> str:
    shown = ", ".join(markdown.code(h, table=table) for h in heads[:limit]) or "none"
    return shown + (f" and {len(heads) - limit} more" if len(heads) > limit else "")


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
    return f"[{markdown.code(text)}]({url})" if url else markdown.code(text)


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


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt|Detected|Failure)\b.*:")


def error_headline(error: str) -> str:
    """The line of an error text worth a table cell: the exception (``pkg.SomeError: why``), else the last line."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return line
    return lines[-1] if lines else ""


def _duration(value: float) -> str:
    """``0.0028`` -> "2.8 ms", ``1.93`` -> "1.93 s"."""
    return f"{value * 1000:.1f}\u00a0ms" if value < 1 else f"{value:.2f}\u00a0s"  # no-break space


def _database(proof: Proof) -> list[str]:
    """The database proof's steps."""
    verdict = _verdict(proof.ok)
    server = proof.server_version
    server = server if server.startswith("PostgreSQL") else f"PostgreSQL {server}".rstrip()
    started = _duration(proof.startup_seconds)
    out = [f"**Database proof** {verdict}: {markdown.text(server)}, started in {started}", ""]
    steps = proof.steps
    if steps:
        out += ["| step | revision | time | result |", "|---|---|---:|---|"]
        failures: list[str] = []
        # Over the limit: every failed step, then the earliest others, in the proof's order.
        failed = [k for k, step in enumerate(steps) if not step.ok][:MAX_FINDINGS]
        keep = set(failed) | set(range(len(steps))[: MAX_FINDINGS - len(failed)])
        for step in (step for k, step in enumerate(steps) if k in keep):
            error = (step.error or "").strip()
            last = error_headline(error)
            result = _verdict(step.ok) + (f" {markdown.cell(last, 300)}" if last else "")
            if error and "\n" in error:
                failures.append(error)
            revision = markdown.code(step.revision, table=True) if step.revision else ""
            out.append(f"| {markdown.cell(step.name)} | {revision} | {_duration(step.seconds)} | {result} |")
        if len(steps) > MAX_FINDINGS:
            out.append(f"| … {len(steps) - MAX_FINDINGS} more steps | | | |")
        total = sum(step.seconds for step in steps)
        out += ["", f"{len(steps)} step(s), {_duration(total)} in total."]
        for error in failures[:3]:
            text = error if len(error) <= 4000 else error[:4000] + "\n…"
            out += ["", "<details><summary>Error output</summary>", "", *markdown.fenced(text), "", "</details>"]
    if proof.slowest:
        names = [f"{markdown.code(revision)} {_duration(seconds)}" for revision, seconds in proof.slowest[:5]]
        out += ["", "Slowest migrations: " + ", ".join(names)]
    return [*out, ""]


def _environment(
    env: EnvironmentResult,
    result: GateResult,
    base: Path,
    db: Proof | None,
    environ: Mapping[str, str],
    pictures: bool,
    expand: bool,
) -> list[str]:
    """One environment's section; its graph is unfolded when it failed or is the only one."""
    config = env.environment
    failed = env.failed(result.settings) or (db is not None and not db.ok)
    where = config.config_path or config.script_location
    title = f"{markdown.heading(config.name)}: {markdown.code(workspace_relative(where, base))}"
    out = [f"### {_verdict(not failed)} {title}", ""]
    heads = _heads(env.heads)
    out += [f"**Heads:** {heads} · {len(env.graph.nodes)} revision(s) · **{'failed' if failed else 'passed'}**", ""]
    findings = sorted(env.findings, key=lambda f: (f.severity != "error", str(f.path), f.line or 0))
    if findings:
        # A list, not a table: messages and fixes are sentences, too long for table columns.
        for finding in findings[:MAX_FINDINGS]:
            icon = _SEVERITY_ICON["error" if finding.severity == "error" or result.settings.strict else "warning"]
            location = _location(finding, env, base, environ)
            head = f"- {icon} **{markdown.code(finding.code)} {finding.name}**" + (
                f" at {location}" if location else ""
            )
            fix = f"<br>**Fix:** {markdown.text(finding.fix, code_spans=True)}" if finding.fix else ""
            out.append(f"{head}<br>{markdown.text(finding.message, code_spans=True)}{fix}")
        if len(findings) > MAX_FINDINGS:
            out.append(f"- … {len(findings) - MAX_FINDINGS} more: see the log or the JSON report")
        out.append("")
    if pictures and env.graph.nodes:
        out += [
            f"<details{' open' if expand or failed else ''}><summary>Graph: {_picture_caption(env)}</summary>",
            "",
            picture.summary_picture(env).rstrip("\n"),
            "",
            "</details>",
            "",
        ]
    if db is not None:
        out += _database(db)
    return out


def render(
    result: GateResult,
    *,
    base: Path,
    proofs: Sequence[Proof | None] = (),
    notes: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    budget: int = SIZE_BUDGET,
) -> str:
    """The summary for ``result``; ``proofs[i]`` is the database proof of environment i, if any.

    ``base`` is the workspace: every path is shown relative to it.
    """
    env_vars = os.environ if environ is None else environ
    dbs = list(proofs) + [None] * (len(result.environments) - len(proofs))
    ok = result.ok and all(db is None or db.ok for db in dbs)

    def build(pictures: bool, limit: int | None) -> str:
        out = [f"## {_verdict(ok)} headcheck: {'passed' if ok else 'failed'}", ""]
        out += [f"> {markdown.text(note)}" for note in notes]
        if notes:
            out.append("")
        if len(result.environments) > 1:
            out += ["| environment | verdict | revisions | heads | errors | warnings |", "|---|---|---:|---|---:|---:|"]
            for env in result.environments:
                errors = sum(f.severity == "error" for f in env.findings)
                verdict = _verdict(not env.failed(result.settings))
                heads = _heads(env.heads, 5, table=True)
                out.append(
                    f"| {markdown.cell(env.environment.name)} | {verdict} | {len(env.graph.nodes)} | {heads} | {errors} | "
                    f"{len(env.findings) - errors} |"
                )
            out.append("")
        shown = result.environments if limit is None else result.environments[:limit]
        for env, db in zip(shown, dbs, strict=False):
            out += _environment(env, result, base, db, env_vars, pictures, len(result.environments) == 1)
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
    if len(text.encode()) > budget:  # one environment alone is too big: cut at a line
        note = "\n\n_The summary was cut here to stay under GitHub's size limit; see the log or the JSON report._\n"
        cut = text.encode()[: budget - len(note.encode())].decode("utf-8", errors="ignore")
        text = cut[: cut.rfind("\n")] + note
    return text

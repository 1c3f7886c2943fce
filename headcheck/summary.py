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
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from headcheck import markdown, picture
from headcheck.findings import Finding
from headcheck.gate import EnvironmentResult, GateResult
from headcheck.github import workspace_relative

if TYPE_CHECKING:
    from headcheck.db.proof import Proof
    from headcheck.db.trace import Statement, StepTrace

__all__ = ["MAX_FINDINGS", "SIZE_BUDGET", "SQL_SHARE", "error_headline", "render"]

MAX_FINDINGS = 50  # rows per environment; the JSON report and the log have them all
SIZE_BUDGET = 512 * 1024  # bytes; GitHub refuses a step summary over 1 MiB
SQL_SHARE = 4  # the SQL of the revisions takes at most 1/SQL_SHARE of the budget
SQL_STATEMENT_LIMIT = 4000  # characters of one statement shown (the JSON report has all)
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


def _size(lines: Sequence[str]) -> int:
    return sum(len(text.encode()) + 1 for text in lines)


def _statement(statement: Statement, path: str | None, environ: Mapping[str, str]) -> list[str]:
    """One statement: where it came from (the op.* line), its duration, what it locked, the SQL."""
    from headcheck.db.locks import mode_name

    if path is None or statement.line is None:
        where = "outside the revision file"
    else:
        url = _blob_url(path, statement.line, environ)
        where = markdown.code(f"{path}:{statement.line}")
        where = f"[{where}]({url})" if url else where
    notes = [f"{mode_name(mode)} on {name}" for name, _, mode in statement.locks]
    notes += [f"rewrites {name}" for name, _ in statement.rewrites]
    shown = "".join(f" · {markdown.text(note)}" for note in notes)
    sql = statement.sql.strip()
    sql = sql if len(sql) <= SQL_STATEMENT_LIMIT else sql[:SQL_STATEMENT_LIMIT] + "\n…"
    return [f"{where} · {_duration(statement.seconds)}{shown}", *markdown.fenced(sql or "(empty)", "sql"), ""]


def _revision_sql(
    revision: str, steps: Mapping[str, StepTrace], base: Path, environ: Mapping[str, str]
) -> tuple[list[str], list[tuple[list[str], int]], list[str]]:
    """(opening lines, (lines, statements) blocks, closing lines) of one revision's collapsed SQL."""
    any_step = next(iter(steps.values()))
    path = workspace_relative(Path(any_step.path), base) if any_step.path else None
    counts = ", ".join(f"{len(steps[d].statements)} {d}" for d in ("upgrade", "downgrade") if d in steps)
    opening = [f"<details><summary>SQL of <code>{markdown.html(revision)}</code>: {counts} statement(s)</summary>", ""]
    url = _blob_url(path, None, environ) if path else None
    if path:
        opening += [f"[{markdown.code(path)}]({url})" if url else markdown.code(path), ""]
    blocks: list[tuple[list[str], int]] = []
    for direction in ("upgrade", "downgrade"):
        if direction not in steps:
            continue
        statements = steps[direction].statements
        heading = [f"**{direction}**: {len(statements)} statement(s)", ""]
        if not statements:
            blocks.append((heading, 0))
        for k, statement in enumerate(statements):
            blocks.append(([*(heading if k == 0 else []), *_statement(statement, path, environ)], 1))
    return opening, blocks, ["</details>", ""]


def _sql(proof: Proof, base: Path, environ: Mapping[str, str], budget: int, only: Collection[str] | None) -> list[str]:
    """The SQL each revision ran (its first upgrade and downgrade), collapsed per revision, at most
    ``budget`` bytes: whole statements only, then a note of how many more there are. ``only``: the
    revisions judged (``--base``: the ones the change adds), in the order they ran; else every
    revision, newest first."""
    from headcheck.db.sql_report import first_steps

    revisions = list(first_steps(proof.traces).items())
    if only is not None:
        revisions = [(revision, steps) for revision, steps in revisions if revision in only]
    else:
        revisions.reverse()
    if not revisions:
        return []
    total = sum(len(trace.statements) for _, steps in revisions for trace in steps.values())
    order = "the revisions judged" if only is not None else "newest first"
    out = [f"**SQL per revision** ({order}, {total} statement(s), as the proof ran them):", ""]
    shown = 0
    for revision, steps in revisions:
        opening, blocks, closing = _revision_sql(revision, steps, base, environ)
        room = budget - _size(out) - _size(opening) - _size(closing) - 200  # 200: the note below
        kept: list[str] = []
        complete = True
        for lines, statements in blocks:
            if _size(kept) + _size(lines) > room:
                complete = False
                break
            kept += lines
            shown += statements
        if kept:
            out += [*opening, *kept, *closing]
        if not complete:
            break
    if shown < total:
        more = f"_… {total - shown} more statement(s): see the JSON report (`revisions`) or `headcheck db --show-sql`._"
        out += [more, ""]
    return out


def _environment(
    env: EnvironmentResult,
    result: GateResult,
    base: Path,
    db: Proof | None,
    environ: Mapping[str, str],
    pictures: bool,
    expand: bool,
    sql_budget: int = 0,
    sql_only: Collection[str] | None = None,
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
        if sql_budget > 0:
            out += _sql(db, base, environ, sql_budget, sql_only)
    return out


def render(
    result: GateResult,
    *,
    base: Path,
    proofs: Sequence[Proof | None] = (),
    notes: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    budget: int = SIZE_BUDGET,
    focus: Mapping[int, Collection[str]] | None = None,
) -> str:
    """The summary for ``result``; ``proofs[i]`` is the database proof of environment i, if any.

    ``base`` is the workspace: every path is shown relative to it. ``focus``: by environment
    index, the revisions whose SQL is shown (the ones a change adds); else every revision's,
    newest first, as far as ``budget // SQL_SHARE`` bytes allow.
    """
    env_vars = os.environ if environ is None else environ
    dbs = list(proofs) + [None] * (len(result.environments) - len(proofs))
    ok = result.ok and all(db is None or db.ok for db in dbs)

    def build(pictures: bool, limit: int | None, sql: bool = True) -> str:
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
        proven = sum(db is not None for db in dbs[: len(shown)])
        sql_budget = budget // SQL_SHARE // max(proven, 1) if sql else 0
        for index, (env, db) in enumerate(zip(shown, dbs, strict=False)):
            only = None if focus is None else focus.get(index)
            expand = len(result.environments) == 1
            out += _environment(env, result, base, db, env_vars, pictures, expand, sql_budget, only)
        if len(shown) < len(result.environments):
            out += [
                f"_{len(result.environments) - len(shown)} more environment(s): see the log or the JSON report._",
                "",
            ]
        return "\n".join(out)

    text = build(True, None)
    if len(text.encode()) > budget:
        text = build(False, None)
    if len(text.encode()) > budget:
        text = build(False, None, sql=False)
    limit = len(result.environments)
    while len(text.encode()) > budget and limit > 1:
        limit //= 2
        text = build(False, limit, sql=False)
    if len(text.encode()) > budget:  # one environment alone is too big: cut at a line
        note = "\n\n_The summary was cut here to stay under GitHub's size limit; see the log or the JSON report._\n"
        cut = text.encode()[: budget - len(note.encode())].decode("utf-8", errors="ignore")
        text = cut[: cut.rfind("\n")] + note
    return text

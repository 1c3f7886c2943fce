"""squawk (PyPI ``squawk-cli``, the ``lint`` extra) on the SQL each revision's first upgrade
executed during the proof: its violations become HC620 findings at the ``op.*`` line that emitted
the statement. A problem the observed trace already reports at that line (headcheck.db.locks)
is reported once. Without squawk the lint is skipped with one notice on stderr.

squawk's style rules that say nothing about locks or deploys (``prefer-robust-stmts``,
``prefer-bigint-over-int``, ...) are left out: they would fire on every ``create_table``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from headcheck.db.launch import server_parent
from headcheck.db.trace import StepTrace
from headcheck.findings import Finding
from headcheck.inline_ignore import Ignores, read_ignores
from headcheck.rules import RULES

__all__ = ["EXCLUDED", "SAME_AS", "find_squawk", "squawk_findings"]

EXCLUDED = (
    "prefer-robust-stmts",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "require-statement-timeout",
)
# squawk's rule -> the observed rules that report the same problem
SAME_AS = {
    "require-concurrent-index-creation": ("HC603",),
    "require-concurrent-index-deletion": ("HC603",),
    "require-lock-timeout": ("HC606",),
    "adding-foreign-key-constraint": ("HC604",),
    "constraint-missing-not-valid": ("HC604",),
    "adding-not-nullable-field": ("HC605",),
    "changing-column-type": ("HC602",),
    "adding-field-with-default": ("HC602",),
}
TIMEOUT = 120.0
_notified = False


def find_squawk() -> str | None:
    """The squawk binary: next to this Python (the extra's console script), else on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("squawk")


def _notice(message: str) -> None:
    global _notified
    if not _notified:
        _notified = True
        print(f"headcheck: {message}", file=sys.stderr)


def _pg_version(server_version: str) -> str | None:
    match = re.match(r"(\d+)(?:\.(\d+))?", server_version or "")
    return f"{match.group(1)}.{match.group(2) or 0}" if match else None


def _write(traces: Sequence[StepTrace], folder: Path) -> list[tuple[Path, StepTrace, list[tuple[int, int | None]]]]:
    """One SQL file per revision; for each, (first line (0-based), op line) of every statement."""
    files = []
    for k, trace in enumerate(traces):
        starts: list[tuple[int, int | None]] = []
        parts: list[str] = []
        line = 0
        for statement in trace.statements:
            sql = statement.sql.rstrip().rstrip(";") + ";\n"
            starts.append((line, statement.line))
            parts.append(sql)
            line += sql.count("\n")
        path = folder / f"{k:05d}.sql"
        path.write_text("".join(parts), encoding="utf-8")
        files.append((path, trace, starts))
    return files


def _op_line(starts: list[tuple[int, int | None]], line: int) -> int | None:
    found = None
    for first, op_line in starts:
        if first > line:
            break
        found = op_line
    return found


def squawk_findings(
    traces: Iterable[StepTrace], observed: Sequence[Finding], ignore: frozenset[str], server_version: str
) -> list[Finding]:
    if "HC620" in ignore:
        return []
    chosen = [t for t in traces if t.observed and t.statements]
    if not chosen:
        return []
    binary = find_squawk()
    if binary is None:
        _notice("squawk is not installed (pip install 'headcheck[lint]'); the SQL lint was skipped")
        return []
    # (a file per revision: in memory where the servers go, about a fifth of the cost of 200 on disk)
    folder = Path(tempfile.mkdtemp(prefix="headcheck-squawk-", dir=server_parent()))
    try:
        files = _write(chosen, folder)
        command = [binary, "--reporter", "json", "--assume-in-transaction", *(f"--exclude={r}" for r in EXCLUDED)]
        version = _pg_version(server_version)
        if version:
            command.append(f"--pg-version={version}")
        try:
            done = subprocess.run(
                [*command, *(str(path) for path, _, _ in files)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
                cwd=folder,
            )
            violations: list[dict[str, Any]] = json.loads(done.stdout or "[]")
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            _notice(f"squawk did not run ({type(exc).__name__}); the SQL lint was skipped")
            return []
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    by_file = {str(path): (trace, starts) for path, trace, starts in files}
    taken = {(str(f.path), f.line, f.code) for f in observed}
    found: list[Finding] = []
    seen: set[tuple[str, int | None, str]] = set()
    comments: dict[str | None, Ignores] = {}  # (each revision file read once)
    for violation in violations:
        entry = by_file.get(str(violation.get("file")))
        if entry is None:
            entry = by_file.get(str(folder / str(violation.get("file"))))
        if entry is None:
            continue
        trace, starts = entry
        rule = str(violation.get("rule_name") or "squawk")
        line = _op_line(starts, int(violation.get("line") or 0))
        path = str(Path(trace.path)) if trace.path else "None"
        if any((path, line, code) in taken for code in SAME_AS.get(rule, ())):
            continue
        if trace.path not in comments:
            comments[trace.path] = read_ignores(trace.path)
        if (path, line, rule) in seen or comments[trace.path].ignored("HC620", line):
            continue
        seen.add((path, line, rule))
        help_text = violation.get("help")
        found.append(
            Finding(
                "HC620",
                RULES["HC620"].severity,
                f"revision {trace.revision}: squawk {rule}: {violation.get('message', '')}",
                str(help_text) if help_text else RULES["HC620"].fix,
                Path(trace.path) if trace.path else None,
                line,
                (trace.revision,),
            )
        )
    return found

"""Regenerate docs/job-summary-example.md: ``headcheck action`` on the example projects.

Runs the action as GitHub's runner would (GITHUB_WORKSPACE, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
INPUT_*) in a temporary workspace per example and writes each step's log and summary, with the
temporary path shown as the container's /github/workspace. The database examples need the
PostgreSQL server binaries (pg_ctl). Usage: python docs/render_job_summary_example.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "job-summary-example.md"
CASES = (
    ("Pull request: two branches each added a revision on the same parent", "two-heads", "none"),
    ("Pull request: a down_revision that names a file instead of a revision id", "dangling", "none"),
    ("Nightly: the database proof with the stairway, all good", "db/clean", "postgres"),
    ("Nightly: a migration that fails on PostgreSQL", "db/broken-upgrade", "postgres"),
)
INTRO = """# What the job summary looks like

Real output of `headcheck action`, run on the bundled example projects with the variables
GitHub's runner sets (`GITHUB_REPOSITORY=acme/shop`, so the file links point at a made-up
repository); only the temporary workspace path is shown as the container's `/github/workspace`.
GitHub renders each summary below on the run page, Mermaid pictures included, and renders this
page the same way. The text between the rules is exactly what the step appended to
`$GITHUB_STEP_SUMMARY`. Regenerate with `python docs/render_job_summary_example.py`.

Rendered (GitHub's Markdown CSS and mermaid.js in headless Chromium, see
`docs/render_job_summary_png.mjs`), the pull-request and the nightly failures look like this:

![Job summary: two heads](job-summary-two-heads.png)

![Job summary: a migration that fails on PostgreSQL](job-summary-database.png)
"""


def run_case(example: str, database: str, tmp: Path) -> tuple[str, str]:
    workspace = tmp / "workspace"
    shutil.copytree(ROOT / "examples" / example, workspace)
    summary, output = tmp / "summary.md", tmp / "output"
    summary.write_text("")
    output.write_text("")
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_SHA": "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d",
        "INPUT_DATABASE": database,
        "INPUT_STAIRWAY": "true",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "headcheck", "action"], cwd=workspace, env=env, capture_output=True, text=True
    )
    clean = str(workspace)
    return done.stdout.replace(clean, "/github/workspace"), summary.read_text().replace(clean, "/github/workspace")


def main() -> int:
    parts = [INTRO]
    for title, example, database in CASES:
        with tempfile.TemporaryDirectory(prefix="headcheck-doc-") as tmp:
            log, summary = run_case(example, database, Path(tmp))
        how = "uses: <owner>/headcheck@v1" if database == "none" else "with: {database: postgres, stairway: true}"
        parts.append(
            f"## {title}\n\n`{how}` on `examples/{example}`. The step's log (the `::error` lines become "
            f"annotations):\n\n```text\n{log.rstrip()}\n```\n\nThe summary:\n\n---\n\n{summary.rstrip()}\n\n---\n"
        )
    TARGET.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

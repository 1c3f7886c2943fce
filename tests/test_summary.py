"""headcheck.summary: the job summary Markdown."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from headcheck import summary
from headcheck.db.proof import Proof, Step
from headcheck.gate import GateResult, run_gate
from headcheck.settings import Settings
from tests.project import write_project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RUN = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "0123abc"}


def _gate(path: Path, **settings: Any) -> GateResult:
    return run_gate(path, Settings(**settings))


def _example(tmp_path: Path, name: str) -> Path:
    shutil.copytree(EXAMPLES / name, tmp_path / name)
    return tmp_path / name


def test_two_heads_summary_has_verdict_heads_findings_and_the_fork(tmp_path: Path) -> None:
    result = _gate(_example(tmp_path, "two-heads"))
    text = summary.render(result, base=tmp_path, environ=RUN)
    assert text.startswith("## ❌ headcheck: failed")
    assert "**Heads:** `3c4d5e6f7081`, `4d5e6f708192`" in text
    link = "https://github.com/acme/shop/blob/0123abc/two-heads/alembic/versions/4d5e6f708192_add_users_phone.py#L16"
    where = f"[`two-heads/alembic/versions/4d5e6f708192_add_users_phone.py:16`]({link})"
    assert f"- ❌ **`HC101` multiple-heads** at {where}<br>2 heads: 3c4d5e6f7081" in text
    assert "<br>**Fix:** Run `headcheck merge`" in text
    assert "<summary>Graph: the fork and its heads</summary>" in text
    mermaid = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert "2b3c4d5e6f70" in mermaid
    assert "4d5e6f708192" in mermaid
    assert "1 older revision" in mermaid


def test_dangling_summary_draws_the_missing_reference(tmp_path: Path) -> None:
    text = summary.render(_gate(_example(tmp_path, "dangling")), base=tmp_path, environ={})
    assert "the dangling reference" in text
    assert "2b3c4d5e6f70_add_users_name" in text.split("```mermaid", 1)[1]
    assert "](http" not in text  # no run information: plain paths, no links


def test_clean_summary_passes(tmp_path: Path) -> None:
    text = summary.render(_gate(_example(tmp_path, "clean")), base=tmp_path, environ={})
    assert text.startswith("## ✅ headcheck: passed")
    assert "- ❌" not in text
    assert "- ⚠️" not in text
    assert "the latest revisions" in text


def test_database_proof_timings_from_the_typed_proof(tmp_path: Path) -> None:
    """The database proof's steps as ``headcheck.db.prove`` returns them."""
    proof = Proof(
        "15.18 (Debian 15.18-1)",
        1.934,
        (
            Step("upgrade", "1a2b3c4d5e6f", 0.125, True, None),
            Step("downgrade -1", "3c4d5e6f7081", 0.05, False, 'relation | "orders" does not exist'),
        ),
        (),
    )
    result = _gate(_example(tmp_path, "clean"))
    text = summary.render(result, base=tmp_path, proofs=[proof], environ={})
    assert text.startswith("## ❌ headcheck: failed")  # the static gate passed, the proof did not
    assert "### ❌ alembic:" in text
    assert "· **failed**" in text
    assert "**Database proof** ❌: PostgreSQL 15.18 (Debian 15.18-1), started in 1.93\u00a0s" in text
    assert "| upgrade | `1a2b3c4d5e6f` | 125.0\u00a0ms | ✅ |" in text
    assert '| downgrade -1 | `3c4d5e6f7081` | 50.0\u00a0ms | ❌ relation \\| "orders" does not exist |' in text
    assert "2 step(s), 175.0\u00a0ms in total." in text
    assert "Slowest migrations: `1a2b3c4d5e6f` 125.0\u00a0ms" in text
    passed = summary.render(result, base=tmp_path, proofs=[proof._replace(steps=())], environ={})
    assert passed.startswith("## ✅ headcheck: passed")


def test_notes_and_several_environments_get_an_overview_table(tmp_path: Path) -> None:
    write_project(tmp_path / "svc-a", {"a1_x.py": ("a1", None)})
    write_project(tmp_path / "svc-b", {"b1_x.py": ("b1", None), "b2_x.py": ("b2", "b1"), "b3_x.py": ("b3", "b1")})
    result = _gate(tmp_path)
    text = summary.render(result, base=tmp_path, notes=["The database proof was skipped."], environ={})
    assert "> The database proof was skipped." in text
    assert "| environment | verdict | revisions | heads | errors | warnings |" in text
    assert text.count("### ") == 2
    # several environments: only the failing one's graph is unfolded
    assert text.count("<details open><summary>Graph") == 1
    assert text.count("<details><summary>Graph") == 1


def test_huge_histories_stay_far_below_the_step_limit(tmp_path: Path) -> None:
    revisions: dict[str, object] = {"a000_base.py": ("a000", None)}
    for k in range(1, 400):
        revisions[f"b{k:03d}_broken.py"] = (f"b{k:03d}", f"gone{k:03d}")
    write_project(tmp_path, revisions)
    result = _gate(tmp_path)
    text = summary.render(result, base=tmp_path, environ={})
    assert len(text.encode()) < summary.SIZE_BUDGET
    assert text.count("`HC102` dangling-down-revision") == summary.MAX_FINDINGS
    assert "more: see the log or the JSON report" in text
    assert "```mermaid" not in text  # 400 boxes: the table replaces the picture
    tight = summary.render(result, base=tmp_path, environ={}, budget=20_000)
    assert len(tight.encode()) <= 20_000


def test_long_stairways_keep_every_failed_step_in_the_table(tmp_path: Path) -> None:
    steps = [Step("upgrade", f"r{k:04d}", 0.001, True, None) for k in range(300)]
    steps[250] = steps[250]._replace(ok=False, error="Traceback ...\nValueError: boom")
    proof = Proof("15.18", 1.0, tuple(steps), ())
    text = summary.render(_gate(_example(tmp_path, "clean")), base=tmp_path, proofs=[proof], environ={})
    assert "| upgrade | `r0250` | 1.0\u00a0ms | ❌ ValueError: boom |" in text
    assert text.count("| upgrade | `r0") == summary.MAX_FINDINGS
    assert "| … 250 more steps | | | |" in text
    assert "<summary>Error output</summary>" in text
    assert "**Database proof** ❌: PostgreSQL 15.18," in text

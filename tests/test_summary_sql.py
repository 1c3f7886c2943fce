"""headcheck.summary: each revision's SQL in the job summary, from a real proof of a real project.

The project is examples/db/clean plus a revision whose SQL and identifiers try to leave their code
block (a fence, ``</details>``, a heading, HTML, a table pipe): the summary is parsed as CommonMark
(markdown-it, GFM tables) and its structure asserted.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from headcheck import logsafe, summary
from headcheck.db import Proof, ProofOptions, prove
from headcheck.gate import GateResult, run_gate
from headcheck.settings import Settings
from tests.db.harness import EXAMPLES, needs_postgres

pytestmark = needs_postgres

MARKDOWN = MarkdownIt("commonmark").enable("table")
RUN = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "0123abc"}
HOSTILE = "d4e5f6a7b8c9"
FENCE_BREAK = "/* ~~~~\n</details>\n\n## owned\n```\n<img src=x onerror=alert(1)>\n| a | b |\n~~~ */"
ODD_TABLE = "we~~~ird</details>|`x"
REVISION = f'''"""notes: SQL that tries to leave its code block"""
from alembic import op
import sqlalchemy as sa

revision = {HOSTILE!r}
down_revision = "c3d4e5f6a7b8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE notes (id int) " + {FENCE_BREAK!r})
    op.create_table({ODD_TABLE!r}, sa.Column("id", sa.Integer))
    op.execute("COMMENT ON TABLE notes IS '</summary></details><script>alert(1)</script>'")


def downgrade() -> None:
    op.drop_table({ODD_TABLE!r})
    op.execute("DROP TABLE notes")
'''
DETAILS = re.compile(
    r"<details><summary>SQL of <code>[0-9a-f]{12}</code>: \d+ upgrade(, \d+ downgrade)? statement\(s\)</summary>\n"
)


class Proved(NamedTuple):
    result: GateResult
    workspace: Path
    proof: Proof


@pytest.fixture(scope="module")
def proved(tmp_path_factory: pytest.TempPathFactory) -> Proved:
    """examples/db/clean plus the hostile revision, proved with headcheck.db.prove (a throwaway server)."""
    workspace = tmp_path_factory.mktemp("workspace")
    project = workspace / "shop"
    shutil.copytree(EXAMPLES / "clean", project)
    (project / "migrations" / "versions" / f"{HOSTILE}_notes.py").write_text(REVISION, encoding="utf-8")
    result = run_gate(project, Settings())
    assert result.ok
    run = prove([env.environment for env in result.environments], ProofOptions())
    assert run.ok, [step for step in run.proofs[0].steps if not step.ok]
    return Proved(result, workspace, run.proofs[0])


def _tokens(text: str) -> Iterator[Token]:
    for token in MARKDOWN.parse(text):
        yield token
        yield from token.children or ()


def _check_structure(text: str) -> list[Token]:
    """Only headcheck's own structure: the SQL fences, the two headings, balanced details; returns the SQL fences."""
    tokens = list(_tokens(text))
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h2", "h3"], text
    assert not [t for t in tokens if t.type == "image"], text
    assert {t.content for t in tokens if t.type == "html_inline"} <= {"<br>"}, text
    blocks = [t.content for t in tokens if t.type == "html_block"]
    sql_opened = [b for b in blocks if b.startswith("<details><summary>SQL")]
    assert all(DETAILS.fullmatch(b) for b in sql_opened), sql_opened
    assert blocks.count("</details>\n") == len([b for b in blocks if b.startswith("<details")]), blocks
    links = [t.attrs.get("href") for t in tokens if t.type == "link_open"]
    assert all(str(href).startswith("https://github.com/acme/shop/blob/0123abc/") for href in links), links
    fences = [t for t in tokens if t.type == "fence"]
    assert {t.info for t in fences} <= {"sql", "mermaid"}
    return [t for t in fences if t.info == "sql"]


def test_each_revisions_sql_is_collapsed_with_its_lines_and_durations(proved: Proved) -> None:
    text = summary.render(proved.result, base=proved.workspace, proofs=[proved.proof], environ=RUN)
    fences = _check_structure(text)
    statements = {s.sql.strip() for trace in proved.proof.traces for s in trace.statements}
    assert fences
    assert all(f.content.removesuffix("\n") in {logsafe.block(s) for s in statements} for f in fences)
    # the hostile SQL is shown exactly, inside its block, nowhere else
    (hostile,) = [f for f in fences if "## owned" in f.content]
    assert hostile.content == logsafe.block("CREATE TABLE notes (id int) " + FENCE_BREAK) + "\n"
    assert sum("we~~~ird</details>|`x" in f.content for f in fences) == 2  # its CREATE and its DROP
    # newest first: the hostile head, then the older revisions; upgrade and downgrade of the head
    order = re.findall(r"SQL of <code>(\w+)</code>: (\d+) upgrade(?:, (\d+) downgrade)?", text)
    assert [rev for rev, _, _ in order] == [HOSTILE, "c3d4e5f6a7b8", "b2c3d4e5f6a7", "a1b2c3d4e5f6"]
    assert order[0][1:] == ("3", "2")  # the head is the one downgrade -1 undoes
    # each statement at the op.* line that emitted it, linked to the file at the commit
    path = f"shop/migrations/versions/{HOSTILE}_notes.py"
    lines = REVISION.splitlines()
    execute = next(k for k, row in enumerate(lines, 1) if row.strip().startswith('op.execute("CREATE TABLE notes'))
    link = f"[`{path}:{execute}`](https://github.com/acme/shop/blob/0123abc/{path}#L{execute}) · "
    assert link in text
    assert re.search(re.escape(link) + r"\d+\.\d\u00a0(ms|s)\n~~~~~sql\n", text), text
    assert "**downgrade**: 2 statement(s)" in text
    assert "more statement(s)" not in text


def test_the_sql_is_cut_at_a_whole_statement_within_the_budget(proved: Proved) -> None:
    from headcheck.db.sql_report import first_steps

    # the summary shows each revision's first upgrade and first downgrade
    total = sum(len(t.statements) for steps in first_steps(proved.proof.traces).values() for t in steps.values())
    full = summary.render(proved.result, base=proved.workspace, proofs=[proved.proof], environ=RUN)
    assert len(_check_structure(full)) == total
    budget = 5000
    assert len(full.encode()) > budget  # or the test proves nothing
    text = summary.render(proved.result, base=proved.workspace, proofs=[proved.proof], environ=RUN, budget=budget)
    assert len(text.encode()) <= budget
    fences = _check_structure(text)
    assert 0 < len(fences) < total
    match = re.search(r"_… (\d+) more statement\(s\): see the JSON report \(`revisions`\)", text)
    assert match, text
    assert int(match.group(1)) == total - len(fences), text
    assert "The summary was cut here" not in text  # the SQL gave way, not the rest of the summary
    assert "```mermaid" in text  # and the picture stayed


def test_with_a_focus_only_the_judged_revisions_sql_is_shown(proved: Proved) -> None:
    text = summary.render(
        proved.result, base=proved.workspace, proofs=[proved.proof], environ=RUN, focus={0: (HOSTILE,)}
    )
    _check_structure(text)
    assert re.findall(r"SQL of <code>(\w+)</code>", text) == [HOSTILE]
    assert "**SQL per revision** (the revisions judged, 5 statement(s)" in text


def test_without_sql_the_summary_is_unchanged(proved: Proved) -> None:
    """A proof that captured nothing (an old report, a failed load) shows no SQL section."""
    text = summary.render(proved.result, base=proved.workspace, proofs=[proved.proof._replace(traces=())], environ=RUN)
    assert "SQL of" not in text
    assert "SQL per revision" not in text
    assert "**Database proof** ✅" in text


def test_a_hostile_revision_id_stays_inside_the_summary_element(proved: Proved) -> None:
    """Revision ids are the pull request's too: inside ``<summary>`` (raw HTML) they are entities."""
    hostile = "</code></summary></details>\n\n# owned <img src=x>"
    traces = tuple(t._replace(revision=hostile) if t.revision == HOSTILE else t for t in proved.proof.traces)
    text = summary.render(
        proved.result, base=proved.workspace, proofs=[proved.proof._replace(traces=traces)], environ=RUN
    )
    tokens = list(_tokens(text))
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h2", "h3"], text
    blocks = [t.content for t in tokens if t.type == "html_block"]
    assert blocks.count("</details>\n") == len([b for b in blocks if b.startswith("<details")]), blocks
    (opened,) = [b for b in blocks if "owned" in b]
    assert opened.startswith("<details><summary>SQL of <code>&lt;/code&gt;&lt;/summary&gt;&lt;/details&gt;\\n")
    assert "<img" not in opened

"""Issue 9 must-deliver 3: hostile repository strings through every output headcheck prints.

A real project on disk whose revision ids, branch labels, file names, a folder name and an ini
section name are drawn by hypothesis from the pieces an attacker would use (newlines, CR, ``::``,
``##[``, ``%0A``, backticks, ``<>``, Markdown, ``|``, Unicode line separators, escape codes).
Then, for the gate's result:

- text, json, sarif: the runner (tests.github_runner.runner_commands, its parsers re-implemented)
  finds no command at all; json and sarif still carry every string exactly;
- github: the only commands are the annotations headcheck built, line for line;
- graph pictures (text, mermaid, dot) and stderr errors: no command, one line per error;
- the job summary, parsed with a real CommonMark + GFM table parser: the same headings, fences,
  tables (cells per row), list items, quotes and HTML blocks as headcheck wrote, no image, no
  link and no HTML of the author's, and the headings and code spans show the strings exactly
  as the log shows them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from headcheck import logsafe, picture, summary
from headcheck.commands.common import error
from headcheck.db.proof import Proof, Step
from headcheck.gate import GateResult, run_gate
from headcheck.github import annotation_lines
from headcheck.report import render
from headcheck.report.github import finding_annotations
from headcheck.report.json_report import report_dict
from headcheck.report.sarif import sarif_log
from headcheck.settings import Settings
from tests.github_runner import parse_commands, runner_commands

PIECES = [
    "\n",
    "\r",
    "\r\n",
    "\u2028",
    "\x85",
    "\x0b",
    "\x1b[31m",
    "::",
    "::error title=Security::pwned",
    " ::warning::x",
    "##[",
    "##[error]boom",
    "##[add-mask]",
    "##[stop-commands]tok",
    "##[set-output name=ok]true",
    "##vso[task.logissue type=error]x",
    "%0A",
    "%25",
    "`",
    "```",
    "~~~",
    "<",
    ">",
    "<img src=x onerror=alert(1)>",
    "</details>",
    "[link](https://evil.example)",
    "![img](https://evil.example/x.png)",
    "|",
    "\\|",
    "#",
    "## Heading",
    "\n# Title\n",
    "\n|a|b|\n|---|---|\n",
    "$x$",
    "\\",
    "&lt;",
    "*",
    "_",
    "-",
    '"',
    "%%{init: {}}%%",
    "{",
    "}",
    "\t",
    " ",
    "abc",
    "x1",
]
hostile = st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map("".join)


def _file_name(text: str) -> str:
    """What a file name can hold (no '/', no NUL; Alembic ignores names with line breaks)."""
    return re.sub(r"[/\x00\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", "_", text)[:60]


def _section(text: str) -> str:
    """What an ini section header can hold: one line."""
    return re.sub(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029\[\]]", "_", text).strip() or "s"


def write_hostile_project(root: Path, h: list[str]) -> None:
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    section = _section(h[0])
    (root / "alembic.ini").write_text(
        f"[alembic]\nscript_location = %(here)s/alembic\n\n[{section}]\nscript_location = %(here)s/other\n",
        encoding="utf-8",
    )
    other = root / "other" / "versions"
    other.mkdir(parents=True)
    (other / "o_base.py").write_text(f"revision = {h[6]!r}\ndown_revision = None\n", encoding="utf-8")
    (other / "o_next.py").write_text(f"revision = 'o2'\ndown_revision = {h[4]!r}\n", encoding="utf-8")
    revisions = {
        "a_base.py": ("base0", None, None),
        f"b_{_file_name(h[1])}.py": (h[1], "base0", (h[2],)),
        f"c_{_file_name(h[3])}.py": (h[3], "base0", None),
        "d_dangling.py": ("dd", h[4], None),
    }
    for name, (rev, down, labels) in revisions.items():
        text = f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = {labels!r}\n"
        (versions / name).write_text(text, encoding="utf-8")
    folder = versions / re.sub(r"[/\x00]", "_", h[5])[:60]  # a line break is fine in a folder name
    folder.mkdir(exist_ok=True)
    (folder / "e_step.py").write_text("revision = 'ee'\ndown_revision = 'base0'\n", encoding="utf-8")


def distinct(values: list[str]) -> list[str]:
    return [f"{value}{k}" for k, value in enumerate(values)]


def no_commands(output: str) -> None:
    assert runner_commands(output) == [], output


# --- the job summary's structure ---------------------------------------------------------

MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
_HTML_BLOCK = re.compile(r"<details( open)?><summary>(Graph: [a-z ]+|Error output)</summary>\n|</details>\n")
_MERMAID_LINE = re.compile(
    r"flowchart BT|    \w+(\[\"|\(\"|\[\[\"|\[/\"|\(\[\")[^\"\n]*(\"\]|\"\)|\"\]\]|\"/\]|\"\]\))"
    r"|    \w+ (-->|-\.->\|depends_on\||-\. missing \.->) \w+|    classDef .*|    class [\w,]+ \w+"
)
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _children(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        out += _children(token.children or [])
    return out


def _shown(inline: Token) -> str:
    """What a reader sees of an inline token (text and code, HTML line breaks as <br>)."""
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline", "html_inline"))


def check_summary(text: str, result: GateResult, notes: list[str], proofs: list[Proof], links: bool) -> None:
    tokens = MARKDOWN.parse(text)
    everything = _children(tokens)
    headings = [(t.tag, tokens[k + 1]) for k, t in enumerate(tokens) if t.type == "heading_open"]
    assert [tag for tag, _ in headings] == ["h2"] + ["h3"] * len(result.environments), text
    for (_, inline), env in zip(headings[1:], result.environments, strict=True):
        name = _shown(inline).split(" ", 1)[1]
        assert name.startswith(logsafe.line(env.environment.name) + ": "), (name, env.environment.name)
    assert not [t for t in everything if t.type == "image"], text
    hrefs = [t.attrs.get("href") for t in everything if t.type == "link_open"]
    assert all(str(h).startswith("https://github.com/acme/shop/blob/0123abc/") for h in hrefs), hrefs
    if not links:
        assert hrefs == []
    assert {t.content for t in everything if t.type == "html_inline"} <= {"<br>"}, text
    for block in (t for t in tokens if t.type == "html_block"):
        assert _HTML_BLOCK.fullmatch(block.content), block.content
    fences = [t for t in tokens if t.type == "fence"]
    mermaid = [t for t in fences if t.info == "mermaid"]
    assert len(mermaid) == len([env for env in result.environments if env.graph.nodes])
    for fence in mermaid:
        for row in fence.content.splitlines():
            assert _MERMAID_LINE.fullmatch(row), row
    errors = [t for t in fences if t.info == "text"]
    failing = [s.error for p in proofs for s in p.steps if not s.ok and s.error and "\n" in s.error.strip()]
    assert [t.content for t in errors] == [logsafe.block(error.strip()) + "\n" for error in failing]
    items = sum(1 for t in tokens if t.type == "list_item_open")
    assert items == sum(min(len(env.findings), summary.MAX_FINDINGS) for env in result.environments)
    assert sum(1 for t in tokens if t.type == "blockquote_open") == len(notes)
    # Tables: every row keeps the header's cells (markdown-it pads or cuts rows, so count raw pipes).
    fenced = {k for t in fences if t.map for k in range(*t.map)}
    width = 0
    for k, row in enumerate(text.split("\n")):
        if k in fenced or not row.startswith("|"):
            width = 0
            continue
        cells = len(_UNESCAPED_PIPE.findall(row))
        width = width or cells
        assert cells == width, row
    rows = sum(1 for t in tokens if t.type == "tr_open")
    expected = (len(result.environments) + 1 if len(result.environments) > 1 else 0) + sum(
        len(p.steps) + 1 for p in proofs
    )
    assert rows == expected, text


# --- the property ------------------------------------------------------------------------


@settings(
    max_examples=int(os.environ.get("HEADCHECK_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(hostile, min_size=7, max_size=7).map(distinct))
def test_hostile_strings_never_start_a_command_or_change_the_summary(h: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="headcheck-hostile-") as tmp:
        root = Path(tmp)
        write_hostile_project(root, h)
        result = run_gate(root, Settings())
        assert len(result.environments) == 2
        assert all(env.findings for env in result.environments)

        for fmt in ("text", "json", "sarif"):
            no_commands(render(fmt, result))
        assert json.loads(render("json", result)) == json.loads(json.dumps(report_dict(result)))
        assert json.loads(render("sarif", result))["runs"][0]["results"] == sarif_log(result)["runs"][0]["results"]

        out = render("github", result)
        intended = annotation_lines(finding_annotations(result))
        assert [c.line for c in runner_commands(out)] == intended
        assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in intended)
        assert [c.kind for c in parse_commands(out)] == [line[2:].split(" ", 1)[0] for line in intended]

        for env in result.environments:
            for fmt in ("text", "mermaid", "dot"):
                no_commands(picture.render(env, fmt))
            table = picture.render(env, "table")
            assert all(len(_UNESCAPED_PIPE.findall(row)) == 5 for row in table.splitlines()), table

        proof = Proof(
            h[6],
            1.0,
            (
                Step(h[0], h[1], 0.1, True, None),
                Step("upgrade", h[3], 0.2, False, f"Trace\n{h[5]}\n{h[6]}"),
                Step("upgrade", h[2], 0.3, True, None),  # the slowest: its revision in the summary's text
            ),
            (),
        )
        notes = [f"checking the history after merging into main; {h[6]}"]
        for environ in (
            {},
            {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "0123abc"},
        ):
            text = summary.render(result, base=root, proofs=[proof], notes=notes, environ=environ)
            check_summary(text, result, notes, [proof], links=bool(environ))


@given(hostile)
@settings(max_examples=50, deadline=None)
def test_stderr_errors_are_one_line_without_commands(text: str) -> None:
    import contextlib
    import io

    stream = io.StringIO()
    with contextlib.redirect_stderr(stream):
        assert error(f"cannot read {text}/alembic.ini: no such section {text!r}") == 2
    err = stream.getvalue()
    assert err.endswith("\n")
    assert "\n" not in err[:-1]
    assert "\r" not in err
    no_commands(err)


@pytest.mark.parametrize("piece", PIECES)
def test_every_piece_alone_passes_through_the_log_layer(piece: str) -> None:
    for text in (piece, f"x{piece}", f"{piece}x", f" {piece}::x"):
        shown = logsafe.line(text)
        no_commands(shown)
        assert shown.replace("\t", " ").isprintable(), shown  # no line break, no control of any kind


# --- each Markdown context shows the string exactly as the log does ------------------------


def _inline(source: str) -> list[Token]:
    tokens = MARKDOWN.parse(source)
    inlines = [t for t in tokens if t.type == "inline"]
    return [c for t in inlines for c in t.children or []]


@given(hostile)
@settings(max_examples=200, deadline=None)
def test_markdown_contexts_show_the_string_exactly(value: str) -> None:
    from headcheck import markdown

    shown = logsafe.line(value)
    children = _inline(f"x {markdown.text(value, None)} y")
    assert {c.type for c in children} == {"text"}, children
    assert "".join(c.content for c in children) == f"x {shown} y"

    children = _inline(f"x {markdown.heading(value, None)} y")
    assert "".join(c.content for c in children) == f"x {shown} y"
    assert [t.tag for t in MARKDOWN.parse(f"### x {markdown.heading(value, None)} y") if t.type == "heading_open"] == [
        "h3"
    ]

    children = _inline(f"x {markdown.code(value, limit=None)} y")
    assert [c.type for c in children] == ["text", "code_inline", "text"], children
    assert children[1].content == shown

    table = MARKDOWN.parse(
        f"| a | b |\n|---|---|\n| {markdown.cell(value, None)} | {markdown.code(value, table=True, limit=None)} |\n"
    )
    cells = [t for t in table if t.type == "inline"][2:]
    assert len(cells) == 2
    assert "".join(c.content for c in cells[0].children or []) == shown.strip()
    assert [c.content for c in cells[1].children or [] if c.type == "code_inline"] == [shown]

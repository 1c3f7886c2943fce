"""GitHub-flavoured Markdown for text from the checked repository, escaped for its exact context.

The job summary shows revision ids, paths, ini section names, finding messages and migration
output: all the pull request's. Each context has its own rules (CommonMark 0.31 and GFM):

- every context is one line first (:func:`headcheck.logsafe.line`): a newline would end the
  paragraph, and the next line could be a heading, a fence or a table row;
- :func:`text` (a sentence, a list item): ``\\``, ``[``, ``]``, ``$``, ``*``, ``~`` and ``_`` at a
  word's edge backslash-escaped (no link, image, footnote, math or emphasis), ``<``, ``>``, ``&``
  as entities (no HTML, no autolink), backticks escaped too (except in finding messages, which
  quote commands as code, when their count is even);
- :func:`cell`: :func:`text` plus ``|`` (GFM splits cells on an unescaped pipe);
- :func:`heading`: :func:`text` plus ``#``;
- :func:`code` (inline code): a backtick run longer than any inside, nothing else parsed there
  (``|`` still escaped inside a table, where the table parser reads it first);
- :func:`fenced` (a block): a fence longer than any run of its character in the text;
- :func:`html` (inside an HTML element such as ``<summary>``, where Markdown is not parsed): one
  line, ``& < > " '`` as entities.
"""

from __future__ import annotations

import html as _html
import re

from headcheck.logsafe import block, line

__all__ = ["cell", "code", "fenced", "heading", "html", "text"]

_TEXT = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# Backslash-escaped: links, images, footnotes (brackets), math ($), emphasis and strikethrough
# (* ~, and _ unless inside a word, where CommonMark never reads it as emphasis).
_TEXT_CHARS = re.compile(r"[\\\[\]$<>&*~]|_(?![^\W_])|(?<![^\W_])_")
_BACKTICKS = re.compile(r"`+")


def _shorten(value: str, limit: int | None) -> str:
    return value if limit is None or len(value) <= limit else value[: limit - 1] + "…"


def text(value: str, limit: int | None = 600, *, code_spans: bool = False) -> str:
    """Inline text: one line, no link, image, HTML or math can start.

    ``code_spans``: keep single backticks that pair up (headcheck's messages quote commands as
    `headcheck merge`) and leave their content alone; a code span shows its content literally.
    """
    shown = line(_shorten(value, limit))
    if code_spans and shown.count("`") % 2 == 0 and "``" not in shown:
        # Single backticks pair up in order, as CommonMark pairs them: escape only between spans.
        parts = shown.split("`")
        return "`".join(part if k % 2 else _escape_text(part) for k, part in enumerate(parts))
    return _escape_text(shown).replace("`", "\\`")


def _escape_text(value: str) -> str:
    return _TEXT_CHARS.sub(lambda m: _TEXT.get(m.group(), "\\" + m.group()), value)


def cell(value: str, limit: int | None = 600) -> str:
    """A GFM table cell."""
    return text(value, limit).replace("|", "\\|")


def heading(value: str, limit: int | None = 200) -> str:
    """Text inside an ATX heading (a trailing ``#`` run would be eaten as its closing sequence)."""
    return text(value, limit).replace("#", "\\#")


def code(value: str, *, table: bool = False, limit: int | None = 600) -> str:
    """An inline code span showing ``value`` exactly (on one line)."""
    inner = line(_shorten(value, limit))
    longest = max((len(run) for run in _BACKTICKS.findall(inner)), default=0)
    fence = "`" * (longest + 1)
    if (
        inner.startswith("`")
        or inner.endswith("`")
        or (inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "))
    ):
        inner = f" {inner} "  # CommonMark strips one space each side
    if table:
        inner = inner.replace("|", "\\|")
    return f"{fence}{inner}{fence}"


def fenced(value: str, info: str = "text") -> list[str]:
    """A fenced code block for multi-line text, as lines: the fence outgrows any ``~`` run inside."""
    body = block(value)
    longest = max((len(run) for run in re.findall(r"~+", body)), default=0)
    fence = "~" * max(3, longest + 1)
    return [f"{fence}{info}", body, fence]


def html(value: str, limit: int | None = 200) -> str:
    """Text inside an HTML element of an HTML block (``<summary>``): one line (a blank line would
    end the block), no tag can open or close."""
    return _html.escape(line(_shorten(value, limit)), quote=True)

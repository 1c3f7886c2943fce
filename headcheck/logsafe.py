"""Text from the checked repository, made safe for a CI log: the one place that neutralises it.

The pull request controls revision ids, branch labels, file and folder names, ini sections and
every message built from them. A CI runner reads each line a step prints for commands, and the
GitHub runner (``ActionCommand.cs``) takes two forms:

- ``::name props::data`` when the line starts with ``::`` after leading whitespace;
- ``##[name props]data`` *anywhere* in a line (the legacy form: ``##[error]``, ``##[add-mask]``,
  ``##[stop-commands]``, which silences every later command of the step).

Azure Pipelines reads ``##vso[`` and TeamCity ``##teamcity[`` the same way. A newline, a carriage
return (the runner's line reader splits on both) or a Unicode line separator inside a repository
string would start a line of the attacker's choosing; escape sequences would drive a terminal.

So every line headcheck composes from repository strings goes through :func:`line` (or
:func:`block` for text that is multi-line by nature, a migration's traceback), and every JSON
document printed through :func:`json_document`. Escapes are visible and Python-like
(``\\n``, ``\\x1b``, ``\\u2028``; a leading ``::`` becomes ``:\\x3a``, ``##[`` becomes ``#\\x23[``), so a
reader sees that something was neutralised; ordinary text passes unchanged. Workflow commands
headcheck means to emit are built by :mod:`headcheck.github` and never pass through here.
"""

from __future__ import annotations

import re

__all__ = ["block", "json_document", "line"]

# Everything that ends a line for some reader (C0 and C1 controls, DEL, U+2028/2029) or reorders
# or hides text (bidirectional controls, BOM); the tab stays.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
# Runner command markers: GitHub's ``::`` at the start after whitespace (string.TrimStart), and
# the ``##[``-style forms of GitHub, Azure and TeamCity anywhere.
_LEADING = re.compile(r"\s*:(?=:)")
_LEGACY = re.compile(r"(?<=#)#(?=\[|vso\[|teamcity\[)", re.IGNORECASE)
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_JSON_COMMAND = re.compile(r"(?<=#)#(?=\[|vso\[|teamcity\[)", re.IGNORECASE)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def line(text: str) -> str:
    """``text`` as one log line that starts no runner command: see the module docstring.

    Apply it to the whole line as printed (or to a string that starts one): ``::`` is only a
    command at a line's start, so only a leading one is escaped.
    """
    if text.isprintable() and "##" not in text and not text.lstrip().startswith("::"):
        return text  # the common case, at C speed
    text = _LEGACY.sub("\\\\x23", _CONTROL.sub(_escape, text))
    leading = _LEADING.match(text)
    return text if leading is None else f"{leading.group()}\\x3a{text[leading.end() + 1 :]}"


def block(text: str, indent: str = "") -> str:
    """Multi-line text from the repository (a traceback): each of its lines made a safe :func:`line`."""
    return "\n".join(indent + line(part) for part in _LINE_BREAK.split(text))


def json_document(text: str) -> str:
    """A serialised JSON document (``json.dumps``: controls already escaped) with the ``##[`` forms
    written as ``#\\u0023[``: the same data for any JSON reader, no command for the runner."""
    return _JSON_COMMAND.sub("\\\\u0023", text)

"""The runner's side of the GitHub file and workflow commands, re-implemented for tests.

Parsers follow actions/runner: ``FileCommandManager.cs`` (``$GITHUB_OUTPUT``: ``name=value``
lines or ``name<<DELIM`` heredocs, the delimiter alone on its line) and ``ActionCommand.cs``
(``::kind key=value,...::message`` with ``%25``/``%0D``/``%0A``, plus ``%3A``/``%2C`` in properties).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

_COMMAND = re.compile(r"^::(?P<kind>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


class Command(NamedTuple):
    kind: str
    properties: dict[str, str]
    message: str


def unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def parse_commands(stdout: str) -> list[Command]:
    """Every ``::kind ...::message`` line of a step's output, as the runner reads it."""
    found = []
    for line in stdout.splitlines():
        match = _COMMAND.match(line)
        if not match:
            continue
        props = {}
        for pair in filter(None, (match["props"] or "").split(",")):
            key, _, value = pair.partition("=")
            props[key.strip()] = unescape_property(value)
        found.append(Command(match["kind"], props, unescape_data(match["message"])))
    return found


def parse_output_file(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` as the runner parses it; raises ValueError where the runner errors."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    values: dict[str, str] = {}
    k = 0
    while k < len(lines):
        line = lines[k]
        if not line:
            k += 1
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc > 0 and (eq < 0 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not name or not delimiter:
                raise ValueError(f"invalid format {line!r}")
            body = []
            k += 1
            while True:
                if k >= len(lines):
                    raise ValueError(f"Matching delimiter not found {delimiter!r}")
                if lines[k] == delimiter:
                    break
                body.append(lines[k])
                k += 1
            values[name] = "\n".join(body)
        elif eq > 0:
            values[line[:eq]] = line[eq + 1 :]
        else:
            raise ValueError(f"invalid format {line!r}")
        k += 1
    return values

"""The runner's side of the GitHub file and workflow commands, re-implemented for tests.

Parsers follow actions/runner: ``FileCommandManager.cs`` (``$GITHUB_OUTPUT``: ``name=value``
lines or ``name<<DELIM`` heredocs, the delimiter alone on its line) and ``ActionCommand.cs``
(``::kind key=value,...::message`` with ``%25``/``%0D``/``%0A``, plus ``%3A``/``%2C`` in properties).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

import pytest

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


# --- what the runner takes as a command, anywhere in a step's output ------------------------

# ActionCommandManager's registered commands (plus stop-commands), compared case-insensitively.
REGISTERED = frozenset(
    {
        "set-env",
        "set-output",
        "save-state",
        "add-mask",
        "add-path",
        "add-matcher",
        "remove-matcher",
        "debug",
        "warning",
        "error",
        "notice",
        "group",
        "endgroup",
        "echo",
        "stop-commands",
        "internal-set-repo-path",
    }
)
_RUNNER_LINES = re.compile("\r\n|\r|\n")  # .NET StreamReader.ReadLine
# .NET char.IsWhiteSpace, what string.TrimStart() removes.
_DOTNET_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_OTHER_CI = re.compile(r"##(vso|teamcity)\[", re.IGNORECASE)


class RunnerCommand(NamedTuple):
    name: str  # lower case
    line: str  # the whole output line it came from


def runner_commands(output: str) -> list[RunnerCommand]:
    """Every line of ``output`` the GitHub runner would process as a command (``TryParseV2``, then
    ``TryParse`` anywhere in the line), plus Azure's ``##vso[`` and TeamCity's ``##teamcity[``."""
    found: list[RunnerCommand] = []
    for line in _RUNNER_LINES.split(output):
        name = _v2_name(line.lstrip(_DOTNET_SPACE)) or _v1_name(line)
        if name is None and _OTHER_CI.search(line):
            name = _OTHER_CI.search(line).group(1).lower()  # type: ignore[union-attr]
        if name is not None:
            found.append(RunnerCommand(name, line))
    return found


def _v2_name(message: str) -> str | None:
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    name = message[2:end].split(" ", 1)[0].lower()
    return name if name in REGISTERED else None


def _v1_name(message: str) -> str | None:
    """The runner looks at the first ``##[`` only; every one is checked here, to be strict."""
    for match in re.finditer(r"##\[([^\]]*)\]", message):
        name = match.group(1).split(" ", 1)[0].lower()
        if name in REGISTERED:
            return name
    return None


def action_environment(monkeypatch: pytest.MonkeyPatch, workspace: Path, files: Path, inputs: dict[str, str]) -> None:
    """The runner's environment for an in-process ``headcheck action``: no inherited ``INPUT_*`` or
    git configuration (all restored after the test), the workspace and file-command paths, ``inputs``."""
    git_config = ["GIT_CONFIG_COUNT", *(f"GIT_CONFIG_{kind}_{k}" for kind in ("KEY", "VALUE") for k in range(4))]
    for key in [*git_config, *(k for k in os.environ if k.startswith("INPUT_"))]:
        monkeypatch.setenv(key, os.environ.get(key, "-"))  # restored after the test: the action sets some
        if key not in git_config or os.environ[key] == "-":
            monkeypatch.delenv(key)
    for key, value in {
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(files / "output"),
        "GITHUB_STEP_SUMMARY": str(files / "summary.md"),
        **inputs,
    }.items():
        monkeypatch.setenv(key, value)

"""GitHub Actions file commands and workflow commands, as the runner reads them.

Everything here follows the runner's own parsers (actions/runner ``FileCommandManager.cs``,
``ActionCommand.cs``) and the toolkit (``@actions/core``), not the prose docs where they differ:

- inputs arrive as ``INPUT_<NAME>``: upper case, spaces turned into ``_``, hyphens kept, and an
  input the workflow leaves out is the empty string (or the action.yml default);
- ``$GITHUB_OUTPUT`` takes ``name<<DELIM`` heredocs; a random delimiter keeps any value safe;
- annotations escape ``%``, CR and LF in the message, plus ``:`` and ``,`` in property values;
  GitHub shows at most 10 errors, 10 warnings and 10 notices per step and drops the rest silently;
- ``$GITHUB_STEP_SUMMARY`` is capped at 1 MiB per step (over it the whole upload is refused);
- files the action writes into the workspace (a checkout the pull request controls) never follow
  a symbolic link and never land under ``.git`` (:func:`write_workspace_file`).

Standard library only: the static gate imports this through ``--format github``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from headcheck import logsafe

__all__ = [
    "ANNOTATIONS_PER_KIND",
    "SUMMARY_LIMIT",
    "Annotation",
    "InputError",
    "UnsafeWriteError",
    "annotation_lines",
    "append_summary",
    "escape_data",
    "escape_property",
    "format_annotation",
    "get_bool_input",
    "get_input",
    "input_variable",
    "safe_directory_environment",
    "trust_directory",
    "workspace",
    "workspace_file_parts",
    "workspace_relative",
    "write_outputs",
    "write_workspace_file",
]

ANNOTATIONS_PER_KIND = 10  # per step and per kind (error, warning, notice); the rest are not shown
SUMMARY_LIMIT = 1024 * 1024  # bytes per step; over it the runner refuses the whole summary

_TRUE = ("true", "True", "TRUE")  # the YAML 1.2 core schema, as core.getBooleanInput accepts
_FALSE = ("false", "False", "FALSE")


class InputError(ValueError):
    """An action input has a value the action cannot use (the action exits 2)."""


class UnsafeWriteError(Exception):
    """A file the action would write sits behind a symbolic link or under ``.git`` (exit 2)."""


class Annotation(NamedTuple):
    kind: str  # "error", "warning" or "notice"
    message: str
    file: str | None = None  # relative to the workspace
    line: int | None = None
    title: str | None = None


def input_variable(name: str) -> str:
    """The variable the runner sets for input ``name`` (``Handler.AddInputsToEnvironment``)."""
    return "INPUT_" + name.replace(" ", "_").upper()


def get_input(name: str, environ: Mapping[str, str] | None = None, default: str = "") -> str:
    """The input's value, whitespace-trimmed as ``core.getInput`` does.

    The runner always sets every input of action.yml (its default, or what ``with:`` gives, which
    may be ''); ``default`` only serves runs outside the runner where the variable is absent.
    """
    env = os.environ if environ is None else environ
    value = env.get(input_variable(name))
    return default if value is None else value.strip()


def get_bool_input(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """``core.getBooleanInput``: true/True/TRUE or false/False/FALSE; empty means ``default``."""
    value = get_input(name, environ)
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"input '{name}' must be true or false, got {value!r}")


def workspace(environ: Mapping[str, str] | None = None) -> Path:
    """``$GITHUB_WORKSPACE`` (``/github/workspace`` in a Docker action), else the current folder."""
    env = os.environ if environ is None else environ
    return Path(env.get("GITHUB_WORKSPACE") or os.getcwd()).absolute()


def workspace_relative(path: Path, base: Path) -> str:
    """``path`` as the runner wants it in an annotation or SARIF: posix, relative to the workspace."""
    absolute = path if path.is_absolute() else Path.cwd() / path
    try:
        return Path(os.path.relpath(absolute, base)).as_posix()
    except ValueError:  # another drive on Windows
        return absolute.as_posix()


def escape_data(text: str) -> str:
    """Escape an annotation message (``escapeData`` in the toolkit); ``%`` first."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (file, title): message escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_annotation(annotation: Annotation) -> str:
    """One ``::error file=…,line=…,title=…::message`` workflow command.

    The message keeps its line breaks (``%0A``) but each of its lines, and the title, is
    neutralised (:mod:`headcheck.logsafe`): they carry revision ids and migration output.
    The file stays exact (GitHub attaches the annotation by it); escaping makes it inert.
    """
    props: list[str] = []
    if annotation.file:
        props.append(f"file={escape_property(annotation.file)}")
        if annotation.line is not None and annotation.line >= 1:
            props.append(f"line={annotation.line}")
    if annotation.title:
        props.append(f"title={escape_property(logsafe.line(annotation.title))}")
    head = f"::{annotation.kind}" + (" " + ",".join(props) if props else "")
    return f"{head}::{escape_data(logsafe.block(annotation.message))}"


def annotation_lines(annotations: Iterable[Annotation], per_kind: int = ANNOTATIONS_PER_KIND) -> list[str]:
    """Workflow commands for ``annotations``, at most ``per_kind`` of each kind.

    GitHub drops the 11th and later annotation of a kind in a step without a word, so the
    overflow is counted and reported in one final notice (one notice slot is kept free for it).
    """
    items = list(annotations)
    counts = {kind: sum(a.kind == kind for a in items) for kind in ("error", "warning", "notice")}
    overflow = any(count > per_kind for count in counts.values())
    limits = dict.fromkeys(counts, per_kind)
    if overflow:
        limits["notice"] = per_kind - 1
    shown: dict[str, int] = dict.fromkeys(counts, 0)
    lines: list[str] = []
    hidden: dict[str, int] = dict.fromkeys(counts, 0)
    for annotation in items:
        kind = annotation.kind if annotation.kind in shown else "notice"
        if shown[kind] < limits[kind]:
            shown[kind] += 1
            lines.append(format_annotation(annotation))
        else:
            hidden[kind] += 1
    if any(hidden.values()):
        parts = ", ".join(f"{count} {kind}(s)" for kind, count in hidden.items() if count)
        message = (
            f"headcheck: {parts} more not shown as annotations (GitHub shows {per_kind} per kind per step); "
            "the job summary and the log list every finding"
        )
        lines.append(format_annotation(Annotation("notice", message, title="headcheck: more findings")))
    return lines


def _delimiter(values: Sequence[str]) -> str:
    while True:
        candidate = f"ghadelimiter_{secrets.token_hex(16)}"
        if not any(candidate in value for value in values):
            return candidate


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append ``name<<DELIM`` heredocs to ``$GITHUB_OUTPUT`` (UTF-8, one random delimiter each)."""
    chunks = []
    for name, value in outputs.items():
        delimiter = _delimiter([name, value])
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    with path.open("a", encoding="utf-8", newline="\n") as stream:
        stream.write("".join(chunks))


def append_summary(path: Path, markdown: str, limit: int = SUMMARY_LIMIT) -> bool:
    """Append ``markdown`` to ``$GITHUB_STEP_SUMMARY``; False (and a short note) when over ``limit``.

    The runner refuses a step summary over 1 MiB as a whole, so an oversized one is replaced
    rather than written and lost.
    """
    existing = path.stat().st_size if path.exists() else 0
    data = markdown.encode("utf-8")
    written = existing + len(data) <= limit
    if not written:
        data = (
            f"headcheck: the job summary ({len(data) // 1024} KiB) is over GitHub's "
            f"{limit // 1024} KiB step limit; see the log and the JSON report.\n"
        ).encode()
    with path.open("ab") as stream:
        stream.write(data)
    return written


def safe_directory_environment(directory: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Variables that make git trust ``directory`` without writing any gitconfig.

    In a Docker action the workspace belongs to the runner's uid while the container runs as
    root, so git refuses it ("detected dubious ownership", actions/runner#2033). git reads
    ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` as extra command-line config,
    which ``safe.directory`` honours; existing entries are kept and this one is appended.
    """
    try:
        count = int(environ.get("GIT_CONFIG_COUNT", "0") or "0")
    except ValueError:
        count = 0
    value = directory.as_posix()
    for k in range(count):
        key, existing = environ.get(f"GIT_CONFIG_KEY_{k}"), environ.get(f"GIT_CONFIG_VALUE_{k}")
        if key == "safe.directory" and existing in (value, "*"):
            return {}
    return {
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": "safe.directory",
        f"GIT_CONFIG_VALUE_{count}": value,
    }


def trust_directory(directory: Path, environ: MutableMapping[str, str] | None = None) -> None:
    """Apply :func:`safe_directory_environment` to this process (inherited by git subprocesses)."""
    env = os.environ if environ is None else environ
    env.update(safe_directory_environment(directory, env))


_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def workspace_file_parts(relative: str, what: str) -> tuple[str, ...]:
    """The folders and name of a workspace-relative output path; InputError when it could leave
    the workspace or land in the git directory (``.git/config`` holds the checkout's credentials)."""
    path = PurePosixPath(relative)
    parts = path.parts
    if not parts or path.is_absolute() or ".." in parts:
        raise InputError(f"input '{what}' must be a path inside the workspace, got {relative!r}")
    if any(part.casefold() == ".git" for part in parts):
        raise InputError(f"input '{what}' must not point into .git, got {relative!r}")
    return parts


def _open_folder(name: str, parent: int, shown: str) -> int:
    try:
        return os.open(name, _DIRECTORY, dir_fd=parent)
    except FileNotFoundError:
        os.mkdir(name, 0o777, dir_fd=parent)
        return os.open(name, _DIRECTORY, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and stat.S_ISLNK(
            os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        ):
            raise UnsafeWriteError(f"refusing to write {shown}: {name} is a symbolic link") from None
        raise


def write_workspace_file(base: Path, relative: str, data: bytes, what: str = "report") -> Path:
    """Write ``data`` to ``base/relative`` without following a symbolic link anywhere below ``base``.

    A pull request can commit ``headcheck-report.json -> .git/config``: each folder is opened
    relative to the previous one with ``O_NOFOLLOW`` (missing ones are created), an existing
    symlink at the target is refused, and the data goes to a fresh ``O_EXCL`` file renamed over
    the target, so not even a hard link is written through. Raises InputError, UnsafeWriteError
    (one-line messages) or OSError.
    """
    parts = workspace_file_parts(relative, what)
    shown = "/".join(parts)
    folder = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            inner = _open_folder(name, folder, shown)
            os.close(folder)
            folder = inner
        name = parts[-1]
        try:
            mode = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISLNK(mode):
            raise UnsafeWriteError(f"refusing to write {shown}: it is a symbolic link")
        if mode is not None and not stat.S_ISREG(mode):
            raise UnsafeWriteError(f"refusing to write {shown}: it exists and is not a regular file")
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=folder
        )
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
    finally:
        os.close(folder)
    return base.joinpath(*parts)

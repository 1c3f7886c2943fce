"""Which files Alembic loads from an environment's version locations, in its load order.

Follows ``alembic.script.base.Script._list_py_dir`` / ``_from_path``: every version location in
order, files in sorted name order, ``.py`` files whose name does not start with ``__init__`` or
``.#``; subfolders only with ``recursive_version_locations``. Nothing here reads a file's content
(that is ``headcheck.scan``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path

from headcheck.fs import is_dir, touch

__all__ = ["CANDIDATE", "HINT_ENTRY_BUDGET", "list_revision_paths", "py_files_below"]

CANDIDATE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
# The ignored-subfolder hint looks at most this many folder entries per subfolder: a committed
# link or a huge tree cannot make the gate walk the machine.
HINT_ENTRY_BUDGET = 2000
_NAME = attrgetter("name")  # (a lambda as sort key costs a Python call per entry)


def list_revision_paths(
    locations: tuple[Path, ...], recursive: bool
) -> tuple[list[Path], list[tuple[Path, Path]], list[Path], list[Path]]:
    """Candidate files in Alembic's load order, plus duplicates, ignored subfolders, missing dirs."""
    paths: list[Path] = []
    seen: dict[str, Path] = {}
    twice: list[tuple[Path, Path]] = []
    ignored: list[Path] = []
    missing: list[Path] = []
    for location in locations:
        if not is_dir(location):
            missing.append(location)
            continue
        # Alembic's os.walk drops a folder it cannot list without a word (an empty graph that
        # passes); headcheck lists the folder as an unreadable "file" so that the gate fails.
        unreadable: list[OSError] = []
        for dirpath, dirnames, entries in _walk(location, unreadable):
            if dirpath.endswith("__pycache__"):
                dirnames[:] = []
                continue
            # Alembic dedupes on Path.resolve(); resolve the folder once and only links per file.
            real_dir = os.path.realpath(dirpath) + os.sep
            child = Path(dirpath).joinpath
            for entry in entries:
                filename = entry.name
                # Alembic lists every file, resolves it, and only then matches the *resolved* name:
                # a link "b.py" to "notes.txt" is skipped, a link "x.txt" to "a.py" is loaded.
                link = entry.is_symlink()
                if not link and not CANDIDATE.match(filename):
                    continue
                real = os.path.realpath(entry.path) if link else real_dir + filename
                if link and not CANDIDATE.match(os.path.basename(real)):
                    continue
                path = child(filename)
                if real in seen:
                    twice.append((path, seen[real]))
                    continue
                seen[real] = path
                paths.append(path)
            if not recursive:
                for name in dirnames:
                    sub = Path(dirpath, name)
                    # A linked folder is not read even with recursion (os.walk does not follow
                    # links), so it is never "ignored" either; and it may point anywhere.
                    if name.endswith("__pycache__") or os.path.islink(sub):
                        continue
                    if any(True for _ in py_files_below(sub)):
                        ignored.append(sub)
                break
            dirnames[:] = [d for d in dirnames if not d.endswith("__pycache__")]
        paths.extend(Path(error.filename) for error in unreadable if error.filename)
    return paths, twice, ignored, missing


def _walk(top: Path, errors: list[OSError]) -> Iterator[tuple[str, list[str], list[os.DirEntry[str]]]]:
    """``os.walk`` (top-down, no links followed, sorted) that also yields the file entries.

    The entries carry the file type from the directory listing itself, so telling links from
    files costs no extra system call per file.
    """
    todo = [os.fspath(top)]
    while todo:
        folder = todo.pop()
        touch(folder)
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=_NAME)
        except OSError as exc:
            errors.append(exc)
            continue
        dirnames: list[str] = []
        files: list[os.DirEntry[str]] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows links, as os.walk's classification does
            except OSError:
                is_dir = False
            if is_dir:
                dirnames.append(entry.name)
            else:
                files.append(entry)
        yield folder, dirnames, files
        for name in reversed(dirnames):
            sub = os.path.join(folder, name)
            if not os.path.islink(sub):  # os.walk(followlinks=False) does not descend into links
                todo.append(sub)


def py_files_below(folder: Path, budget: int = HINT_ENTRY_BUDGET) -> Iterator[Path]:
    """Candidate files in ``folder`` and its real subfolders (links never followed), in order.

    Stops after ``budget`` folder entries, so a huge tree costs a bounded amount of work.
    """
    todo = [os.fspath(folder)]
    while todo and budget > 0:
        current = todo.pop()
        touch(current)
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=_NAME)
        except OSError:
            continue
        subfolders = []
        for entry in entries[:budget]:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.endswith("__pycache__"):
                        subfolders.append(entry.path)
                    continue
            except OSError:
                continue
            if CANDIDATE.match(entry.name):
                yield Path(entry.path)
        budget -= len(entries)
        todo.extend(reversed(subfolders))

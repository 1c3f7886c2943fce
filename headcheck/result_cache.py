"""Replay the static gate's whole result when nothing it looked at has changed.

A warm pre-commit or CI run repeats the last run's work on the same files. While the gate runs,
``headcheck.fs`` records every path it reads, lists or probes (config files, folders walked
for discovery, version folders, revision files, the settings file, module files read for
constants), each file read with the stat of the open file as it was read (on whichever core
read it), anything else stat'ed afterwards. The next run with the same arguments, working
directory, environment variables, interpreter and headcheck version stats the same paths and,
when every (type, device, inode, size, mtime, ctime) is unchanged, prints the stored report
without importing the gate at all. Any change to any of them, a file appearing in or leaving
any folder looked at (the folder's mtime changes), or a new headcheck version misses.

Like git's index, a result is not stored when anything it depends on changed in the last two
seconds (a write in the same clock tick as the stat could go unseen). Cache files are trusted
only when owned by the current user and writable by nobody else.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Sequence

from headcheck import __version__, fs

__all__ = ["cache_dir_from_env", "digest", "replay", "store"]

_FORMAT = 1
_RACY_NS = 2_000_000_000
_ENV_PREFIXES = ("HEADCHECK_", "GITHUB_")
_ENV_NAMES = ("NO_COLOR", "PYTHONPATH")
# Arguments whose result depends on more than the files (git state) or that write elsewhere.
_UNCACHEABLE = ("--base", "--output", "-o", "--no-cache", "-h", "--help", "--allow-history-edits")

_pending: tuple[str, bytes] | None = None  # (cache file, key) of the run in progress


def cache_dir_from_env() -> str | None:
    """Where the caches live, or None when ``HEADCHECK_NO_CACHE`` is set.

    ``$HEADCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/headcheck``, else ``~/.cache/headcheck``:
    outside the repository.
    """
    if os.environ.get("HEADCHECK_NO_CACHE"):
        return None
    explicit = os.environ.get("HEADCHECK_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "headcheck")


def digest(data: bytes) -> str:
    """A short hex digest (BLAKE2) for cache file names."""
    try:
        from _blake2 import blake2b  # the C module alone: hashlib would load OpenSSL
    except ImportError:  # pragma: no cover - CPython always has it
        from hashlib import blake2b
    return blake2b(data, digest_size=16).hexdigest()


def run_key(argv: Sequence[str], color: bool) -> bytes:
    env = sorted(
        (name, value) for name, value in os.environ.items() if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES
    )
    return marshal.dumps(
        (_FORMAT, __version__, sys.version, sys.executable, tuple(sys.path), os.getcwd(), tuple(argv), color, env)
    )


def _stat(path: str) -> tuple[int, ...] | None:
    try:
        return fs.stat_key(os.stat(path))
    except OSError as exc:
        return (-1, exc.errno or 0)
    except ValueError:
        return None


def replay(argv: Sequence[str], color: bool) -> tuple[str, str, int] | None:
    """The stored report, notes (stderr) and exit code for this exact run, or None (then the
    run records what it touches, for ``store``)."""
    global _pending
    _pending = None
    cache_dir = cache_dir_from_env()
    if cache_dir is None or any(arg.startswith(_UNCACHEABLE) for arg in argv):
        return None
    try:
        key = run_key(argv, color)
    except (OSError, ValueError):  # no working directory, unmarshallable environment
        return None
    path = os.path.join(cache_dir, "results", digest(key) + ".marshal")
    _pending = (path, key)
    fs.start_recording()
    data = fs.read_private(path)
    if data is None:
        return None
    try:
        stored_key, deps, text, notes, code = marshal.loads(data)
        if stored_key != key or not isinstance(text, str) or not isinstance(notes, str) or code not in (0, 1):
            return None
        for dep, seen in deps:
            if _stat(dep) != seen:
                return None
    except Exception:  # any malformed cache file is only a miss
        return None
    fs.stop_recording()
    _pending = None
    return text, notes, code


def store(text: str, notes: str, code: int) -> None:
    """Keep this run's report for the next identical run (after ``replay`` missed)."""
    global _pending
    pending, _pending = _pending, None
    touched = fs.stop_recording()
    if pending is None or touched is None or code not in (0, 1):
        return
    path, key = pending
    import time

    # A file read is described by the stat of the file as it was read (the run's reads on the
    # other core too); anything else (a folder listed, a path probed) is stat'ed now.
    deps = [(dep, _stat(dep) if seen is None else seen) for dep, seen in touched.items()]
    recent = time.time_ns() - _RACY_NS
    if any(seen is not None and seen[0] != -1 and max(seen[4], seen[5]) >= recent for _, seen in deps):
        return  # racily clean: a change in the same clock tick could be missed next time
    fs.write_private(path, marshal.dumps((key, deps, text, notes, code)))

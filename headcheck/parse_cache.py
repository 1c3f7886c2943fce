"""Read many revision files fast: a content-hash cache of parsed records, and parallel parsing.

``ast.parse`` costs about 0.13 ms per revision file, so a 5,000-revision history spends most of
the gate's time parsing files that have not changed since the last run. Records are cached
by a BLAKE2 hash of the file's bytes (never by name or mtime), so an edited file is always
parsed again and a syntax error can never hide behind the cache. The cache lives outside the
repository (``$HEADCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/headcheck``, else
``~/.cache/headcheck``), one file per environment, holding only the entries the last run used.
Cache misses are parsed on every core when there are many of them.
"""

from __future__ import annotations

import marshal
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from headcheck import __version__
from headcheck.scan import FileIssue, RevisionFile, Value, parse_revision, read_source

__all__ = ["cache_dir_from_env", "read_revisions"]

_PARALLEL_MIN_FILES = 300  # below this a process pool costs more than it saves
_FORMAT = 2


def cache_dir_from_env() -> Path | None:
    """Where the cache lives, or None when ``HEADCHECK_NO_CACHE`` is set."""
    if os.environ.get("HEADCHECK_NO_CACHE"):
        return None
    explicit = os.environ.get("HEADCHECK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "headcheck")


def _pack(rf: RevisionFile) -> tuple[Any, ...]:
    values = {name: tuple(value) for name, value in rf.values.items()}
    issues = [tuple(issue) for issue in rf.issues]
    return (values, rf.revises_doc, rf.revises_line, rf.has_upgrade, issues, rf.guessed_id)


def _unpack(path: Path, packed: tuple[Any, ...]) -> RevisionFile:
    values, revises_doc, revises_line, has_upgrade, issues, guessed_id = packed
    return RevisionFile(
        path,
        {name: Value(*value) for name, value in values.items()},
        revises_doc,
        revises_line,
        has_upgrade,
        tuple(FileIssue(*issue) for issue in issues),
        guessed_id,
    )


def _parse_chunk(chunk: list[tuple[str, bytes]]) -> list[tuple[Any, ...]]:
    return [_pack(parse_revision(Path(path), data)) for path, data in chunk]


def _parse_all(items: list[tuple[str, bytes]]) -> list[tuple[Any, ...]]:
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < _PARALLEL_MIN_FILES or workers < 2:
        return _parse_chunk(items)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(items) // workers)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return [packed for part in pool.map(_parse_chunk, chunks) for packed in part]
    except (OSError, RuntimeError):  # no fork, no semaphores (some sandboxes): parse here
        return _parse_chunk(items)


def _cache_file(cache_dir: Path, paths: Sequence[Path]) -> Path:
    import hashlib

    key = "\0".join(sorted({str(p.parent) for p in paths}))
    return cache_dir / f"{hashlib.blake2b(key.encode(), digest_size=12).hexdigest()}.marshal"


class _Cache(NamedTuple):
    entries: dict[bytes, tuple[Any, ...]]  # content digest -> packed record
    stats: dict[str, tuple[tuple[int, int, int, int], bytes]]  # path -> (stat key, digest)
    written_ns: int


def _load(path: Path) -> _Cache:
    empty = _Cache({}, {}, 0)
    try:
        data = marshal.loads(path.read_bytes())
    except Exception:  # any undecodable cache is only a miss
        return empty
    if not isinstance(data, tuple) or len(data) != 5 or data[:2] != (_FORMAT, __version__):
        return empty
    entries, stats, written_ns = data[2:]
    if not (isinstance(entries, dict) and isinstance(stats, dict) and isinstance(written_ns, int)):
        return empty
    return _Cache(entries, stats, written_ns)


def _store(path: Path, cache: _Cache) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            marshal.dump((_FORMAT, __version__, cache.entries, cache.stats, time.time_ns()), handle)
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass  # a cache that cannot be written only costs speed


def _stat_key(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_revisions(paths: Sequence[Path], cache_dir: Path | None) -> list[RevisionFile]:
    """Parse every file (unreadable ones become records with an issue), using the cache.

    Like git's index, a file whose inode, size, mtime and ctime equal what the cache saw, and
    that was last modified well before the cache was written, is not read again: its digest
    is taken from the cache. Anything else is read and hashed.
    """
    if cache_dir is not None and paths:
        try:
            return _read_with_cache(paths, cache_dir)
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            pass  # a cache file that decodes but holds the wrong shapes: ignore it, parse again
    contents = [read_source(path) for path in paths]
    items = [(str(p), data) for p, data in zip(paths, contents) if isinstance(data, bytes)]
    parsed = iter(_parse_all(items))
    return [data if isinstance(data, RevisionFile) else _unpack(p, next(parsed)) for p, data in zip(paths, contents)]


def _read_with_cache(paths: Sequence[Path], cache_dir: Path) -> list[RevisionFile]:
    import hashlib

    cache_file = _cache_file(cache_dir, paths)
    cache = _load(cache_file)
    trusted_before = cache.written_ns - 1_000_000_000  # git's "racily clean" guard
    digests: list[bytes | RevisionFile] = []
    stats: dict[str, tuple[tuple[int, int, int, int], bytes]] = {}
    missing: dict[bytes, tuple[str, bytes]] = {}
    for path in paths:
        name = str(path)
        key = _stat_key(name)
        memo = cache.stats.get(name)
        if (
            key is not None
            and memo is not None
            and memo[0] == key
            and key[2] < trusted_before
            and memo[1] in cache.entries
        ):
            digests.append(memo[1])
            stats[name] = memo
            continue
        data = read_source(path)
        if isinstance(data, RevisionFile):
            digests.append(data)
            continue
        digest = hashlib.blake2b(data, digest_size=16).digest()
        digests.append(digest)
        if key is not None:
            stats[name] = (key, digest)
        if digest not in cache.entries:
            missing[digest] = (name, data)
    fresh = dict(zip(missing, _parse_all(list(missing.values())))) if missing else {}
    used: dict[bytes, tuple[Any, ...]] = {}
    records = []
    for path, entry in zip(paths, digests):
        if isinstance(entry, RevisionFile):
            records.append(entry)
            continue
        packed = fresh.get(entry) or cache.entries[entry]
        used[entry] = packed
        records.append(_unpack(path, packed))
    if fresh or stats != cache.stats or len(used) != len(cache.entries):
        _store(cache_file, _Cache(used, stats, 0))
    return records

"""Read many revision files fast: a content-hash cache of parsed records, and parsing on two cores.

Compiling and reading the header costs about a quarter of a millisecond per revision file, so a 5,000-revision
history spends most of the gate's time on files that have not changed since the last run.
Records are cached by a BLAKE2 hash of the file's bytes (never by name or mtime), so an
edited file is always parsed again and a syntax error can never hide behind the cache. The
cache lives outside the repository (see ``headcheck.result_cache.cache_dir_from_env``), one file
per environment, holding only the entries the last run used, readable by its owner only.

Files to read are taken in chunks from a shared queue by this process and one forked worker,
which reads (and hashes) its own files and hands back compact records through an anonymous
file; without ``fork``, for a small history, or for any chunk the worker did not deliver, the
work is done here.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from headcheck import __version__
from headcheck.fs import read_private, stat_key, touch, write_private
from headcheck.result_cache import digest
from headcheck.scan import RevisionFile, Value, parse_revisions, prepare, read_source, read_source_stat
from headcheck.source import FileIssue

__all__ = ["read_revisions"]

_PARALLEL_MIN_FILES = 200  # below this a second process costs more than it saves
_CHUNK = 32  # files per chunk of the shared queue (the other process waits for at most one)
_MAX_CHUNKS = 1024  # chunk numbers in the queue pipe: 4 KiB, what even a one-page pipe buffer holds
_FORMAT = 5
_T = TypeVar("_T")
_new = tuple.__new__
_R = TypeVar("_R")
_U = TypeVar("_U")


def _pack(rf: RevisionFile) -> tuple[Any, ...]:
    values = {name: tuple(value) for name, value in rf.values.items()}
    issues = [tuple(issue) for issue in rf.issues]
    warnings = [tuple(issue) for issue in rf.warnings]
    return (values, rf.revises_doc, rf.revises_line, rf.has_upgrade, issues, rf.guessed_id, rf.names, warnings)


def _unpack(path: Path, packed: tuple[Any, ...]) -> RevisionFile:
    """The record ``_pack`` packed (tuple.__new__ builds the named tuples without their Python
    ``__new__``: a third of the cost, for every record the worker or the cache hands back)."""
    values, revises_doc, revises_line, has_upgrade, issues, guessed_id, names, warnings = packed
    unpacked: dict[str, Value] = {}
    for name, value in values.items():
        if type(value) is not tuple or len(value) != len(Value._fields):
            raise TypeError("not a packed Value")  # a damaged cache entry: parsed again
        unpacked[name] = _new(Value, value)
    return _new(
        RevisionFile,
        (
            path,
            unpacked,
            revises_doc,
            revises_line,
            has_upgrade,
            tuple(FileIssue(*issue) for issue in issues),
            guessed_id,
            names,
            tuple(FileIssue(*issue) for issue in warnings),
        ),
    )


def _on_two_cores(
    local: Callable[[Sequence[_T]], list[_U]],
    items: Sequence[_T],
    work: Callable[[Sequence[_T]], list[_R]],
    finish: Callable[[Sequence[_T], list[_R]], list[_U]],
    meanwhile: Callable[[], object] | None = None,
) -> list[_U]:
    """``local(items)``, on this process and one forked worker when it pays; ``meanwhile()`` runs
    here once (first, while the worker starts on the chunks).

    Items go in chunks, which both processes take from a shared queue (chunk numbers in a pipe:
    a read of one number is atomic), so neither waits for the other however the machine's load
    falls. This process runs ``local`` on its chunks; the worker runs ``work`` (compact,
    marshal-able results) and appends them, chunk by chunk, to an anonymous file, where this
    process picks them up between its own chunks and ``finish`` turns them into what ``local``
    gives. A chunk the worker took but never delivered (it died, or failed) is done here.
    """

    def serial() -> list[_U]:
        if meanwhile is not None:
            meanwhile()
        return local(items)

    if len(items) < _PARALLEL_MIN_FILES or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return serial()
    size = max(_CHUNK, -(-len(items) // (_MAX_CHUNKS - 128)))  # (room for the small chunks)
    # The last files go in chunks an eighth the size: whichever process ends first then waits
    # for a few files of the other's, not for a whole chunk.
    tail = min(len(items) // 4, 8 * size)
    small = max(size // 8, 1)
    split = len(items) - tail
    chunks = [items[start : min(start + size, split)] for start in range(0, split, size)]
    chunks += [items[start : start + small] for start in range(split, len(items), small)]
    try:
        out = os.memfd_create("headcheck-parse") if hasattr(os, "memfd_create") else None
    except OSError:
        out = None
    if out is None:
        return serial()
    try:
        queue, feed = os.pipe()
    except OSError:
        os.close(out)
        return serial()
    tokens = b"".join(n.to_bytes(4, "little") for n in range(len(chunks)))
    try:
        os.set_blocking(feed, False)  # never wait on a full pipe (nobody reads it yet)
        written = os.write(feed, tokens)
    except OSError:
        written = -1
    finally:
        os.close(feed)
    try:
        if written != len(tokens):
            raise BlockingIOError
        pid = os.fork()
    except OSError:
        os.close(out)
        os.close(queue)
        return serial()
    if pid == 0:  # the worker: take chunks until none is left, append each one's results, leave without cleanup
        status = 1
        try:
            while token := os.read(queue, 4):
                n = int.from_bytes(token, "little")
                blob = marshal.dumps((n, work(chunks[n])))
                view = memoryview(len(blob).to_bytes(4, "little") + blob)
                while view:
                    view = view[os.write(out, view) :]
            status = 0
        finally:
            os._exit(status)
    reaped = False
    try:
        if meanwhile is not None:
            meanwhile()
        done: dict[int, list[_U]] = {}
        offset = 0

        def take_delivered() -> None:
            """``finish`` the worker's chunks appended so far (length-prefixed; a record still
            being written, or cut short by a dying worker, is left alone)."""
            nonlocal offset
            size = os.fstat(out).st_size
            while size - offset >= 4:
                length = int.from_bytes(os.pread(out, 4, offset), "little")
                if size - offset - 4 < length:
                    return
                try:
                    n, got = marshal.loads(os.pread(out, length, offset + 4))
                except (ValueError, EOFError, TypeError):
                    return
                offset += 4 + length
                if isinstance(n, int) and 0 <= n < len(chunks) and isinstance(got, list) and len(got) == len(chunks[n]):
                    done[n] = finish(chunks[n], got)

        while token := os.read(queue, 4):
            n = int.from_bytes(token, "little")
            done[n] = local(chunks[n])
            take_delivered()  # while the worker is still busy: less to do once it is done
        os.waitpid(pid, 0)
        reaped = True
        take_delivered()
        results: list[_U] = []
        for n, chunk in enumerate(chunks):
            results += done[n] if n in done else local(chunk)
        return results
    finally:
        if not reaped:  # interrupted (Ctrl-C) or failed here: leave no worker behind
            import contextlib
            import signal

            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(out)
        os.close(queue)


def _cache_file(cache_dir: Path, paths: Sequence[Path], python: tuple[int, int] | None) -> str:
    # The folders of the paths (os.path.dirname of each), dirname called once per folder, not once
    # per file: what precedes a path's last separator, then dirname of that (which drops the
    # trailing separators, as for the path itself).
    heads = {name[: name.rfind(os.sep) + 1] for name in map(str, paths)}
    key = "\0".join([repr(python), *sorted({os.path.dirname(head) for head in heads})])
    return os.path.join(cache_dir, f"{digest(key.encode('utf-8', 'surrogatepass'))}.marshal")


class _Cache(NamedTuple):
    entries: dict[bytes, tuple[Any, ...]]  # content digest -> packed record
    stats: dict[str, tuple[tuple[int, ...], bytes]]  # path -> (stat key, digest)
    written_ns: int


def _load(path: str) -> _Cache:
    empty = _Cache({}, {}, 0)
    raw = read_private(path)
    if raw is None:
        return empty
    try:
        data = marshal.loads(raw)
    except Exception:  # any undecodable cache is only a miss
        return empty
    if not isinstance(data, tuple) or len(data) != 5 or data[:2] != (_FORMAT, __version__):
        return empty
    entries, stats, written_ns = data[2:]
    if not (isinstance(entries, dict) and isinstance(stats, dict) and isinstance(written_ns, int)):
        return empty
    return _Cache(entries, stats, written_ns)


def _store(path: str, cache: _Cache) -> None:
    import time

    write_private(path, marshal.dumps((_FORMAT, __version__, cache.entries, cache.stats, time.time_ns())))


def _stat_key(path: str) -> tuple[int, ...] | None:
    """(inode, size, mtime, ctime) of ``path`` now (recorded as what the result depends on)."""
    try:
        seen = stat_key(os.stat(path))
    except OSError:
        touch(path)
        return None
    touch(path, seen)
    return _key_of(seen)


def read_revisions(
    paths: Sequence[Path],
    cache_dir: Path | None,
    python: tuple[int, int] | None = None,
    *,
    meanwhile: Callable[[], object] | None = None,
) -> list[RevisionFile]:
    """Parse every file (unreadable ones become records with an issue), using the cache.

    Like git's index, a file whose inode, size, mtime and ctime equal what the cache saw, and
    that was last modified well before the cache was written, is not read again: its digest
    is taken from the cache. Anything else is read and hashed.

    ``meanwhile()`` is called once, in this process, while the other core starts parsing (work
    that does not need the records, such as importing what checks them).
    """
    if meanwhile is not None:
        meanwhile = _once(meanwhile)
    if cache_dir is not None and paths:
        try:
            return _read_with_cache(paths, cache_dir, python, meanwhile)
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            pass  # a cache file that decodes but holds the wrong shapes: ignore it, parse again
    for path in paths:
        touch(path)  # the worker's reads are not seen by this process's recording

    def read_chunk(chunk: Sequence[Path]) -> list[RevisionFile]:
        return _read_and_parse(chunk, python)

    def work(chunk: Sequence[Path]) -> list[tuple[Any, ...]]:
        return [_pack(rf) for rf in _read_and_parse(chunk, python)]

    def finish(chunk: Sequence[Path], packed: list[tuple[Any, ...]]) -> list[RevisionFile]:
        return [_unpack(path, record) for path, record in zip(chunk, packed, strict=True)]

    prepare()
    return _on_two_cores(read_chunk, paths, work, finish, meanwhile)


def _once(call: Callable[[], object]) -> Callable[[], None]:
    pending = [call]

    def once() -> None:
        while pending:
            pending.pop()()

    return once


def _read_and_parse(paths: Sequence[Path], python: tuple[int, int] | None) -> list[RevisionFile]:
    """Read and parse files (unreadable ones become records with an issue), in order."""
    records: list[RevisionFile | None] = []
    readable: list[tuple[Path, bytes]] = []
    slots: list[int] = []
    for path in paths:
        data = read_source(path)
        if isinstance(data, RevisionFile):
            records.append(data)
        else:
            slots.append(len(records))
            records.append(None)
            readable.append((path, data))
    for slot, record in zip(slots, parse_revisions(readable, python), strict=True):
        records[slot] = record
    return records  # type: ignore[return-value]  # every slot is filled


def _read_with_cache(
    paths: Sequence[Path], cache_dir: Path, python: tuple[int, int] | None, meanwhile: Callable[[], object] | None
) -> list[RevisionFile]:
    cache_file = _cache_file(cache_dir, paths, python)
    cache = _load(cache_file)
    trusted_before = cache.written_ns - 1_000_000_000  # git's "racily clean" guard
    digests: list[bytes | RevisionFile | None] = []
    stats: dict[str, tuple[tuple[int, ...], bytes]] = {}
    unread: list[Path] = []
    slots: list[int] = []
    memos = cache.stats
    if not memos:  # a fresh checkout: every file read, and stat'ed, where it is read
        digests += [None] * len(paths)
        slots += range(len(paths))
        unread += paths
    for path in paths if memos else ():
        name = str(path)
        memo = memos.get(name)
        if memo is None:
            touch(name)
        else:
            key = _stat_key(name)
            if key is not None and memo[0] == key and key[2] < trusted_before and memo[1] in cache.entries:
                digests.append(memo[1])
                stats[name] = memo
                continue
        slots.append(len(digests))
        digests.append(None)
        unread.append(path)
    fresh: dict[bytes, tuple[Any, ...]] = {}
    parsed: dict[int, RevisionFile] = {}  # slot -> record parsed in this process (not packed again)
    if unread:  # read (and, when not cached, parsed) where the file is read: on both cores
        prepare()
        entries = cache.entries

        def read_chunk(chunk: Sequence[Path]) -> list[tuple[Any, ...]]:
            return _read_for_cache(chunk, entries, python, keep=True)

        def work(chunk: Sequence[Path]) -> list[tuple[Any, ...]]:
            return _read_for_cache(chunk, entries, python, keep=False)

        def delivered(chunk: Sequence[Path], results: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            """The worker's results as ``read_chunk`` gives them (records unpacked here, between
            this process's own chunks, not after both are done)."""
            return [
                (*result, _unpack(path, result[1])) if result[1] is not None else result
                for path, result in zip(chunk, results, strict=True)
            ]

        for slot, path, (file_digest, packed, seen, *record) in zip(
            slots, unread, _on_two_cores(read_chunk, unread, work, delivered, meanwhile), strict=True
        ):
            if file_digest is None:  # unreadable: its HC204 record, never cached
                touch(path)  # (the worker's reads are not seen by this process's recording)
                digests[slot] = record[0] if record else _unpack(path, packed)
                continue
            digests[slot] = file_digest
            name = str(path)
            touch(name, seen)
            if packed is not None:
                fresh[file_digest] = packed
                if record:
                    parsed[slot] = record[0]
            stats[name] = (_key_of(seen), file_digest)
    used: dict[bytes, tuple[Any, ...]] = {}
    records = []
    for slot, (path, entry) in enumerate(zip(paths, digests, strict=True)):
        if isinstance(entry, RevisionFile):
            records.append(entry)
            continue
        assert entry is not None
        packed = fresh.get(entry) or cache.entries[entry]
        used[entry] = packed
        records.append(parsed[slot] if slot in parsed else _unpack(path, packed))
    if fresh or stats != cache.stats or len(used) != len(cache.entries):
        _store(cache_file, _Cache(used, stats, 0))
    return records


def _key_of(seen: Sequence[int]) -> tuple[int, ...]:
    """The parse cache's stat key (inode, size, mtime, ctime) from a ``headcheck.fs.stat_key``."""
    return tuple(seen[2:])


def _read_for_cache(
    paths: Sequence[Path], cached: dict[bytes, tuple[Any, ...]], python: tuple[int, int] | None, *, keep: bool
) -> list[tuple[Any, ...]]:
    """Per file ``(digest, packed record or None when ``cached`` has it, headcheck.fs.stat_key
    of the file read)``, and with ``keep`` the record itself; ``(None, packed HC204 record, None)``
    for a file that cannot be read."""
    from _blake2 import blake2b

    results: list[tuple[Any, ...]] = []
    to_parse: list[tuple[Path, bytes]] = []
    slots: list[int] = []
    for path in paths:
        found = read_source_stat(path)
        if isinstance(found, RevisionFile):
            results.append((None, _pack(found), None, found) if keep else (None, _pack(found), None))
            continue
        data, seen = found
        file_digest = blake2b(data, digest_size=16).digest()
        if file_digest not in cached:
            slots.append(len(results))
            to_parse.append((path, data))
        results.append((file_digest, None, seen))
    for slot, record in zip(slots, parse_revisions(to_parse, python), strict=True):
        file_digest, _, seen = results[slot]
        results[slot] = (file_digest, _pack(record), seen, record) if keep else (file_digest, _pack(record), seen)
    return results

"""File-system access that hostile paths can neither hang nor crash.

The pull request controls file names, links and file types: a FIFO named ``x.py`` would block a
plain ``open()`` forever, a device file would never end, and ``Path.is_dir()`` raises on a folder
the user cannot enter or a name longer than the OS allows. Everything the static gate reads or
tests goes through here.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = [
    "NotRegularFile",
    "exists",
    "is_dir",
    "is_file",
    "read_private",
    "read_regular",
    "read_regular_stat",
    "start_recording",
    "stat_error",
    "stat_key",
    "stop_recording",
    "touch",
    "write_private",
    "write_stdout",
]

# Every path the gate reads, lists or probes, while headcheck.result_cache records a run, with
# what a stat of it saw when the file was read (None: stat it when the run is stored).
_recording: dict[str, tuple[int, ...] | None] | None = None

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(OSError):
    """The path is a FIFO, socket, device or folder: never opened for reading."""


def start_recording() -> None:
    global _recording
    _recording = {}


def stop_recording() -> dict[str, tuple[int, ...] | None] | None:
    """The paths touched since ``start_recording``, each with the ``stat_key`` seen when it was
    read, if known (None when not recording)."""
    global _recording
    touched, _recording = _recording, None
    return touched


def touch(path: str | os.PathLike[str], seen: tuple[int, ...] | None = None) -> None:
    """Note that the result depends on ``path`` (a file read, a folder listed, a path probed);
    ``seen``: its ``stat_key`` when the bytes the result depends on were read."""
    if _recording is not None:
        name = os.fspath(path)
        if seen is not None or name not in _recording:
            _recording[name] = seen


def stat_key(st: os.stat_result) -> tuple[int, int, int, int, int, int]:
    """What tells a file's change: type, device, inode, size, modification and change times."""
    return (st.st_mode, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a regular file (links followed). Raises OSError for anything else, never blocks.

    The type is checked before opening (no device is ever opened) and again on the open
    descriptor (the path may be swapped in between); the open is non-blocking, so even a FIFO
    that appears in that window cannot hang the read.
    """
    return read_regular_stat(path)[0]


def read_regular_stat(path: str | os.PathLike[str]) -> tuple[bytes, tuple[int, int, int, int, int, int]]:
    """``read_regular``, and the ``stat_key`` of the open file: what the bytes are of."""
    touch(path)
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(errno.EINVAL, f"not a regular file ({_kind(mode)})", os.fspath(path))
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.EINVAL, f"not a regular file ({_kind(st.st_mode)})", os.fspath(path))
        # Asked for one byte more than fstat counts, the usual file answers with exactly its size:
        # that is its end, without a second read to see it. Anything else reads on to the end.
        size = st.st_size
        if size < 1 << 24:
            data = os.read(fd, size + 1)
            if len(data) == size:
                seen = stat_key(st)
                touch(path, seen)
                return data, seen
            chunks = [data] if data else []
        else:
            chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        seen = stat_key(st)
        touch(path, seen)
        return b"".join(chunks), seen
    finally:
        os.close(fd)


def stat_error(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be reached (``"Permission denied"``, ``"File name too long"``), or None."""
    touch(path)
    try:
        os.stat(path)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    except ValueError:  # an embedded NUL byte
        return "invalid path"
    return None


def is_dir(path: str | os.PathLike[str]) -> bool:
    """``Path.is_dir()`` that answers False instead of raising (no permission, name too long, ...)."""
    touch(path)
    return os.path.isdir(path)


def is_file(path: str | os.PathLike[str]) -> bool:
    touch(path)
    return os.path.isfile(path)


def exists(path: str | os.PathLike[str]) -> bool:
    touch(path)
    return os.path.exists(path)


def write_stdout(text: str) -> None:
    """Write a report to stdout; a lone surrogate or a narrow locale is escaped, never a crash."""
    import sys

    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))


def read_private(path: str) -> bytes | None:
    """A cache file's bytes, only when it is a regular file owned by this user that nobody else
    can write (another local user must not be able to plant a verdict); else None."""
    try:
        fd = os.open(path, _OPEN_FLAGS | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def write_private(path: str, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, readable by this user only. Errors are ignored:
    a cache that cannot be written only costs speed."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except (OSError, ValueError):
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)

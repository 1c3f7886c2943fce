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

__all__ = ["NotRegularFile", "is_dir", "is_file", "read_regular", "stat_error"]

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(OSError):
    """The path is a FIFO, socket, device or folder: never opened for reading."""


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
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(errno.EINVAL, f"not a regular file ({_kind(mode)})", os.fspath(path))
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"not a regular file ({_kind(mode)})", os.fspath(path))
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def stat_error(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be reached (``"Permission denied"``, ``"File name too long"``), or None."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    except ValueError:  # an embedded NUL byte
        return "invalid path"
    return None


def is_dir(path: str | os.PathLike[str]) -> bool:
    """``Path.is_dir()`` that answers False instead of raising (no permission, name too long, ...)."""
    return os.path.isdir(path)


def is_file(path: str | os.PathLike[str]) -> bool:
    return os.path.isfile(path)

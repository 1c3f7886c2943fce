"""A freshly initialised data folder, kept once per machine and copied for every throwaway server.

``initdb`` is most of a throwaway PostgreSQL's start (about 0.9 s of 1.2 s) and does the same work
every time. So the first server made on a machine keeps a copy of the folder initdb made, before
the server ever ran (:func:`keep`), and later servers start from a copy of it (:func:`use`), which
takes about a tenth of that; the backend then gives the copy a new password before it starts.

Where: ``<cache dir>/<name>`` (the cache dir of ``headcheck.result_cache.cache_dir_from_env``:
``HEADCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/headcheck`` or ``~/.cache/headcheck``; with
``HEADCHECK_NO_CACHE`` set, nothing is kept or used). The backend's name says what shaped the files
(the server's build, initdb's options, the time zone): another build gets another template, and the
one it replaces is removed. The cache dir must be a real folder (not a symlink) of headcheck's own
user that nobody else may write, or no template is kept or used. A template is complete once it has
its name: it is written under a temporary one, then renamed.

Safety: every copy goes through folder file descriptors and never follows a symlink; it takes
regular files and folders only (anything else fails the copy, and the server is made by initdb as
before). Reading initdb's output, a folder the server's user owns, root cannot be led outside it;
writing the server's copy, root creates every entry itself, under a folder of its own (not one the
server's user can write), and hands each over to the server's user (``fchown``) once it is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

__all__ = ["copy_tree", "discard", "folder", "keep", "usable", "use"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_STAGING = ".incomplete-"  # prefix of a template being written (a killed run's: removed later)
_STALE_SECONDS = 600.0


def folder(name: str) -> Path | None:
    """``<cache dir>/<name>`` (it may not exist yet), or None: no cache (``HEADCHECK_NO_CACHE``), or
    a cache dir that is not a real folder of ours closed to other users (it is made 0700 if missing)."""
    from headcheck.result_cache import cache_dir_from_env

    base = cache_dir_from_env()
    if base is None:
        return None
    cache = Path(base)
    try:
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = cache.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        return None
    return cache / name


def usable(path: Path) -> bool:
    """A template to use: a real folder of ours, 0700 (what :func:`use` copies)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) == 0o700


def copy_tree(source: Path, target: Path, owner: tuple[int, int] | None = None) -> None:
    """Copy the folder ``source`` to ``target`` (which must not exist): regular files and folders
    only, modes kept, never through a symlink (OSError on anything else). ``owner``: (uid, gid) to
    hand every entry to, each once it is complete (as root)."""
    src = os.open(source, _DIR_FLAGS)
    try:
        os.mkdir(target, 0o700)
        dst = os.open(target, _DIR_FLAGS)
        try:
            _copy_entries(src, dst, owner)
            os.fchmod(dst, stat.S_IMODE(os.fstat(src).st_mode))
            if owner is not None:
                os.fchown(dst, *owner)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_entries(src: int, dst: int, owner: tuple[int, int] | None) -> None:
    with os.scandir(src) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=src)  # (a FIFO: no wait)
        try:
            info = os.fstat(fd)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(name, 0o700, dir_fd=dst)
                sub = os.open(name, _DIR_FLAGS, dir_fd=dst)
                try:
                    _copy_entries(fd, sub, owner)
                    os.fchmod(sub, mode)
                    if owner is not None:
                        os.fchown(sub, *owner)
                finally:
                    os.close(sub)
            elif stat.S_ISREG(info.st_mode):
                out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dst)
                try:
                    left = info.st_size
                    while left > 0:
                        sent = os.sendfile(out, fd, None, left)
                        if sent == 0:
                            raise OSError(f"{name}: shorter than it was")
                        left -= sent
                    os.fchmod(out, mode)
                    if owner is not None:
                        os.fchown(out, *owner)
                finally:
                    os.close(out)
            else:
                raise OSError(f"{name}: neither a regular file nor a folder")
        finally:
            os.close(fd)


def use(template: Path, target: Path, staging: Path, owner: tuple[int, int] | None = None) -> bool:
    """Make ``target`` (which must not exist) a copy of ``template``: written in a new folder in
    ``staging`` (a folder of ours, on the same file system, that the server's user cannot write),
    then renamed. False (and nothing left) when there is no usable template or the copy fails."""
    if not usable(template):
        return False
    work = Path(tempfile.mkdtemp(prefix="template-", dir=staging))
    try:
        copy_tree(template, work / "data", owner)
        os.rename(work / "data", target)
        return True
    except OSError:
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


def keep(source: Path, template: Path, family: str) -> None:
    """Keep a copy of ``source`` (initdb's folder, before the server ever ran) as ``template``,
    unless there is one; remove other templates whose names start with ``family`` (another build
    of the same server) and incomplete ones a killed run left. Never raises: the template is an
    optimisation only."""
    parent = template.parent
    with contextlib.suppress(OSError):
        for old in parent.iterdir():
            incomplete = old.name.startswith(_STAGING) and time.time() - old.lstat().st_mtime > _STALE_SECONDS
            if (old.name.startswith(family) and old.name != template.name) or incomplete:
                shutil.rmtree(old, ignore_errors=True)
    if template.exists():
        return
    work: Path | None = None
    try:
        work = Path(tempfile.mkdtemp(prefix=_STAGING, dir=parent))
        copy_tree(source, work / "data")
        os.chmod(work / "data", 0o700)
        os.rename(work / "data", template)  # (another run's, made meanwhile: ours is dropped)
    except OSError:
        pass
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def discard(template: Path) -> None:
    """Remove a template that could not be used (:func:`keep` then writes a new one)."""
    if usable(template):
        shutil.rmtree(template, ignore_errors=True)

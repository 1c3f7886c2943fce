"""Launching a throwaway database server safely, whatever the database: the parts every backend shares.

Database servers refuse to run as root (``pg_ctl: cannot be run as root``, ``mariadbd`` wants
``--user``), and headcheck runs as root inside a GitHub Docker action. So the server's programs are
run through a small wrapper (:func:`run_as_wrapper`) that drops to an unprivileged user with
``setpriv`` before exec'ing the real program; Python itself stays root and keeps the workspace.

The temp dir layout (:func:`throwaway_dir`): the dir itself belongs to headcheck's user (0711 when
root so the server's user may pass through, 0700 otherwise) and holds the owner pid file and the
wrappers root executes; everything the server writes (data, socket, log, its password file) lives
in ``<tempdir>/<server_dir>`` (0700, the server's user), so the server's user cannot replace
anything headcheck executes. Leaving :func:`throwaway_dir` any way at all runs the registered
stop callbacks with SIGINT/SIGTERM blocked and removes the dir; :func:`sweep_stale` collects what
a ``kill -9`` of headcheck left behind (dirs whose owner pid is gone).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from headcheck.db.backends import ServerError

__all__ = [
    "OWNER_FILE",
    "Layout",
    "alive",
    "background_teardown",
    "free_port",
    "kill",
    "reap_if_init",
    "remove",
    "roomy_tmpfs",
    "run_as_wrapper",
    "runs_on",
    "server_parent",
    "sweep_stale",
    "temp_parent",
    "throwaway_dir",
    "unprivileged_user",
    "wait_ready",
    "write_private",
]

OWNER_FILE = "headcheck.pid"  # pid of the headcheck process owning a temp dir
T = TypeVar("T")


class Layout:
    """A throwaway server's temp dir, as :func:`throwaway_dir` made it."""

    def __init__(self, tempdir: Path, serverdir: Path, os_user: str | None, uid: int, gid: int) -> None:
        self.tempdir = tempdir  # headcheck's: owner pid file, wrappers (0711 as root, else 0700)
        self.serverdir = serverdir  # the server's user's (0700): data, socket, log
        self.os_user = os_user  # who the server runs as when headcheck is root; None: headcheck's own user
        self.uid = uid  # the server's uid and gid (headcheck's own when not root)
        self.gid = gid
        self.exit_callbacks: list[Callable[[], None]] = []  # see on_exit

    @property
    def server_user(self) -> str:
        """The name of the OS user the server runs as."""
        return self.os_user or pwd.getpwuid(os.geteuid()).pw_name

    def server_subdir(self, name: str) -> Path:
        """A 0700 folder in ``serverdir`` belonging to the server's user (e.g. for its socket)."""
        path = self.serverdir / name
        path.mkdir(mode=0o700)
        os.chown(path, self.uid, self.gid, follow_symlinks=False)
        return path

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` (stop the server, kill it) when the block is left, before removing the
        dir: last registered, first run; its exceptions are swallowed."""
        self.exit_callbacks.append(callback)


def temp_parent() -> str:
    """The temp folder, unless we are root and the server's user could not reach into it
    (a private TMPDIR such as /root/tmp): then /tmp."""
    parent = tempfile.gettempdir()
    if os.geteuid() != 0:
        return parent
    path = Path(parent).resolve()
    for folder in (path, *path.parents):
        if not folder.stat().st_mode & 0o001:
            return "/tmp"
    return parent


SHM = "/dev/shm"  # checked before use: a root-owned, sticky tmpfs (see server_parent)
SHM_MIN_FREE = 1 << 30  # Docker gives a container 64 MB of /dev/shm: too little for a cluster's WAL


def server_parent() -> str:
    """Where a throwaway server's temp dir goes: :data:`SHM` when ``TMPDIR`` is not set and it is a
    tmpfs with at least :data:`SHM_MIN_FREE` free, a real folder owned by root, world-writable and
    sticky as /tmp is (creating and dropping a table there costs about a fifth of what it costs on
    disk, and the server is thrown away anyway); else :func:`temp_parent`."""
    if "TMPDIR" in os.environ or not roomy_tmpfs(SHM):
        return temp_parent()
    return SHM


def roomy_tmpfs(folder: str) -> bool:
    """``folder`` is a tmpfs mount point with :data:`SHM_MIN_FREE` free, owned by root, mode 1777."""
    import stat

    try:
        seen = os.lstat(folder)
        room = os.statvfs(folder)
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            types = {fields[1]: fields[2] for fields in (line.split() for line in mounts) if len(fields) > 2}
    except OSError:
        return False
    return (
        stat.S_ISDIR(seen.st_mode)
        and seen.st_uid == 0
        and seen.st_mode & 0o1777 == 0o1777
        and types.get(folder) == "tmpfs"
        and room.f_bavail * room.f_frsize >= SHM_MIN_FREE
    )


def unprivileged_user(candidates: Sequence[str], label: str) -> tuple[str, int, int]:
    """(name, uid, gid) of the first existing user of ``candidates`` (e.g. ``postgres``, ``nobody``).
    Raises ServerError naming ``label`` (the database)."""
    for name in candidates:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, entry.pw_uid, entry.pw_gid
    names = " nor ".join(repr(n) for n in candidates)
    raise ServerError(f"running as root and neither {names} user exists to run {label} as")


def run_as_wrapper(tempdir: Path, program: Path, os_user: str | None) -> Path:
    """An executable in ``tempdir`` (headcheck's, not the server's user's) that runs ``program`` as
    ``os_user``; ``program`` itself when ``os_user`` is None (not root)."""
    if os_user is None:
        return program
    wrapper = tempdir / program.name
    if shutil.which("setpriv"):
        drop = f"setpriv --reuid={shlex.quote(os_user)} --regid={shlex.quote(os_user)} --init-groups --"
        wrapper.write_text(f'#!/bin/sh\nexec {drop} {shlex.quote(str(program))} "$@"\n', encoding="utf-8")
    else:  # no util-linux: drop privileges from Python (same interpreter, stdlib only)
        wrapper.write_text(
            f"#!{sys.executable}\n"
            "import os, pwd, sys\n"
            f"u = pwd.getpwnam({os_user!r})\n"
            "os.initgroups(u.pw_name, u.pw_gid); os.setgid(u.pw_gid); os.setuid(u.pw_uid)\n"
            f"os.execv({str(program)!r}, [{str(program)!r}, *sys.argv[1:]])\n",
            encoding="utf-8",
        )
    wrapper.chmod(0o700)
    return wrapper


def write_private(path: Path, text: str, uid: int, gid: int) -> None:
    """Create ``path`` (it must not exist, a symlink there is refused) readable by its owner only,
    owned by ``uid``:``gid`` (when root; changed through the open file, never by name)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        if os.geteuid() == 0:  # through the descriptor: the folder may be the server user's
            os.fchown(handle.fileno(), uid, gid)
        handle.write(text)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(connect: Callable[[], T], label: str, seconds: float = 30.0, retry: float = 0.02) -> T:
    """Call ``connect`` (open a session, ask the server something) until it returns instead of
    raising, at most ``seconds``: a server accepts TCP before it accepts sessions. Raises
    ServerError with the last error (one line) when it never does."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return connect()
        except Exception as exc:
            if time.monotonic() > deadline:
                detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ServerError(f"{label} does not accept connections: {detail}") from exc
            time.sleep(retry)


def alive(pid: int) -> bool:
    """``pid`` exists and has not exited: a zombie (exited, not yet reaped by its parent, for a
    server whose launcher is gone that is init, which may take a while) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            state = stat_file.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return True  # (no procfs: as kill says)
    return state != [b"Z"]


def runs_on(pid: int, marker: Path) -> bool:
    """Is ``pid`` really a server of ``marker`` (its data dir: named on its command line and owned
    by the same user), not a reused pid, another pid namespace's, or another user's process that
    wrote its pid there?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        owner = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return not Path("/proc/self").exists()  # no procfs (macOS): trust the pid file
    with contextlib.suppress(OSError):
        if owner != marker.stat().st_uid:
            return False
    return str(marker).encode() in cmdline


def reap_if_init() -> None:
    """Servers daemonize; as PID 1 (a Docker action) we inherit them when they exit: reap them."""
    if os.getpid() != 1:
        return
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def kill(pid: int | None, marker: Path, first: signal.Signals = signal.SIGQUIT) -> None:
    """Last resort after a clean stop: ``first`` (PostgreSQL: SIGQUIT, an immediate shutdown), then
    SIGKILL; only when ``pid`` :func:`runs_on` ``marker``."""
    if pid is None or not alive(pid) or not runs_on(pid, marker):
        return
    for sig, wait in ((first, 3.0), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        pause = 0.002  # an immediate shutdown takes a few milliseconds: look soon, then less often
        while time.monotonic() < deadline and alive(pid):
            reap_if_init()
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        if not alive(pid):
            return


def remove(tempdir: Path) -> None:
    # (rm, not shutil.rmtree: a data folder is thousands of files, and rm holds no GIL while a
    # background_teardown thread removes it; it follows no symlink either)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["rm", "-rf", "--", str(tempdir)], stdin=subprocess.DEVNULL, capture_output=True, check=False)
    shutil.rmtree(tempdir, ignore_errors=True)
    if tempdir.exists():  # a file appeared while removing (a late log line): try once more
        time.sleep(0.05)
        shutil.rmtree(tempdir, ignore_errors=True)


def sweep_stale(prefix: str, stop: Callable[[Path], None], tmp: Path | None = None) -> list[Path]:
    """Remove the temp dirs named ``prefix*`` of headcheck processes that no longer exist (``kill -9``,
    which no process can clean up after), calling ``stop(tempdir)`` first to kill a server still
    running there. Another user's dir, a symlink, a dir without an owner file: left alone.
    Returns the removed dirs."""
    removed = []
    parents = {Path(tmp)} if tmp else {Path(tempfile.gettempdir()), Path(temp_parent()), Path(server_parent())}
    for tempdir in (found for parent in parents for found in parent.glob(f"{prefix}*")):
        try:
            if tempdir.is_symlink() or tempdir.stat().st_uid != os.geteuid():
                continue  # another user's (or a planted) folder: not ours to sweep
            owner = int((tempdir / OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if alive(owner):
            continue
        with contextlib.suppress(Exception):
            stop(tempdir)
        remove(tempdir)
        removed.append(tempdir)
    return removed


@contextlib.contextmanager
def throwaway_dir(prefix: str, users: Sequence[str], label: str, server_dir: str) -> Iterator[Layout]:
    """A new temp dir ``<server_parent>/<prefix>XXXX`` with the layout described in the module's
    docstring; the server's user is the first of ``users`` that exists when root, else ours.
    On leaving the block (any way at all): with SIGINT and SIGTERM blocked (a second Ctrl-C must
    not leave a server behind), the :meth:`Layout.on_exit` callbacks, last first, then the dir
    is removed."""
    tempdir = Path(tempfile.mkdtemp(prefix=prefix, dir=server_parent()))  # 0700, ours
    layout: Layout | None = None
    ended = False  # the block ended normally (no exception)
    try:
        (tempdir / OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        serverdir = tempdir / server_dir
        serverdir.mkdir(mode=0o700)
        os_user, uid, gid = None, os.geteuid(), os.getegid()
        if os.geteuid() == 0:
            os_user, uid, gid = unprivileged_user(users, label)
            tempdir.chmod(0o711)  # the server's user may pass through to its folder, not list or write
            os.chown(serverdir, uid, gid)
        layout = Layout(tempdir, serverdir, os_user, uid, gid)
        yield layout
        ended = True
    finally:
        callbacks = list(reversed(layout.exit_callbacks if layout is not None else []))
        later = _LATER.get()
        if ended and later is not None:  # (see background_teardown: reaped by its waiter)
            thread = threading.Thread(target=_teardown, args=(callbacks, tempdir, False), name="headcheck-teardown")
            thread.start()
            later.append(thread)
        else:
            _teardown(callbacks, tempdir, True)


def _teardown(callbacks: list[Callable[[], None]], tempdir: Path, reap: bool) -> None:
    """The stop callbacks, then the dir removed, with SIGINT and SIGTERM blocked (in this thread)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        for callback in callbacks:
            with contextlib.suppress(Exception):
                callback()
        if reap:
            reap_if_init()
        remove(tempdir)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# the teardown threads of the innermost background_teardown block (None: outside any)
_LATER: contextvars.ContextVar[list[threading.Thread] | None] = contextvars.ContextVar("headcheck_later", default=None)


@contextlib.contextmanager
def background_teardown() -> Iterator[None]:
    """Inside this block, a :func:`throwaway_dir` block that ends normally stops its server and
    removes its dir in a thread of its own (tens of milliseconds: a caller's next work goes on
    meanwhile); leaving this block, any way at all, waits for them. The threads are not daemons:
    the interpreter waits for them too (a second Ctrl-C during the wait). As PID 1, whatever
    exited is reaped here once more, after the wait. (A thread's ``waitpid(-1)``, in :func:`kill`,
    can take the exit status of a process the caller waits for meanwhile: ``subprocess`` then
    reports 0, so the caller must not rely on the exit status of what it runs meanwhile; the
    findings read squawk's output, not its status.)"""
    threads: list[threading.Thread] = []
    token = _LATER.set(threads)
    try:
        yield
    finally:
        _LATER.reset(token)
        for thread in threads:
            thread.join()
        reap_if_init()

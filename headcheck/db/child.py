"""The parent's handle on the migration child process (:mod:`headcheck.db.runner`)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import select
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Child", "ChildDied", "Forked", "ForkedSpare", "Spare"]

# The child leaves with os._exit once main() returns: its database work is committed or rolled
# back by then, and tearing down SQLAlchemy, Alembic and the project's modules at interpreter exit
# only made the parent wait (about 0.15 s a run) before it could go on.
_BOOT = (
    "import os, sys\n"
    "try:\n"
    "    import headcheck.db.runner\n"
    "except ImportError:\n"
    "    sys.path.append({root!r})\n"
    "from headcheck.db.runner import main\n"
    "code = main()\n"
    "sys.stdout.flush()\n"
    "sys.stderr.flush()\n"
    "os._exit(code)\n"
)


MARK = "HEADCHECK_MIGRATION_RUN"  # in the environment of the child and everything it starts


def _descendants(session: int | None, mark: bytes) -> list[int]:
    """Processes in the child's session, and those that left it (``setsid``, a daemon's double fork)
    but still carry its environment mark. Linux /proc; elsewhere only the session's group is killed."""
    found = []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":
                continue
            if session is not None and int(fields[4]) == session:  # field 6: session id
                found.append(int(entry.name))
                continue
            with open(f"/proc/{entry.name}/environ", "rb") as environ:
                if mark in environ.read().split(b"\0"):
                    found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


# a variable whose value is a database URL (DATABASE_URL, SQLALCHEMY_DATABASE_URI, FLASK_..., a
# project's own name) is the caller's database: the child sees headcheck's URL there instead
_DB_URL = re.compile(
    r"^\s*(postgres|postgresql|mysql|mariadb|sqlite|oracle|mssql|cockroachdb|redshift)(\+\w+)?://", re.I
)
URL_VARIABLES = ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI")


def child_env(url: str, url_env: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The migration child's environment: the caller's database coordinates removed (libpq's ``PG*``)
    or replaced by ``url`` (every variable holding a database URL, the ``--url-env`` names).
    Returns (environment, the names that carry ``url``)."""
    env: dict[str, str] = {}
    url_vars = [*url_env]
    for name, value in os.environ.items():
        if name.startswith("PG"):  # PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSERVICE, ...
            continue
        if name in URL_VARIABLES or _DB_URL.match(value):
            url_vars.append(name)
            continue
        env[name] = value
    url_vars = sorted(set(url_vars))
    for name in url_vars:
        env[name] = url
    env["PYTHONUNBUFFERED"] = "1"
    return env, url_vars


def start_ahead(cwd: Path, url_env: Sequence[str], preload: tuple[str, ...], *, split: bool) -> Spare:
    """A first migration child started before the static gate has found the environment, in the
    folder it is expected in (``cwd``), importing Alembic, SQLAlchemy and ``preload`` while the gate
    runs; ``split``: a split ``--stairway`` is expected (it may fork the second worker's child).
    headcheck.db.proof.prove takes it over when it :meth:`~Spare.fits`, else closes it."""
    environ, _ = child_env("", url_env)
    return Spare(cwd, environ, preload, zygote=split and FORKS)


class ChildDied(Exception):
    """The child exited (or closed its event pipe) without answering."""


# a spare can start its sibling as a fork of itself (Linux: pidfds, descriptors over a socket)
FORKS = sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")
FORK_WAIT = 60.0  # seconds a forked spare may take to appear: its zygote imports everything first


class Spare:
    """A migration child started ahead of time, while the parent still starts the server or reads
    the database: importing Alembic, SQLAlchemy and the driver takes the child most of a second,
    which then overlaps that work. ``with Spare(cwd) as spare``: :class:`Child` takes it over
    (``Child(..., spare=spare)``), else it is killed with its process group on leaving the block.
    ``env``: its environment until then, the child's without any database URL (not known yet: the
    variables that will carry it are empty); it writes nowhere. Taken over, it gets the child's
    environment, working directory and log (``adopt``, see headcheck.db.runner) before its first
    command; the mark that finds what it starts (:data:`MARK`) comes with that environment, not
    with the one it was started with, which a sibling forked from it (:meth:`fork`) shares.
    ``preload``: modules to import meanwhile (the database driver). ``zygote``: it may be asked for
    one sibling (:meth:`fork`)."""

    def __init__(self, cwd: Path, env: dict[str, str], preload: tuple[str, ...] = (), *, zygote: bool = False) -> None:
        root = str(Path(__file__).resolve().parents[2])
        self.cwd, self.env, self.preloaded = cwd, dict(env), tuple(preload)  # (what :meth:`fits` compares)
        self.token = secrets.token_hex(8)
        self._mark = f"{MARK}={self.token}".encode()
        read_fd, write_fd = os.pipe()
        self.process: subprocess.Popen[bytes] | Forked | None = None
        self._socket: socket.socket | None = None
        theirs: socket.socket | None = None
        if zygote and FORKS:
            with contextlib.suppress(OSError):
                self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        extra = [f"--zygote={theirs.fileno()}"] if theirs is not None else []
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT.format(root=root), str(write_fd), *preload, *extra],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(write_fd,) if theirs is None else (write_fd, theirs.fileno()),
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except OSError:
            os.close(read_fd)
            read_fd = -1
        finally:
            os.close(write_fd)
            if theirs is not None:
                theirs.close()
        self._fd: int | None = read_fd if read_fd >= 0 else None

    def __enter__(self) -> Spare:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def zygote(self) -> bool:
        """It may still be asked for a sibling (:meth:`fork`)."""
        return self._socket is not None

    def fits(self, cwd: Path, env: dict[str, str], *, zygote: bool) -> bool:
        """Was it started for a child of ``cwd`` and ``env`` (and, when ``zygote``, may it fork)?
        A spare started ahead, before the environment was known, serves only that one."""
        try:
            same = Path(self.cwd).resolve() == Path(cwd).resolve()
        except OSError:
            return False
        return same and self.env == env and (self.zygote or not zygote) and self.process is not None

    def preload(self, modules: Sequence[str]) -> None:
        """Import ``modules`` too (the project's driver, known now) before anything else it is asked."""
        process = self.process
        if modules and isinstance(process, subprocess.Popen) and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.write((json.dumps({"cmd": "preload", "modules": list(modules)}) + "\n").encode())
                process.stdin.flush()
                self.preloaded += tuple(modules)

    def fork(self) -> ForkedSpare | None:
        """A second spare, forked from this one once it has imported everything (it must be a
        ``zygote``, not yet taken): about 0.4 s of CPU less than a new interpreter, while the server
        starts. None when it cannot be asked (then start a :class:`Spare` of its own). Once."""
        channel, self._socket = self._socket, None
        process = self.process
        if channel is None or not isinstance(process, subprocess.Popen) or process.stdin is None:
            return None
        with channel:
            try:
                commands_read, commands_write = os.pipe()
            except OSError:
                return None
            try:
                events_read, events_write = os.pipe()
            except OSError:
                os.close(commands_read)
                os.close(commands_write)
                return None
            try:
                process.stdin.write((json.dumps({"cmd": "fork", "parent": os.getpid()}) + "\n").encode())
                process.stdin.flush()
                socket.send_fds(channel, [b"f"], [commands_read, events_write])
            except OSError:
                os.close(commands_write)
                os.close(events_read)
                return None
            finally:
                os.close(commands_read)
                os.close(events_write)
        return ForkedSpare(commands_write, events_read, process)

    def take(self) -> tuple[subprocess.Popen[bytes] | Forked, int, str] | None:
        """(process, event fd, mark token) for :class:`Child`, once; None when it is gone."""
        if self._socket is not None:  # (never asked for a sibling: now it cannot be)
            self._socket.close()
            self._socket = None
        process, fd = self.process, self._fd
        self.process, self._fd = None, None
        if process is None or fd is None:
            return None
        if process.poll() is not None:  # (it could not even import headcheck)
            _kill(process, self._mark)
            os.close(fd)
            return None
        return process, fd, self.token

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.process is not None:
            _kill(self.process, self._mark)
            self.process = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


class Forked:
    """What :class:`Child` uses of a ``Popen``, for a spare forked from another (``Spare.fork``):
    not this process's child but its zygote's, so it is watched through a pidfd, and its exit
    status is not known here (``returncode`` is 1 once it has ended, ``status_known`` False). Its
    pid stays reserved while its zygote lives (running, or ended: an exited child nobody waits for
    is a zombie): :meth:`reserved` says whether its process group and session may be signalled by
    number. Without its zygote, only the pidfd and the mark find it and what it started."""

    status_known = False

    def __init__(self, pid: int, stdin_fd: int, zygote: subprocess.Popen[bytes]) -> None:
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)
        self._zygote = zygote
        self.stdin = os.fdopen(stdin_fd, "wb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._pidfd], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired("the migration process", timeout or 0.0)
            self._ended()
        assert self.returncode is not None
        return self.returncode

    def _ended(self) -> None:
        self.returncode = 1
        with contextlib.suppress(OSError):
            os.close(self._pidfd)
        self._pidfd = -1

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def reserved(self) -> bool:
        return self._zygote.poll() is None


class ForkedSpare(Spare):
    """The sibling ``Spare.fork`` asked for: its pid arrives as its first event, once the zygote has
    imported everything and forked."""

    def __init__(self, commands: int, events: int, zygote: subprocess.Popen[bytes]) -> None:
        self.token = secrets.token_hex(8)
        self._mark = f"{MARK}={self.token}".encode()
        self._socket = None
        self.process = None
        self._fd = events
        self._commands: int | None = commands
        self._zygote = zygote

    def take(self) -> tuple[subprocess.Popen[bytes] | Forked, int, str] | None:
        self._appear(FORK_WAIT)
        return super().take()

    def close(self) -> None:
        if self.process is None:
            self._appear(0.0)  # (forked already: then it is killed below)
        if self._commands is not None:  # (not forked yet: it finds its input closed and leaves)
            os.close(self._commands)
            self._commands = None
        super().close()

    def _appear(self, timeout: float) -> None:
        """Read the sibling's first event (its pid) and make its process handle."""
        if self._fd is None or self._commands is None or self.process is not None:
            return
        line = b""
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if not select.select([self._fd], [], [], max(left, 0.0))[0]:
                if left <= 0:
                    return
                continue
            chunk = os.read(self._fd, 4096)
            if not chunk:
                return  # the zygote is gone without forking: the caller starts a child of its own
            line += chunk
        try:
            pid = int(json.loads(line)["pid"])
            self.process = Forked(pid, self._commands, self._zygote)
        except (ValueError, KeyError, TypeError, OSError):
            return
        self._commands = None


def _kill(process: subprocess.Popen[bytes] | Forked, mark: bytes) -> None:
    """Kill ``process``'s group and whatever carries its mark, and reap it."""
    reserved = not isinstance(process, Forked) or process.reserved()
    if isinstance(process, Forked):
        process.kill()
    if reserved:  # (a Popen's pid is ours until waited for; a Forked one's: see Forked.reserved)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # also whatever env.py started
    for _ in range(3):  # ... in its session or in a session of its own (a fork may race a round)
        left = _descendants(process.pid if reserved else None, mark)
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        process.wait(timeout=5)
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()


class Child:
    """``with Child(cwd, env, log) as child``: the child is killed (with its process group) on exit.
    ``spare``: take over that child started ahead of time (:class:`Spare`), when it is still there."""

    def __init__(self, cwd: Path, env: dict[str, str], log: Path, spare: Spare | None = None) -> None:
        root = str(Path(__file__).resolve().parents[2])
        self.log = log
        self._closed = False
        self._buffer = b""
        handed = spare.take() if spare is not None else None
        if handed is not None:
            self.process, read_fd, token = handed
            self._mark = f"{MARK}={token}".encode()
            self._fd = read_fd
            self._selector = selectors.DefaultSelector()
            self._selector.register(read_fd, selectors.EVENT_READ)
            with open(log, "ab"):  # (created here, as the normal start does: the child appends)
                pass
            try:
                self.send(cmd="adopt", cwd=str(cwd), env={**env, MARK: token}, log=str(log))
                return
            except ChildDied:
                self.close()
                self._closed = False
                self._buffer = b""
        token = secrets.token_hex(8)
        env = {**env, MARK: token}
        self._mark = f"{MARK}={token}".encode()
        read_fd, write_fd = os.pipe()
        with open(log, "ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT.format(root=root), str(write_fd)],
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                cwd=cwd,
                env=env,
                start_new_session=True,  # Ctrl-C reaches headcheck only; we kill the whole group
            )
        os.close(write_fd)
        self._fd = read_fd
        self._selector = selectors.DefaultSelector()
        self._selector.register(read_fd, selectors.EVENT_READ)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(command) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError as exc:
            raise ChildDied(self.describe_death()) from exc

    def next_event(self, timeout: float | None) -> dict[str, Any] | None:
        """The next event, or None when ``timeout`` seconds pass without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            if not self._selector.select(left):
                return None
            chunk = os.read(self._fd, 65536)
            if not chunk:
                raise ChildDied(self.describe_death())
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        event: dict[str, Any] = json.loads(line)
        return event

    def describe_death(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)
        code = self.process.returncode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        if not getattr(self.process, "status_known", True):
            how = "ended (its exit status is not known here: it was forked from another)"
        return f"the migration process {how}; last output:\n{self.log_tail()}"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def kill(self) -> None:
        """Kill the child (and what it started) from another thread than the one reading its events:
        that one then sees it die (:class:`ChildDied`) and closes it."""
        if not self._closed and self.process.poll() is None:
            _kill(self.process, self._mark)

    def close(self) -> None:
        if self._closed:  # never close the event fd twice: its number may belong to another file by now
            return
        self._closed = True
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                if self.process.stdin is not None:
                    self.process.stdin.write(b'{"cmd": "exit"}\n')
                    self.process.stdin.flush()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.5)
        _kill(self.process, self._mark)
        self._selector.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)

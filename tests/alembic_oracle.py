"""Ask real Alembic what it makes of a folder of revision files: the oracle for parity tests.

``load_versions`` builds ``ScriptDirectory(script_dir, version_locations=[...])`` exactly as
Alembic's ``ScriptDirectory.from_config`` would, ``load_ini`` goes through a real ``alembic.ini``
(``Config`` + ``ScriptDirectory.from_config``). Both force the revision map to load and return
what ``alembic heads`` / ``heads --resolve-dependencies`` / ``get_bases()`` would print, or the
exception Alembic raised, with every warning it emitted.

Alembic executes revision files: only hand it histories written by ``history_builder``.
"""

from __future__ import annotations

import re
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

__all__ = ["AlembicHang", "OracleResult", "expected_code", "load_ini", "load_versions"]

HANG_SECONDS = 3.0


class AlembicHang(RuntimeError):
    """Alembic did not finish loading the revision map (it loops forever on some broken graphs)."""


@contextmanager
def _hang_guard(seconds: float) -> Iterator[None]:
    """Interrupt a pure-Python infinite loop in Alembic with SIGALRM (main thread, POSIX)."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise AlembicHang(f"Alembic was still loading the revision map after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class OracleResult(NamedTuple):
    heads: list[str] | None  # get_heads(): None when Alembic raised
    real_heads: list[str] | None  # get_heads(consider_depends_on=True) / revision_map._real_heads
    bases: list[str] | None  # get_bases()
    error: BaseException | None
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def dangling_warning(self) -> bool:
        return any("referenced from" in w and "is not present" in w for w in self.warnings)

    def describe(self) -> str:
        if self.error is None:
            return f"heads={self.heads} real_heads={self.real_heads} bases={self.bases} warnings={self.warnings}"
        return f"{type(self.error).__name__}: {self.error} warnings={self.warnings}"


def _load(make: Callable[[], ScriptDirectory]) -> OracleResult:
    # Revision files are executed; never leave __pycache__ behind (a rewritten file of the same
    # size in the same second would be served stale). Alembic does not keep the modules itself.
    old_dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with _hang_guard(HANG_SECONDS):
                    script = make()
                    heads = script.get_heads()
                    real_heads = list(script.revision_map._real_heads)  # noqa: SLF001 -- the oracle reads Alembic's own real heads
                    bases = script.get_bases()
            except Exception as exc:  # the oracle's answer, whatever Alembic raised
                return OracleResult(None, None, None, exc, [str(w.message) for w in caught])
    finally:
        sys.dont_write_bytecode = old_dont_write
    return OracleResult(list(heads), real_heads, list(bases), None, [str(w.message) for w in caught])


def load_versions(
    versions: Path | Sequence[Path], *, recursive: bool = False, script_dir: Path | None = None
) -> OracleResult:
    """Load one or more version folders as a single Alembic revision map."""
    from alembic.script import ScriptDirectory

    locations = [versions] if isinstance(versions, Path) else list(versions)
    directory = script_dir if script_dir is not None else locations[0].parent

    def make() -> ScriptDirectory:
        return ScriptDirectory(
            str(directory),
            version_locations=[str(p) for p in locations],
            recursive_version_locations=recursive,
        )

    return _load(make)


def load_ini(ini: Path, *, name: str = "alembic") -> OracleResult:
    """Load the environment of a real ``alembic.ini`` the way the ``alembic`` CLI does."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    def make() -> ScriptDirectory:
        return ScriptDirectory.from_config(Config(str(ini), ini_section=name))

    return _load(make)


_ILLEGAL = re.compile(r"Character\(s\) .* not allowed in revision identifier")


def expected_code(
    result: OracleResult, labels: frozenset[str] = frozenset(), depends: frozenset[str] | None = None
) -> str | None:
    """The headcheck rule code that stands for the error Alembic raised (None: it loaded).

    A bare ``KeyError`` (no "is not present" warning) has three causes: a down_revision naming
    a branch label (``labels``: the labels declared in the history), an unknown depends_on entry
    (``depends``: every depends_on entry written; None: assume depends_on), or a losing
    duplicate's missing down_revision, which only cycle detection walks.
    """
    from alembic.script.revision import (
        CycleDetected,
        DependencyCycleDetected,
        DependencyLoopDetected,
        LoopDetected,
    )
    from alembic.util import CommandError

    exc = result.error
    if exc is None:
        return None
    if isinstance(exc, AlembicHang):
        return "HANG"
    message = str(exc)
    # The dependency variants subclass the plain ones: test them first.
    if isinstance(exc, DependencyLoopDetected):
        return "HC109"
    if isinstance(exc, LoopDetected):
        return "HC108"
    if isinstance(exc, DependencyCycleDetected):
        return "HC106"
    if isinstance(exc, CycleDetected):
        return "HC105"
    if isinstance(exc, SyntaxError):
        return "HC201"
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else None
        if not isinstance(key, str):
            return "HC206"  # depends_on = ('a', None): Alembic looks None up as a name
        if result.dangling_warning:
            return "HC102"
        if key in labels:
            return "HC104"
        if depends is None or key in depends:
            return "HC103"
        return "HC102"
    if isinstance(exc, TypeError):
        return "HC206"
    if isinstance(exc, AttributeError) and "down_revision" in message:
        return "HC203"
    if isinstance(exc, CommandError) and "Could not determine revision id" in message:
        return "HC202"
    if _ILLEGAL.search(message):
        return "HC110"
    if "Dependency resolution failed; broken map" in message:
        # _normalize_depends_on walked a down_revision that names a branch label.
        return "HC104"
    if "Branch name" in message and "already used by revision" in message:
        return "HC112"
    raise AssertionError(f"oracle: no rule code for {type(exc).__name__}: {message}")

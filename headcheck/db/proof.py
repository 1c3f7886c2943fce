"""Run the proof for every environment: a database each, then the plan through the child process."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.config import Environment
from headcheck.db import snapshot
from headcheck.db.backends import DEFAULT as DEFAULT_BACKEND
from headcheck.db.backends import Backend, Snapshot, sqlalchemy_url
from headcheck.db.backends import get as get_backend
from headcheck.db.child import FORKS, Child, ChildDied, Spare, child_env
from headcheck.db.drift import Comparison, ModelsDatabase, compare_after_proof
from headcheck.db.rows import DEFAULT_ROWS, DEFAULT_SEED
from headcheck.db.rows_findings import RowsObservation, rows_observations
from headcheck.db.trace import StepTrace, step_trace
from headcheck.db.urls import libpq_url

__all__ = [
    "Options",
    "Proof",
    "ProofError",
    "ProofOptions",
    "ProofRun",
    "SchemaDiff",
    "Step",
    "prove",
    "prove_environment",
    "refuse_nonempty",
]

SLOWEST = 5
# --stairway runs this many revisions per run_env(), i.e. per transaction when env.py uses one, as
# separate alembic commands would; one transaction for everything bloats the catalogs it re-reads.
STAIRWAY_CHUNK = 25
# --stairway on headcheck's own server, with two CPUs: the revisions are split between two workers
# (a database and a migration child each) from this many on. The second worker first upgrades the
# first worker's revisions unjudged (one step each instead of three and no snapshots), so it takes
# the smaller share.
PARALLEL_MIN = 50
FIRST_SHARE = 0.6
DIFF_LINES = 20


class Options(NamedTuple):
    stairway: bool = False
    timeout: float = 300.0  # per step
    url_env: tuple[str, ...] = ()
    from_schema: Path | None = None
    stamp: str | None = None
    irreversible: tuple[str, ...] = ()  # declared: their downgrade is not checked
    downgrade_floor: str | None = None  # no downgrade checks at or below this revision
    focus: tuple[str, ...] | None = None  # judge these revisions only (headcheck.db.plan.focused_plan)
    rows: int = DEFAULT_ROWS  # rows per table before each judged revision (headcheck.db.rows); 0: none (--no-rows)
    seed: int = DEFAULT_SEED  # of the generated rows (--seed)
    models: bool = True  # compare env.py's target_metadata with the migrations (headcheck.db.drift)
    models_ignore: tuple[str, ...] = ()  # tables the models do not own ([tool.headcheck] models-ignore)
    jobs: int = 0  # --jobs: stairway workers on headcheck's own server (0: two when two CPUs are ours)


class Step(NamedTuple):
    name: str  # load, load-schema, stamp, upgrade, downgrade, check-heads
    revision: str | None
    seconds: float
    ok: bool
    error: str | None


class SchemaDiff(NamedTuple):
    revision: str
    check: str  # "downgrade", "reupgrade" or "half-applied" (a failed step's changes, DDL not transactional)
    message: str
    lines: tuple[str, ...]  # "+ table public.x" (left behind) / "- ..." (missing)


class Proof(NamedTuple):
    server_version: str
    startup_seconds: float
    steps: tuple[Step, ...]
    schema_diffs: tuple[SchemaDiff, ...]
    traces: tuple[StepTrace, ...] = ()  # what each step executed (headcheck.db.trace)
    rows: tuple[RowsObservation, ...] = ()  # what the rows in the tables showed (headcheck.db.rows_findings)
    models: Comparison | None = None  # the models vs the migrations (None: --no-models)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def slowest(self) -> list[tuple[str, float]]:
        """The slowest first upgrades of revisions (what a deploy runs)."""
        seen: dict[str, float] = {}
        for step in self.steps:
            if step.name == "upgrade" and step.revision is not None and step.revision not in seen:
                seen[step.revision] = step.seconds
        return sorted(seen.items(), key=lambda item: -item[1])[:SLOWEST]


def _diff_message(revision: str, check: str, unchanged: bool) -> str:
    if check == "downgrade":
        if unchanged:
            return f"downgrade of {revision} is not undone: it leaves the schema exactly as the upgrade made it"
        return f"downgrade of {revision} leaves a trace: the schema differs from the one before {revision}"
    return f"upgrade of {revision} after its downgrade gives a different schema than its first upgrade"


def _cwd(env: Environment) -> Path:
    """Where ``alembic`` is usually run: the folder of the config file; for Flask-Migrate (its
    alembic.ini inside the migrations folder) where ``flask db`` runs: the folder above."""
    if env.kind == "flask":
        return env.script_location.parent
    if env.config_path is not None:
        return env.config_path.parent
    if env.toml_path is not None:
        return env.toml_path.parent
    return env.script_location.parent


def _env_description(env: Environment) -> dict[str, Any]:
    return {
        "kind": env.kind,
        "config_path": str(env.config_path) if env.config_path else None,
        "section": env.section,
        "toml_path": str(env.toml_path) if env.toml_path else None,
        "script_location": str(env.script_location),
    }


def refuse_nonempty(url: str, backend: Backend | None = None) -> str | None:
    """Why ``url`` (``--database-url``) is not an empty database, or None (:meth:`Backend.refuse_nonempty`)."""
    return (backend or get_backend(DEFAULT_BACKEND)).refuse_nonempty(url)


class _Run:
    """Turns the child's events into steps and schema differences."""

    def __init__(self, child: Child, timeout: float, backend: Backend) -> None:
        self.child = child
        self.backend = backend
        self.timeout = timeout
        self.steps: list[Step] = []
        self.diffs: list[SchemaDiff] = []
        self.broken: str | None = None
        self.irreversible: set[str] = set()  # of the running plan
        self.reported: set[str] = set()  # "irreversible" steps already shown
        self.traces: list[StepTrace] = []
        # (url, options, server programs) when the database may be dropped and rebuilt (the throwaway
        # server's): what a half-applied step changed is then measured against a rebuilt "before"
        self.rebuild: tuple[str, Options, Path | None] | None = None
        self.rows_options: dict[str, int] | None = None  # sent with each run (headcheck.db.rows)
        self.rows: list[RowsObservation] = []
        self.failed = False  # the last migrate() ended in an error, a timeout or a dead child
        self.order: list[str] | None = None  # the stairway's order from an empty database (load(order=True))

    def wait(self, name: str, revision: str | None, started: float) -> dict[str, Any] | None:
        """The next event; a failed step (and None) on timeout or a dead child."""
        try:
            event = self.child.next_event(self.timeout)
        except ChildDied as exc:
            self.steps.append(Step(name, revision, time.perf_counter() - started, False, str(exc)))
            return None
        if event is None:
            self.child.close()
            error = f"timed out after {self.timeout:g} s (--timeout); the migration process was killed"
            self.steps.append(Step(name, revision, time.perf_counter() - started, False, error))
        return event

    def load(
        self,
        env: Environment,
        url: str,
        guard: dict[str, str],
        url_vars: list[str],
        extra_dbs: bool,
        options: Options,
        order: bool = False,
    ) -> bool:
        started = time.perf_counter()
        self.child.send(
            cmd="load",
            env=_env_description(env),
            url=url,
            guard=guard,
            url_vars=url_vars,
            extra_dbs=extra_dbs,
            irreversible=list(options.irreversible),
            floor=options.downgrade_floor,
            backend=self.backend.name,
            order=order,
            stamp=options.stamp,
        )
        event = self.wait("load", None, started)
        if event is None:
            return False
        ok = bool(event["event"] == "loaded")
        self.order = event.get("order") if ok else None
        self.steps.append(Step("load", None, time.perf_counter() - started, ok, None if ok else event.get("error")))
        return ok

    def stamp(self, revision: str) -> bool:
        started = time.perf_counter()
        self.child.send(cmd="run", mode="stamp", stamp=revision)
        while True:
            event = self.wait("stamp", revision, started)
            if event is None:
                return False
            if event["event"] in ("done", "error"):
                ok = bool(event["event"] == "done")
                error = None if ok else event.get("error")
                self.steps.append(Step("stamp", revision, time.perf_counter() - started, ok, error))
                return ok

    def migrate(
        self,
        mode: str,
        limit: int | None = None,
        focus: Sequence[str] | None = None,
        only: Sequence[str] | None = None,
        final: bool = True,
    ) -> bool:
        """One ``run_env()``; True when the stairway has more revisions to go (another chunk).
        ``self.broken``: the revision whose downgrade or re-upgrade broke the run, when the state
        after its first upgrade can be rebuilt and the stairway go on from there; ``self.failed``:
        the run ended in an error (a failed step, a timeout, a dead child). "prepare" (see
        headcheck.db.runner): its steps are not results, only a failure is recorded."""
        self.broken = None
        self.failed = True  # until the child says "done"
        started = time.perf_counter()
        self.child.send(
            cmd="run",
            mode=mode,
            limit=limit,
            focus=list(focus or ()),
            rows=self.rows_options,
            only=None if only is None else list(only),
            final=final,
        )
        plan: list[list[str]] = []
        heads: list[str] = []
        done = 0
        while True:
            direction, revision = plan[done] if done < len(plan) else ("up", None)
            name = "upgrade" if direction == "up" else "downgrade"
            if not plan:
                name = "env.py"
            event = self.wait(name, revision, started)
            if event is None:
                return False
            kind = event["event"]
            if kind == "plan":
                plan, heads = event["steps"], event["heads"]
                self.irreversible = set(event.get("irreversible", []))
                started = time.perf_counter()
            elif kind == "step":
                if mode != "prepare":
                    self._step(plan[event["index"]], event, heads)
                done = event["index"] + 1
                started = time.perf_counter()
            elif kind == "error":
                index = event.get("index")
                if index is not None and index < len(plan):
                    direction, revision = plan[index]
                    name = "upgrade" if direction == "up" else "downgrade"
                    if direction == "down" or ["up", revision] in plan[:index]:
                        self.broken = revision  # its first upgrade worked
                error = event.get("error") or ""
                first = name == "upgrade" and not any(step.name == "upgrade" for step in self.steps)
                if first and 'relation "' in error and "does not exist" in error:
                    error += (
                        "\nhint: the first revision expects a table that exists before it (created by the "
                        "application?): start from a schema dump: --from-schema FILE --stamp REV (or base)"
                    )
                seconds = time.perf_counter() - started
                if "before" in event and revision is not None:  # DDL is not transactional (MySQL)
                    error = self._half_applied(name, revision, event["before"], error)
                self.steps.append(Step(name, revision, seconds, False, error))
                return False
            elif kind == "done":
                self.failed = False
                self.broken = event.get("stopped")
                return bool(event.get("more"))

    def _snapshot(self, revision: str, started: float) -> Snapshot | None:
        self.child.send(cmd="snapshot")
        while True:
            event = self.wait("half-applied", revision, started)
            if event is None or event["event"] == "error":
                return None
            if event["event"] == "snapshot":
                return {k: tuple(v) for k, v in event["snapshot"].items()}

    def _half_applied(self, name: str, revision: str, before_heads: list[str], error: str) -> str:
        """On a database whose DDL is not transactional (MySQL, MariaDB) a failed step keeps every
        statement it ran before the failing one, while alembic_version still names the revision
        before it. Compare the schema now with the one the step began on (rebuilt in a fresh database:
        upgraded to ``before_heads``) and add what changed to ``error`` and to the schema diffs."""
        started = time.perf_counter()
        label = self.backend.label
        after = self._snapshot(revision, started)
        if after is None:
            return error
        if self.rebuild is None:
            return (
                f"{error}\n{revision} may be left half-applied: {label} DDL is not transactional, so what its "
                f"{name} ran before failing stays applied (not measured: a --database-url database is never rebuilt)"
            )
        url, options, bin_dir = self.rebuild
        self.child.send(cmd="dispose")
        if self.wait("half-applied", revision, started) is None:
            return error
        problem = self.backend.recreate_databases(url)
        if problem is None and options.from_schema is not None:
            problem = self.backend.load_schema(options.from_schema, url, bin_dir)
        commands: list[dict[str, Any]] = [{"mode": "stamp", "stamp": options.stamp}] if options.stamp else []
        for command in [*commands, *({"mode": "upgrade", "target": head} for head in before_heads)]:
            if problem is not None:
                break
            self.child.send(cmd="run", **command)
            while True:
                event = self.wait("half-applied", revision, started)
                if event is None:
                    return error
                if event["event"] in ("done", "error"):
                    problem = event.get("error") if event["event"] == "error" else None
                    break
        before = self._snapshot(revision, started) if problem is None else None
        if before is None:
            return f"{error}\n{revision} may be left half-applied ({label} DDL is not transactional); not measured: {problem}"
        difference = snapshot.diff(before, after)
        if not difference:
            return error  # it failed before changing anything
        lines = tuple(snapshot.diff_lines(difference))
        message = (
            f"{revision} left half-applied: its {name} changed the schema before failing, and {label} DDL is not "
            f"transactional, so nothing was rolled back; alembic_version still names the revision before it, so "
            f"the next run starts {revision} again on a schema it already half-changed"
        )
        self.diffs.append(SchemaDiff(revision, "half-applied", message, lines))
        shown = list(lines[:DIFF_LINES]) + ([f"... {len(lines) - DIFF_LINES} more"] if len(lines) > DIFF_LINES else [])
        return "\n".join([error, message, *shown])

    def restore(self, url: str, revision: str, options: Options, pg_bin: Path | None) -> bool:
        """Rebuild the database(s) as they were after ``revision``'s first upgrade: drop and create
        them again (the project's pooled connections closed first), reload ``--from-schema``, stamp,
        upgrade to ``revision``. One ``restore`` step; False when that failed."""
        started = time.perf_counter()
        self.child.send(cmd="dispose")
        if self.wait("restore", revision, started) is None:
            return False
        problem = self.backend.recreate_databases(url)
        if problem is None and options.from_schema is not None:
            problem = self.backend.load_schema(options.from_schema, url, pg_bin)
        commands: list[dict[str, Any]] = [{"mode": "stamp", "stamp": options.stamp}] if options.stamp else []
        for command in [*commands, {"mode": "upgrade", "target": revision}]:
            if problem is not None:
                break
            self.child.send(cmd="run", **command)
            while True:
                event = self.wait("restore", revision, started)
                if event is None:
                    return False
                if event["event"] in ("done", "error"):
                    problem = event.get("error") if event["event"] == "error" else None
                    break
        self.steps.append(Step("restore", revision, time.perf_counter() - started, problem is None, problem))
        return problem is None

    def _step(self, planned: list[str], event: dict[str, Any], heads: list[str]) -> None:
        direction, revision = planned
        if "trace" in event:
            self.traces.append(step_trace(direction, revision, event["trace"].get("path"), event["trace"]))
        if self.rows_options is not None:
            path = event["trace"].get("path") if "trace" in event else None
            self.rows += rows_observations(direction, revision, path, self.rows_options["seed"], event)
        name = "upgrade" if direction == "up" else "downgrade"
        error = None
        difference = event.get("diff")
        if difference:
            check = "downgrade" if direction == "down" else "reupgrade"
            message = _diff_message(revision, check, bool(event.get("unchanged")))
            lines = tuple(snapshot.diff_lines(difference))
            self.diffs.append(SchemaDiff(revision, check, message, lines))
            shown = list(lines[:DIFF_LINES]) + (
                [f"... {len(lines) - DIFF_LINES} more"] if len(lines) > DIFF_LINES else []
            )
            error = "\n".join([message, *shown])
        self.steps.append(Step(name, revision, float(event["seconds"]), error is None, error))
        if direction == "up" and revision in self.irreversible and revision not in self.reported:
            self.reported.add(revision)
            self.steps.append(Step("irreversible", revision, 0.0, True, None))  # declared: not checked
        if "db_heads" in event:
            db_heads = sorted(event["db_heads"])
            ok = db_heads == sorted(heads)
            problem = None
            if not ok:
                problem = (
                    f"alembic_version holds {', '.join(db_heads) or 'nothing'} after upgrading; "
                    f"expected the heads {', '.join(sorted(heads))}"
                )
            self.steps.append(Step("check-heads", None, 0.0, ok, problem))


def _stairway(
    run: _Run, url: str, options: Options, pg_bin: Path | None, rebuild: bool, start: int, final: bool, end: int | None
) -> bool:
    """The stairway of ``run.order[start:end]`` (the revisions not applied yet of it), one run (one
    transaction, when env.py has one) per chunk of :data:`STAIRWAY_CHUNK`. Chunks are fixed slices
    of the order (its revisions 0-24, 25-49, ...), whoever runs them and wherever a rebuild resumed:
    a lock held while later statements run is then reported alike by one worker and by two. Every
    broken revision in one run: with ``rebuild`` (the throwaway server's database: ours to drop;
    --database-url is the caller's, never dropped) the state after it is rebuilt and the stairway
    goes on with the rest of its chunk. ``final``: the last chunk checks ``alembic_version``. True
    when it went through to the end, False when it stopped (as a failed first upgrade stops it)."""
    order = run.order or []
    end = len(order) if end is None else end
    for first in range(start, end, STAIRWAY_CHUNK):
        chunk = order[first : min(first + STAIRWAY_CHUNK, end)]
        while True:
            run.migrate("stairway", only=chunk, final=final and first + STAIRWAY_CHUNK >= end)
            if run.broken is not None and rebuild:
                if not run.restore(url, run.broken, options, pg_bin):
                    return False
                continue  # the rest of the chunk
            if run.broken is not None or run.failed:
                return False
            break
    return True


def stairway_workers(options: Options) -> int:
    """Workers for the stairway: ``--jobs``, else two when this process may use two CPUs."""
    if options.jobs > 0:
        return options.jobs
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return 2 if cpus >= 2 else 1


def may_split(options: Options, backend: Backend) -> bool:
    """Whether a ``--stairway`` of these options on headcheck's own server (of ``backend``) is split
    between two workers, when long enough (:data:`PARALLEL_MIN`): from an empty database only (no
    ``--from-schema``, no ``--stamp``), on PostgreSQL, with two workers."""
    return (
        options.stairway
        and backend.name == "postgres"
        and options.stamp is None
        and options.from_schema is None
        and stairway_workers(options) >= 2
    )


def first_share(order: Sequence[str]) -> list[str]:
    """The revisions the first of two stairway workers judges: about the first :data:`FIRST_SHARE`
    of ``order`` (topological, so every revision's ancestors are in it too), in whole chunks, so
    that the chunks (and transactions) are those of one worker's stairway."""
    chunks = round(len(order) * FIRST_SHARE / STAIRWAY_CHUNK)
    return list(order[: max(1, chunks) * STAIRWAY_CHUNK])


class _SecondHalf:
    """The second half of a split stairway, in a thread, on a database and migration child of its own:
    load; upgrade the first worker's revisions with the rows filled before each one as the stairway
    fills them ("prepare": one step each, nothing judged); then the stairway of the rest, to the heads.
    The thread only reads events; the child is killed from the caller's thread (:meth:`cancel`,
    :meth:`close`), which makes the reading thread see it die and end."""

    def __init__(
        self,
        env: Environment,
        options: Options,
        backend: Backend,
        database: Callable[[], str],
        logdir: Path,
        first: Sequence[str],
        pg_bin: Path | None,
        rows_options: dict[str, int] | None,
        spare: Spare | None = None,
    ) -> None:
        self.env, self.options, self.backend, self.database = env, options, backend, database
        self.spare = spare
        self.logdir, self.first, self.pg_bin, self.rows_options = logdir, list(first), pg_bin, rows_options
        self.run: _Run | None = None
        self.child: Child | None = None
        self.started_at = 0  # index of the first step of the stairway proper in run.steps
        self.ready = False  # loaded and prepared: the steps from started_at on are results
        self._lock = threading.Lock()
        self._cancelled = False
        self.thread = threading.Thread(target=self._main, name="headcheck-stairway-2", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        try:
            url = self.database()
            sa_url = sqlalchemy_url(self.backend, url)
            environ, url_vars = child_env(sa_url, self.options.url_env)
            with self._lock:
                if self._cancelled:
                    return
                self.child = Child(_cwd(self.env), environ, self.logdir / "migrations-2.log", self.spare)
            run = _Run(self.child, self.options.timeout, self.backend)
            run.rebuild = (url, self.options, self.pg_bin)
            run.rows_options = self.rows_options
            self.run = run
            guard = self.backend.guard(url)._asdict()
            if not run.load(self.env, sa_url, guard, url_vars, True, self.options, order=True):
                return
            while run.migrate("prepare", STAIRWAY_CHUNK, only=self.first):
                pass
            if run.failed:
                return
            self.started_at, self.ready = len(run.steps), True
            _stairway(run, url, self.options, self.pg_bin, True, len(self.first), True, None)
        except Exception:  # the first worker then goes on alone (see _join)
            self.ready = False

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self.child is not None:
                self.child.kill()

    def close(self) -> None:
        self.cancel()
        self.thread.join()
        if self.child is not None:
            self.child.close()


def prove_environment(
    env: Environment,
    url: str,
    options: Options,
    *,
    pg_bin: Path | None = None,
    workdir: Path | None = None,
    extra_dbs: bool = True,
    traces: list[StepTrace] | None = None,
    backend: Backend | None = None,
    rows: list[RowsObservation] | None = None,
    models: list[Comparison] | None = None,
    spare: Spare | None = None,
    second_database: Callable[[], str] | None = None,
    second_spare: Spare | None = None,
) -> tuple[list[Step], list[SchemaDiff]]:
    """Run the plan for one environment against the (empty, or ``--from-schema``) database ``url``.
    ``extra_dbs``: other databases the project names get databases of their own on that server
    (the throwaway one), else they all go to ``url`` (``--database-url``). ``traces`` receives
    what every step executed. ``backend``: the database's (default: PostgreSQL); ``pg_bin`` is
    its server's programs folder (``--from-schema`` may use them); ``rows`` what the generated
    rows showed, ``models`` the model comparison (with ``options.models``). ``spare``: a migration
    child started ahead of time, taken over when still there (headcheck.db.child.Spare).
    ``second_database``: makes another empty database on the same server (its URL): with it, a
    long ``--stairway`` from an empty database is split between two workers (:func:`may_split`);
    ``second_spare``: the second worker's migration child, started ahead of time."""
    backend = backend or get_backend(DEFAULT_BACKEND)
    steps: list[Step] = []
    guard = backend.guard(url)._asdict()
    if options.from_schema is not None:
        started = time.perf_counter()
        problem = backend.load_schema(options.from_schema, url, pg_bin)
        steps.append(Step("load-schema", None, time.perf_counter() - started, problem is None, problem))
        if problem is not None:
            return steps, []
    own_dir = workdir is None
    logdir = Path(tempfile.mkdtemp(prefix="headcheck-run-")) if workdir is None else workdir
    # headcheck.db.drift: the second database is made while the child starts
    # the model comparison reads PostgreSQL's catalogs (headcheck.db.model_diff)
    postgres = backend.name == "postgres"
    models_db = ModelsDatabase(libpq_url(url)) if models is not None and options.models and postgres else None
    second: _SecondHalf | None = None
    split = extra_dbs and second_database is not None and may_split(options, backend)
    try:
        sa_url = sqlalchemy_url(backend, url)
        environ, url_vars = child_env(sa_url, options.url_env)
        with Child(_cwd(env), environ, logdir / "migrations.log", spare) as child, contextlib.ExitStack() as halves:
            # (the second worker's child goes first: it may be a fork of this one, whose life keeps its
            # pid its own while it is killed, headcheck.db.child.Forked)
            halves.callback(lambda: second.close() if second is not None else None)
            run = _Run(child, options.timeout, backend)
            run.steps = steps
            if extra_dbs:  # the throwaway server's database: ours to drop and rebuild
                run.rebuild = (url, options, pg_bin)
            if options.rows > 0 and backend.name == "postgres":  # rows.py reads PostgreSQL's catalogs
                run.rows_options = {"count": options.rows, "seed": options.seed}
            models_child = child
            if run.load(env, sa_url, guard, url_vars, extra_dbs, options, order=options.stairway) and (
                options.stamp is None or run.stamp(options.stamp)
            ):
                first = first_share(run.order or []) if split and len(run.order or []) >= PARALLEL_MIN else None
                if first is not None and second_database is not None:
                    second = _SecondHalf(
                        env, options, backend, second_database, logdir, first, pg_bin, run.rows_options, second_spare
                    )
                if second is None and models_db is not None:
                    models_db.announce(child)
                if options.stairway:
                    end = len(second.first) if second is not None else None
                    through = _stairway(run, url, options, pg_bin, extra_dbs, 0, second is None, end)
                    if second is not None:
                        models_child = _join(run, second, through, url, options, pg_bin)
                        if models_db is not None:
                            models_db.announce(models_child)
                elif options.focus is not None:
                    run.migrate("focus", focus=options.focus)
                else:
                    run.migrate("default")
            if models is not None and models_db is not None:
                models.append(
                    compare_after_proof(models_child, run.steps, models_db, options.models_ignore, options.timeout)
                )
            elif models is not None and options.models and not postgres:
                models.append(
                    Comparison(0.0, f"the model comparison runs on PostgreSQL only (--backend {backend.name})")
                )
            if traces is not None:
                traces.extend(run.traces)
            if rows is not None:
                rows.extend(run.rows)
            return run.steps, run.diffs
    finally:
        if models_db is not None:
            models_db.drop(throwaway=extra_dbs)
        if own_dir:
            shutil.rmtree(logdir, ignore_errors=True)


def _join(run: _Run, second: _SecondHalf, through: bool, url: str, options: Options, pg_bin: Path | None) -> Child:
    """After the first worker's half (``through``: it went to the end): what a single worker's
    stairway would report, in ``run``. When the first half stopped, so does the stairway (the second
    worker is stopped, its results dropped). When the second worker could not start its half (its
    database, child, load or prepared upgrades failed), the first goes on through it. Else the
    second worker's steps follow. Returns the child whose database reached the heads."""
    if not through:
        second.cancel()
    second.thread.join()
    done = second.run
    if not through:
        return run.child
    if not second.ready or done is None:
        _stairway(run, url, options, pg_bin, True, len(second.first), True, None)
        return run.child
    run.steps.extend(done.steps[second.started_at :])
    run.diffs.extend(done.diffs)
    run.traces.extend(done.traces)
    run.rows.extend(done.rows)
    return done.child


class ProofError(Exception):
    """The proof could not run: a usage, configuration or server problem (one line, exit 2)."""


@dataclass(frozen=True)
class ProofOptions:
    """What ``prove`` needs besides the environments: the plan's options, and where the databases are."""

    plan: Options = field(
        default_factory=Options
    )  # stairway, timeout, --from-schema, irreversible, ... (one environment's plan)
    database_url: str | None = None  # an existing, empty database instead of a throwaway server
    allow_nonempty: bool = False  # with database_url: accept a database with tables
    pg_bin: Path | None = None  # the folder of pg_ctl, initdb and postgres (else found on the system)
    mysql_bin: Path | None = None  # --backend mariadb: the folder of mariadbd (else found on the system)
    backend: str | None = None  # postgres, mariadb, sqlite (default: the project's sqlalchemy.url dialect)
    # by environment index: the revisions to judge (--base, merged branches); --stairway judges all
    focus: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    # by environment index: how many revisions the static gate found (a long --stairway may be split)
    revisions: Mapping[int, int] = field(default_factory=dict)

    def for_environment(self, index: int) -> Options:
        if self.plan.stairway or index not in self.focus:
            return self.plan
        return self.plan._replace(focus=self.focus[index])


class ProofRun(NamedTuple):
    """The proofs of a run, one per environment, in the order of the environments given."""

    proofs: tuple[Proof, ...]

    @property
    def ok(self) -> bool:
        return all(proof.ok for proof in self.proofs)


def check_environments(environments: Sequence[Environment], options: ProofOptions) -> None:
    """Raise ProofError when these environments cannot be proved with these options."""
    if any(env.kind == "versions" for env in environments):
        raise ProofError("--versions has no env.py to run; point at the alembic.ini or pyproject.toml instead")
    if options.database_url and len(environments) > 1:
        names = ", ".join(env.name for env in environments)
        raise ProofError(
            f"--database-url needs one environment, found {len(environments)} ({names}); pass --config/--name"
        )


def _config_urls(env: Environment) -> list[str]:
    """The database URLs ``env``'s config names, read, never imported: its ``sqlalchemy.url``, else
    (``alembic init -t multidb``) those of the sections its ``databases`` option lists."""
    url = env.options.get("sqlalchemy.url")
    if url:
        return [str(url)]
    names = str(env.options.get("databases") or "")
    if not names.strip() or env.kind != "ini" or env.config_path is None:
        return []
    from headcheck.alembic_options import ConfigError, ini_section, read_ini

    try:
        parser = read_ini(env.config_path)
    except ConfigError:
        return []
    urls = []
    for name in re.split(r",\s*", names.strip()):  # as the multidb template's env.py splits it
        values, _ = ini_section(parser, env.config_path, name)
        if values.get("sqlalchemy.url"):
            urls.append(values["sqlalchemy.url"])
    return urls


def choose_backend(environments: Sequence[Environment], options: ProofOptions) -> Backend:
    """The backend to prove on: ``options.backend``, else the dialect of ``--database-url`` or the
    projects' ``sqlalchemy.url`` (read, never imported), else PostgreSQL. Raises ProofError."""
    from headcheck.db.backends import BackendError, choose

    urls = [options.database_url] if options.database_url else [u for env in environments for u in _config_urls(env)]
    try:
        backend = choose(options.backend, urls)
    except BackendError as exc:
        raise ProofError(str(exc)) from exc
    from headcheck.extras import missing_extra

    missing = missing_extra("headcheck db", backend.extra) if backend.extra else None
    if missing:
        raise ProofError(missing)
    if options.plan.from_schema is not None and backend.schema_format is None:
        raise ProofError(f"--from-schema is not supported with --backend {backend.name}")
    return backend


def prove(environments: Sequence[Environment], options: ProofOptions, ahead: Spare | None = None) -> ProofRun:
    """Prove every environment's migrations: on ``options.database_url`` (one environment, an empty
    database unless ``allow_nonempty``) or on a throwaway server of the chosen backend, started here
    and always removed, a database each. Raises ProofError when the proof cannot start; a failed
    step is a result. ``ahead``: a migration child the caller started before the environments
    were known (headcheck.db.child.start_ahead): it becomes the first one when it :meth:`~Spare.fits`, else it
    is closed; closed here either way when not taken."""
    with contextlib.ExitStack() as outer:
        if ahead is not None:
            outer.enter_context(ahead)
        return _prove_all(environments, options, ahead)


def _prove_all(environments: Sequence[Environment], options: ProofOptions, ahead: Spare | None) -> ProofRun:
    check_environments(environments, options)
    backend = choose_backend(environments, options)
    if not environments:
        return _prove(environments, options, backend, None)
    # the first migration child imports Alembic while the server starts or the database is read
    environ, _ = child_env("", options.plan.url_env)  # (no URL yet: empty where it will go)
    preload = _preload(environments[0], backend)
    # ... and the second stairway worker's, when the first environment's stairway will be split: at
    # once when the server starts with little work of its own (from the kept data folder), else once
    # it is up (its import would slow initdb down, which everything waits for)
    second = (
        not options.database_url
        and may_split(options.for_environment(0), backend)
        and options.revisions.get(0, PARALLEL_MIN) >= PARALLEL_MIN
    )
    with contextlib.ExitStack() as stack:
        # (the second worker's child compares the models after a split stairway)
        both = _preload(environments[0], backend, models=True)
        # the second worker's child, where it can be, is a fork of the first one once that has
        # imported everything (headcheck.db.child.Spare.fork): no second interpreter importing it all
        # while the server starts
        zygote = second and FORKS
        wanted = both if zygote else preload
        if (
            ahead is not None
            and backend.name in _PRELOADS
            and ahead.fits(_cwd(environments[0]), environ, zygote=zygote)
        ):
            spare = ahead  # (started before the gate ran: the project's driver, if another, follows)
            spare.preload([m for m in wanted if m not in ahead.preloaded])
        else:
            if ahead is not None:
                ahead.close()
            spare = stack.enter_context(Spare(_cwd(environments[0]), environ, wanted, zygote=zygote))
        forked = spare.fork() if zygote else None
        early = stack.enter_context(forked) if forked is not None else None
        quick = second and early is None and backend.starts_quickly(_bin_dir(backend, options))
        if quick:
            early = stack.enter_context(Spare(_cwd(environments[0]), environ, both))

        def second_spare() -> Spare:
            if early is not None:
                return early
            return stack.enter_context(Spare(_cwd(environments[0]), environ, both))

        return _prove(environments, options, backend, spare, second_spare if second else None)


_PRELOADS = ("postgres",)  # the backends whose migration child imports its driver ahead of time


def _preload(env: Environment, backend: Backend, *, models: bool = False) -> tuple[str, ...]:
    """The database driver the child will import for ``env``'s migrations (the one its ini's
    ``sqlalchemy.url`` names, as headcheck.db.backends.project_driver picks it, else headcheck's
    own): imported while the server starts. ``models``: headcheck's own too, for the child that
    compares the models. Not otherwise: the first worker needs it only after a failed step or for
    the model comparison (done while the migrations run), and importing both drivers in both
    workers' children cost about a quarter of a second of CPU each, while the server started."""
    if backend.name not in _PRELOADS:
        return ()
    from headcheck.db.backends import project_driver

    try:
        driver = project_driver(backend, env.options.get("sqlalchemy.url"))
    except RuntimeError:  # (an async driver without greenlet: the load step says so)
        driver = backend.default_driver
    drivers = (driver, backend.default_driver) if models else (driver,)
    return tuple(dict.fromkeys(backend.drivers.get(name, name) for name in drivers))


def _bin_dir(backend: Backend, options: ProofOptions) -> Path | None:
    """The server programs' folder the user named for ``backend`` (--mysql-bin, --pg-bin), if any."""
    return options.mysql_bin if backend.name == "mariadb" else options.pg_bin


def _prove(
    environments: Sequence[Environment],
    options: ProofOptions,
    backend: Backend,
    spare: Spare | None,
    second_spare: Callable[[], Spare] | None = None,
) -> ProofRun:
    if options.database_url:
        return ProofRun((_prove_on_url(environments[0], options.database_url, options, backend, spare),))
    from headcheck.db.backends import ServerError, ServerOptions

    proofs: list[Proof] = []
    try:
        with backend.throwaway(ServerOptions(_bin_dir(backend, options), options.plan.timeout)) as server:
            spare2 = second_spare() if second_spare is not None else None
            for index, env in enumerate(environments):
                traces: list[StepTrace] = []
                rows: list[RowsObservation] = []
                models: list[Comparison] = []
                steps, diffs = prove_environment(
                    env,
                    backend.create_database(server, f"headcheck_{index}"),
                    options.for_environment(index),
                    pg_bin=server.bin_dir,
                    workdir=server.tempdir,
                    traces=traces,
                    backend=backend,
                    rows=rows,
                    models=models,
                    spare=spare,
                    second_database=_database_maker(backend, server, f"headcheck_{index}_b"),
                    second_spare=spare2,
                )
                proofs.append(
                    Proof(
                        server.version,
                        server.startup_seconds,
                        tuple(steps),
                        tuple(diffs),
                        tuple(traces),
                        rows=tuple(rows),
                        models=_one(models),
                    )
                )
    except ServerError as exc:
        raise ProofError(str(exc)) from exc
    return ProofRun(tuple(proofs))


def _database_maker(backend: Backend, server: Any, name: str) -> Callable[[], str]:
    return lambda: backend.create_database(server, name)


def _prove_on_url(env: Environment, url: str, options: ProofOptions, backend: Backend, spare: Spare | None) -> Proof:
    from headcheck.db.backends import dialect_of
    from headcheck.db.urls import redact

    if dialect_of(url) not in backend.dialects:
        raise ProofError(
            f"--database-url {redact(url)}: not a {backend.label} URL ({backend.dialects[0]}://...) "
            f"for --backend {backend.name}"
        )
    try:
        nonempty = backend.refuse_nonempty(url)
    except Exception as exc:  # psycopg.OperationalError and friends: one line, exit 2
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else str(exc)
        raise ProofError(f"cannot connect to {redact(url)}: {detail or type(exc).__name__}") from exc
    if nonempty and not options.allow_nonempty:
        raise ProofError(f"{redact(url)}: {nonempty}; use an empty database or pass --allow-nonempty")
    traces: list[StepTrace] = []
    rows: list[RowsObservation] = []
    models: list[Comparison] = []
    steps, diffs = prove_environment(
        env,
        url,
        options.for_environment(0),
        extra_dbs=False,
        traces=traces,
        backend=backend,
        rows=rows,
        models=models,
        spare=spare,
    )
    return Proof("", 0.0, tuple(steps), tuple(diffs), tuple(traces), rows=tuple(rows), models=_one(models))


def _one(models: list[Comparison]) -> Comparison | None:
    return models[0] if models else None

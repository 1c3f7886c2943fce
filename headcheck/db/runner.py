"""The child process that runs the user's migrations: ``python -c ... headcheck.db.runner FD``.

It lives in the same Python environment as headcheck, so the project's ``env.py`` imports what it
imports under ``alembic``; being a separate process, a hanging or crashing ``env.py`` can be
killed on timeout without touching headcheck. It reads one JSON command per line on stdin and
writes JSON events to the file descriptor ``FD``; the user's prints and Alembic's log go to
its stdout/stderr (a log file the parent reads on a crash).

It does what ``alembic.command.upgrade``/``downgrade`` do (an ``EnvironmentContext`` around
``ScriptDirectory.run_env()``) but loads the ``ScriptDirectory`` once and feeds the steps one at
a time from a generator, so every step is timed, a failure names its revision, and the schema is
read on the migration's own connection between steps (uncommitted DDL included). That is the
difference from calling ``command.upgrade`` per step, which re-reads every revision file each time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from headcheck.db import backends, snapshot
from headcheck.db import plan as planning
from headcheck.db.kept import FORGETS, Kept
from headcheck.db.models import MetadataCapture, compare_models
from headcheck.db.redirect import Guard, dispose_all, install
from headcheck.db.rows import KEPT as ROWS_QUERIES
from headcheck.db.rows import Rows
from headcheck.db.trace import KEPT as TRACE_QUERIES
from headcheck.db.trace import Tracer

TRACEBACK_LINES = 20


_LIBRARY_PARTS = ("site-packages", "dist-packages", "/lib/python3", "<frozen", "<string>")


def _tail(exc: BaseException, project: str | None = None) -> str:
    """The last frames in the project's own files (env.py, the revision: under ``project``, the
    script location, even inside site-packages, or outside any library) and the exception itself:
    the lines that say what to fix, without SQLAlchemy's and Alembic's internals. The header says
    which frames these are."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [
        f
        for f in frames
        if (project is not None and f.filename.startswith(project + os.sep))
        or (not any(part in f.filename for part in _LIBRARY_PARTS) and "/headcheck/" not in f.filename)
    ]
    shown = own[-3:] or frames[-2:]
    header = "project frames only" if own else "last frames; none in the project's files"
    lines = [f"Traceback (most recent call last, {header}):"] if shown else []
    lines += "".join(traceback.format_list(shown)).rstrip().splitlines()
    lines += "".join(traceback.format_exception_only(exc)).rstrip().splitlines()
    hint = _hint(exc, own)
    return "\n".join([*lines[-TRACEBACK_LINES:], *([hint] if hint else [])])


def _hint(exc: BaseException, own: list[traceback.FrameSummary]) -> str | None:
    """A next step for the failures whose cause is not in the message."""
    if isinstance(exc, KeyError) and own and os.path.basename(own[-1].filename) == "env.py":
        name = str(exc.args[0]) if exc.args else ""
        if name.replace("_", "A").isalnum() and name.upper() == name:
            return (
                f"hint: env.py reads the environment variable {name}; pass --url-env {name} and headcheck "
                "puts its database URL there"
            )
    return None


class Runner:
    def __init__(self, events: TextIO) -> None:
        self.events = events
        self.config: Any = None
        self.script: Any = None
        self.mode = "default"
        self.carry: snapshot.Snapshot | None = None  # the last snapshot taken, for the next stairway chunk
        self.guard: Guard | None = None
        self.backend: backends.Backend = backends.get(backends.DEFAULT)  # set by load()
        self.saved: dict[str, snapshot.Snapshot] = {}  # snapshots by plan key, of the running plan
        self.no_down: set[str] = set()  # declared irreversible, or at/below the downgrade floor
        self.upgraded: set[str] = set()  # revisions whose first upgrade ran (traced with locks)
        self.version_table = "alembic_version"  # the project's, once a plan ran
        self.rows_options: dict[str, int] | None = None  # {"count": N, "seed": S}: rows before judged revisions
        self.rows: Rows | None = None  # (headcheck.db.rows), kept across runs: which tables it filled
        self.models = MetadataCapture()  # env.py's target_metadata, for the model comparison

    def emit(self, event: str, **data: Any) -> None:
        self.events.write(json.dumps({"event": event, **data}) + "\n")
        self.events.flush()

    def load(
        self,
        env: dict[str, Any],
        url: str,
        guard: dict[str, str],
        url_vars: list[str],
        extra_dbs: bool,
        irreversible: list[str],
        floor: str | None,
        backend: str = backends.DEFAULT,
        order: bool = False,
        stamp: str | None = None,
    ) -> None:
        """Build the Alembic Config the way ``alembic -c FILE -n SECTION`` would, pointed at ``url``
        with the project's own driver; from here on every connection goes to ``url``'s server.
        ``backend``: the name of the database backend (its snapshot, guard and driver rules).
        ``order``: also send the order in which the stairway goes through the revisions from an
        empty database, or from ``stamp`` (what ``--stamp`` will put there): the parent cuts it in
        chunks and may split it between two workers."""
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        kwargs: dict[str, Any] = {"ini_section": env.get("section") or "alembic"}
        if env.get("toml_path"):
            kwargs["toml_file"] = env["toml_path"]
        ini = env["config_path"] if env["kind"] in ("ini", "flask") else None
        if ini is None and env.get("toml_path") and os.path.isfile("alembic.ini"):
            ini = "alembic.ini"  # what ``alembic`` run here reads too (the pyproject templates' URL)
        config = Config(ini, **kwargs)
        self.backend = backends.get(backend)
        self.guard = Guard(guard["query"], guard["expected"])
        install(url, self.guard, create_databases=extra_dbs, backend=self.backend)
        url = backends.with_driver(url, _project_driver(config, self.backend))
        if env["kind"] == "flask":
            _push_flask_app()
        for name in url_vars:  # DATABASE_URL & co. carry the same URL, driver included
            os.environ[name] = url
        config.set_main_option("script_location", env["script_location"].replace("%", "%%"))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        script = ScriptDirectory.from_config(config)
        heads = [s.revision for s in script.get_revisions("heads") if s is not None]
        revisions = sum(1 for _ in script.walk_revisions())
        self.config, self.script = config, script
        self.no_down = _no_down(script, irreversible, floor)
        extra: dict[str, Any] = {}
        if order:
            start: Any = () if stamp in (None, "base") else (stamp,)  # (the database's heads then)
            try:
                steps = script._upgrade_revs("heads", start)  # noqa: SLF001 -- Alembic has no public step iterator for upgrade (alembic pinned <1.21)
            except Exception:  # an unknown --stamp: the stamp step reports it
                empty: Any = ()
                steps = script._upgrade_revs("heads", empty)  # noqa: SLF001 -- (as above)
            extra["order"] = [step.revision.revision for step in steps]
        self.emit("loaded", revisions=revisions, heads=heads, **extra)

    def run(
        self,
        mode: str,
        stamp: str | None = None,
        limit: int | None = None,
        target: str | None = None,
        focus: list[str] | None = None,
        rows: dict[str, int] | None = None,
        only: list[str] | None = None,
        final: bool = True,
    ) -> None:
        """One ``run_env()``: the whole plan of ``mode`` ("default", "stairway", "focus": judge the
        ``focus`` revisions only, "stamp", "upgrade": plain upgrade to ``target``, no checks, to
        rebuild a state after a broken revision, or "prepare": upgrade each pending revision with
        the rows filled before it as the stairway fills them, nothing judged). ``rows``: fill the
        tables before each judged revision (headcheck.db.rows). "stairway" and "prepare": ``limit``
        revisions at most, of ``only`` when given; ``final``: the stairway's last chunk checks
        ``alembic_version`` (not when another worker goes on from there)."""
        from alembic.runtime.environment import EnvironmentContext

        self.mode = mode
        self.rows_options = rows
        state: dict[str, Any] = {"index": None, "finished": False}
        executed: list[Any] = []  # the steps the first database went through

        checked = _CheckedConnection(self.guard)

        def steps(heads: tuple[str, ...], ctx: Any) -> Iterator[Any]:
            checked.forget()  # (each database of a multi-database env.py: checked at its start)
            checked.check(ctx, _executor(ctx))
            if state["finished"] and mode not in ("stamp", "upgrade"):
                # a multi-database env.py (Alembic's multidb template, Flask-Migrate's) calls
                # run_migrations() once per database: the others go through the same steps
                # (checked, timed and compared on the first one)
                for k, step in enumerate(executed):
                    state["index"] = k
                    yield step
                state["index"] = None
                return
            self.emit("begin", db_heads=list(heads))
            if mode == "stamp":
                yield from self.script._stamp_revs(stamp, heads)  # noqa: SLF001 -- Alembic has no public step iterator for stamp (alembic pinned <1.21)
                state["finished"] = True
                return
            if mode == "upgrade":
                yield from self.script._upgrade_revs(target, heads)  # noqa: SLF001 -- Alembic has no public step iterator for upgrade (alembic pinned <1.21)
                state["finished"] = True
                return
            for step in self._steps(heads, ctx, state, limit, focus or [], checked, only, final):
                executed.append(step)
                yield step
            state["finished"] = True

        try:
            environment = EnvironmentContext(self.config, self.script, fn=steps, destination_rev="heads")
            self.models.observe(environment)  # keeps target_metadata; configure() works as before
            with environment:
                self.script.run_env()
        except (Exception, SystemExit) as exc:  # the user's env.py or migration failed: report, do not die
            self._carry_from(state.get("revision"))
            extra = {}
            # (measured on the first database only: the others replay its steps, see steps() above)
            first_db = not state["finished"]
            if not self.backend.transactional_ddl and first_db and state["index"] is not None and "plan" in state:
                extra["before"] = self._heads_before(state["start"], state["plan"], state["index"])
            self.emit("error", index=state["index"], error=_tail(exc, self.script.dir), **extra)
            return
        if not state["finished"]:
            self.emit("error", index=None, error="env.py returned without calling context.run_migrations()")
            return
        self.emit("done", more=bool(state.get("more")), stopped=state.get("stopped"))

    def _heads_before(self, start: list[str], plan: list[Any], index: int) -> list[str]:
        """The heads of what was applied just before step ``index`` of ``plan`` (from the database's
        ``start`` heads): upgrading a fresh database to them rebuilds the schema that step began on."""
        applied: set[str] = set()
        for head in start:
            applied |= {rev.revision for rev in self.script.revision_map.iterate_revisions(head, "base")}
        for step in plan[:index]:
            if step.direction == "up":
                applied.add(step.revision)
            else:
                applied.discard(step.revision)
        below: set[str] = set()
        for revision in applied:
            below |= set(self.script.get_revision(revision)._all_down_revisions)  # noqa: SLF001 -- Alembic's parents including depends_on; no public name
        return sorted(applied - below)

    def snapshot(self) -> None:
        """The schema now, on a connection of its own (the project's URL, redirected to our database,
        with the backend's own driver): after a failed step, or after rebuilding the state before it."""
        from sqlalchemy import create_engine, pool

        url = backends.with_driver(self.config.get_main_option("sqlalchemy.url"), self.backend.default_driver)
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                found = self.backend.snapshot(lambda sql: conn.exec_driver_sql(sql).fetchall(), self.version_table)
        finally:
            engine.dispose()
        self.emit("snapshot", snapshot={k: list(v) for k, v in found.items()})

    def _carry_from(self, revision: str | None) -> None:
        """After a broken revision the parent rebuilds the state after its first upgrade: that is
        the "before" of the next stairway chunk."""
        if revision is not None and f"post:{revision}" in self.saved:
            self.carry = self.saved[f"post:{revision}"]

    def _steps(
        self,
        heads: tuple[str, ...],
        ctx: Any,
        state: dict[str, Any],
        limit: int | None,
        focus: list[str],
        checked: _CheckedConnection,
        only: list[str] | None = None,
        final: bool = True,
    ) -> Iterator[Any]:
        from alembic.runtime.migration import MigrationStep

        script = self.script
        pending = [step.revision.revision for step in script._upgrade_revs("heads", heads)]  # noqa: SLF001 -- Alembic has no public step iterator for upgrade (alembic pinned <1.21)
        real_heads = [s.revision for s in script.get_revisions("heads") if s is not None]
        if only is not None:
            allowed = set(only)
            pending = [revision for revision in pending if revision in allowed]
        no_down = self.no_down & set(pending)
        if self.mode in ("stairway", "prepare"):
            chunk = pending if limit is None else pending[:limit]
            state["more"] = len(chunk) < len(pending)
            if self.mode == "stairway":
                take_initial, plan = planning.stairway_plan(chunk, final=final and not state["more"], no_down=no_down)
            else:
                take_initial, plan = False, [planning.PlanStep("up", revision) for revision in chunk]
                if plan and not state["more"]:
                    # the stairway that follows starts from this snapshot (self.carry), taken here as
                    # one worker's stairway takes it: in the transaction before (its locks are not
                    # held by the next one)
                    plan[-1] = plan[-1]._replace(save=("prepared",))
        elif self.mode == "focus":
            parents = {rev: script.get_revision(rev)._all_down_revisions for rev in pending}  # noqa: SLF001 -- Alembic's parents including depends_on; no public name
            take_initial, plan = planning.focused_plan(pending, focus, no_down, parents=parents)
        else:
            take_initial, plan = planning.default_plan(pending, real_heads, no_down)
        state["plan"], state["start"] = plan, list(heads)  # (what a half-applied step is compared with)
        self.emit(
            "plan", steps=[[p.direction, p.revision] for p in plan], heads=real_heads, irreversible=sorted(no_down)
        )
        version_table = self.version_table = str(getattr(ctx, "version_table", "alembic_version"))
        execute = _executor(ctx)
        session = lambda: getattr(ctx.connection.connection, "dbapi_connection", None)  # noqa: E731
        # (lock trace and rows: PostgreSQL's; their catalog queries through kept plans, checked once a run)
        kept = Kept((*TRACE_QUERIES, *ROWS_QUERIES), session) if self.backend.lock_trace else None
        if kept is not None:
            execute = kept.watching(execute)
        tracer = Tracer(execute, version_table, kept) if self.backend.lock_trace else None
        if tracer is not None:  # headcheck.db.trace: SQL, locks, rewrites per step
            tracer.install(ctx.connection)
        take, forget = self._snapshots(session, version_table, sum(1 for p in plan if p.snapshot) > 8)

        rows = self._rows(version_table)
        if rows is not None:
            rows.kept = kept
        downgraded = {p.revision for p in plan if p.direction == "down" and p.check == "downgrade"}
        last_use: dict[str, int] = {}
        for k, p in enumerate(plan):
            if p.compare:
                last_use[p.compare] = k
        saved = self.saved = {}
        last: snapshot.Snapshot | None = None
        if take_initial:
            # a stairway chunk starts where the previous one ended: its last snapshot is "before"
            carried = self.carry if self.carry is not None and heads else None
            last = saved[planning.INITIAL] = carried or take(execute)
        for k, p in enumerate(plan):
            script_rev = script.get_revision(p.revision)
            if p.direction == "up":
                step = MigrationStep.upgrade_from_script(script.revision_map, script_rev)
            else:
                step = MigrationStep.downgrade_from_script(script.revision_map, script_rev)
            if k and (self.mode == "stairway" or p.direction != plan[k - 1].direction):
                # Alembic's impl remembers the enum types it created (``impl.memo``) for one command;
                # where plain alembic would start a new command, start with a fresh memory too.
                memo = getattr(ctx.impl, "memo", None)
                if isinstance(memo, dict):
                    memo.clear()
            state["index"], state["revision"] = k, p.revision
            if k:  # (the first step: checked at "begin")
                checked.check(ctx, execute)
            first_up = p.direction == "up" and p.revision not in self.upgraded
            observe = first_up and self.mode != "prepare"  # (prepared revisions are another worker's to judge)
            path = getattr(script_rev, "path", None)
            watch = False
            if rows is not None and tracer is not None:  # (rows: PostgreSQL only, as the tracer)
                # rows in the tables before each judged revision, each step in a savepoint
                if first_up and (self.mode != "focus" or p.revision in focus):
                    rows.fill(execute)
                    if p.revision in downgraded:
                        rows.remember(p.revision)
                watch = p.direction == "down" and p.check == "downgrade" and p.revision in rows.before
                if rows.filled:
                    restart = lambda path=path, observe=observe: tracer.begin(path, observe=observe)  # noqa: E731
                    record = first_up and p.revision in rows.before  # (remembered above)
                    step = rows.guard(step, execute, ctx, path, restart, watch, record=record)
            if tracer is not None:
                tracer.begin(path, observe=observe)
            started = time.perf_counter()
            yield step
            seconds = time.perf_counter() - started
            event: dict[str, Any] = {"index": k, "seconds": seconds}
            if tracer is not None:
                event["trace"] = tracer.end()
                if any(FORGETS.match(s["sql"]) for s in event["trace"]["statements"]):
                    forget()
            if rows is not None and tracer is not None:
                event.update(rows.step_event(execute, p.revision, watch))
            if first_up:
                self.upgraded.add(p.revision)
            current: snapshot.Snapshot | None = None
            if p.snapshot:
                current = take(execute)
                for key in p.save:
                    saved[key] = current
                if p.compare is not None:
                    expected = saved[p.compare]
                    if current != expected:
                        event["diff"] = snapshot.diff(expected, current)
                        event["unchanged"] = last is not None and current == last
                    if last_use.get(p.compare) == k and p.compare not in p.save:
                        del saved[p.compare]
            if p.check_heads:
                event["db_heads"] = list(ctx.get_current_heads())
            last = current
            if current is not None:
                self.carry = current
            self.emit("step", **event)
            if "diff" in event and p.check is not None:
                # the schema is not what the next steps expect: whatever they did would fail because of
                # this revision, not their own. Stop here; the parent rebuilds the state and goes on.
                self._carry_from(p.revision)
                state["stopped"] = p.revision
                break
        state["index"] = None

    def _snapshots(
        self, session: Callable[[], object], version_table: str, many: bool
    ) -> tuple[Callable[[Any], backends.Snapshot], Callable[[], None]]:
        """(take: executor -> snapshot, forget) for the snapshots of one run on the migration
        connection (the backend's :meth:`~headcheck.db.backends.Backend.snapshots`; PostgreSQL's
        describe only what changed since the last one). ``many``: more than a few snapshots in this
        plan (a stairway, many revisions judged); ``session``: the migration's DB-API connection."""
        return self.backend.snapshots(version_table, session, many=many)

    def _rows(self, version_table: str) -> Rows | None:
        if self.rows_options is None or self.mode in ("stamp", "upgrade"):
            return None
        if self.rows is None or self.rows.version_table != version_table:
            self.rows = Rows(self.rows_options["count"], self.rows_options["seed"], version_table)
        return self.rows


class _CheckedConnection:
    """The guard's check of the migration connection before every step, once per DB-API connection:
    a DB-API connection stays on the server it was opened on, so the query runs again only when the
    migration context holds another one (SQLAlchemy reconnected after an invalidation, an env.py
    handing over a new connection, ...). Reading ``pg_control_system()`` before each of the 600 steps
    of a 200-revision stairway cost about 0.3 s."""

    def __init__(self, guard: Guard | None) -> None:
        self.guard = guard
        self.dbapi: Any = None  # the DB-API connection that answered the check (kept: ids can be reused)

    def forget(self) -> None:
        self.dbapi = None

    def check(self, ctx: Any, execute: Any) -> None:
        if self.guard is None:
            return
        dbapi = getattr(ctx.connection.connection, "dbapi_connection", None)
        if dbapi is not None and dbapi is self.dbapi:
            return
        self.guard.check(execute, "the migration connection")
        self.dbapi = dbapi


def _executor(ctx: Any) -> Any:
    """SQL -> rows on the migration's own DB-API connection: same transaction, without SQLAlchemy's
    per-row overhead (hundreds of snapshots in --stairway). With psycopg 2 or 3, ``sql`` may be
    several statements (no parameters: the simple query protocol), answered by the last one's rows;
    the function then says so (``several``, for headcheck.db.rows: one round trip instead of three)."""

    def execute(sql: str) -> Any:
        dbapi = getattr(ctx.connection.connection, "dbapi_connection", None)
        if dbapi is None:
            result = ctx.connection.exec_driver_sql(sql)
            return result.fetchall() if result.returns_rows else []
        cursor = dbapi.cursor()
        try:
            cursor.execute(sql)
            if several_results:  # (psycopg 3 stays on the first statement's result)
                while cursor.nextset():
                    pass
            return cursor.fetchall() if cursor.description is not None else []
        finally:
            cursor.close()

    dbapi = getattr(ctx.connection.connection, "dbapi_connection", None)
    driver = type(dbapi).__module__.split(".", 1)[0] if dbapi is not None else ""
    several_results = driver == "psycopg"
    execute.several = driver in ("psycopg", "psycopg2")  # type: ignore[attr-defined]
    return execute


def _project_driver(config: Any, backend: backends.Backend) -> str:
    """The driver of the project's own ``sqlalchemy.url`` when it is one of the backend's and
    importable (a plain ``postgresql://`` means psycopg2 to SQLAlchemy), else headcheck's own."""
    try:
        original = config.get_main_option("sqlalchemy.url") or ""
    except Exception:  # an interpolation the ini cannot resolve: nothing to keep
        original = ""
    return backends.project_driver(backend, original)


def _no_down(script: Any, irreversible: list[str], floor: str | None) -> set[str]:
    """The full ids of the declared irreversible revisions and of the floor and everything below it."""
    from alembic.util import CommandError

    found: set[str] = set()
    for rev, what in [*((r, "irreversible") for r in irreversible), *([(floor, "downgrade floor")] if floor else [])]:
        try:
            revision = script.get_revision(rev)
        except CommandError:
            revision = None
        if revision is None:
            raise RuntimeError(f"{what} {rev!r}: no such revision in this history")
        if what == "irreversible":
            found.add(revision.revision)
        else:
            found |= {r.revision for r in script.iterate_revisions(revision.revision, "base")}
    return found


def _push_flask_app() -> None:
    """Flask-Migrate's env.py reads ``current_app``: find the app as ``flask`` does (``FLASK_APP``,
    else ``wsgi.py``/``app.py`` here, an ``app`` object or a ``create_app`` factory) and push its
    application context for the rest of this process. Its engines connect to our server only."""
    try:
        from flask.cli import NoAppException, ScriptInfo
    except ImportError:
        raise RuntimeError(
            "this is a Flask-Migrate project (alembic.ini inside the migrations folder) but Flask is not "
            "installed where headcheck runs: install the project's requirements next to headcheck"
        ) from None
    try:
        app = ScriptInfo(app_import_path=os.environ.get("FLASK_APP") or None).load_app()
    except NoAppException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(
            f"cannot find the Flask app as `flask` does (FLASK_APP, or app.py/wsgi.py in {os.getcwd()}): {first}; "
            "set FLASK_APP=module:app"
        ) from None
    app.app_context().push()


def _exit_with_parent(parent: int) -> None:
    """headcheck killed with SIGKILL cannot kill us: notice that our parent is gone and exit."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(3)


def _adopt(cwd: str, env: dict[str, str], log: str) -> None:
    """A child started ahead of time (headcheck.db.child.Spare) becomes the one the parent would
    have started now: its working directory, its environment (the project's database URL in the
    variables env.py reads, no ``PG*``), its output in the log."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _preload(modules: list[str]) -> None:
    """Import what every run needs (and ``modules``: the database driver) before the first command
    arrives: for a child started ahead of time, this is the part that overlaps the parent's own work
    (most of a second)."""
    import importlib

    import alembic.config
    import alembic.runtime.environment
    import alembic.runtime.migration
    import alembic.script  # noqa: F401

    for name in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _bound_version_updates() -> None:
    """Alembic moves ``alembic_version`` from one revision to the next with an UPDATE whose revision
    ids are written into the SQL text (``literal_column``), so SQLAlchemy compiled a new statement
    at every step: about a tenth of the migration process's CPU in a stairway. In this process it
    sends the same UPDATE with bound parameters (compiled once per migration context), with
    Alembic's own check that it matched one row. Offline (``--sql``) and any Alembic whose method
    does not read as expected keep Alembic's own."""
    import inspect

    from alembic import util
    from alembic.runtime.migration import HeadMaintainer
    from sqlalchemy import bindparam

    original = HeadMaintainer._update_version  # noqa: SLF001 -- Alembic has no public hook for its version table (alembic pinned <1.21)
    if getattr(original, "headcheck", False) or list(inspect.signature(original).parameters) != [
        "self",
        "from_",
        "to_",
    ]:
        return

    def _update_version(self: Any, from_: str, to_: str) -> None:
        context = self.context
        if context.as_sql:
            original(self, from_, to_)
            return
        assert to_ not in self.heads
        self.heads.remove(from_)
        self.heads.add(to_)
        statement = context.__dict__.get("_headcheck_update")
        if statement is None:
            version = context._version  # noqa: SLF001 -- (as Alembic's own method reads it)
            statement = (
                version.update()
                .values(version_num=bindparam("headcheck_to"))
                .where(version.c.version_num == bindparam("headcheck_from"))
            )
            context.__dict__["_headcheck_update"] = statement
        ret = context.impl._exec(statement, params={"headcheck_to": to_, "headcheck_from": from_})  # noqa: SLF001
        if context.dialect.supports_sane_rowcount and ret is not None and ret.rowcount != 1:
            raise util.CommandError(
                f"Online migration expected to match one row when updating '{from_}' to '{to_}' in "
                f"'{context.version_table}'; {ret.rowcount} found"
            )

    _update_version.headcheck = True  # type: ignore[attr-defined]
    HeadMaintainer._update_version = _update_version  # type: ignore[method-assign]  # noqa: SLF001


ZYGOTE = "--zygote="  # argument: the socket on which a spare receives a forked sibling's pipes


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    events = os.fdopen(int(args[0]), "w", encoding="utf-8")
    zygote = next((int(a.removeprefix(ZYGOTE)) for a in args[1:] if a.startswith(ZYGOTE)), None)
    _preload([a for a in args[1:] if not a.startswith(ZYGOTE)])
    _bound_version_updates()
    return _serve(sys.stdin, events, zygote)


def _serve(commands: Iterable[str], events: TextIO, zygote: int | None) -> int:
    """Answer the parent's commands (JSON lines on ``commands``) until ``exit`` or end of input.
    ``zygote``: a spare's socket for ``fork`` (before it is adopted: see :func:`_fork`)."""
    runner = Runner(events)
    for line in commands:
        command = json.loads(line)
        name = command["cmd"]
        if name == "exit":
            break
        if name == "fork" and zygote is not None:
            _fork(zygote, events, int(command["parent"]))
            continue
        if name == "preload":  # (a spare started before the project's driver was known)
            _preload([str(m) for m in command["modules"]])
            continue
        if name == "adopt":
            if zygote is not None:  # (adopted: never a zygote again)
                with contextlib.suppress(OSError):
                    os.close(zygote)
                zygote = None
            _adopt(command["cwd"], command["env"], command["log"])
            continue
        try:
            if name == "load":
                runner.load(
                    command["env"],
                    command["url"],
                    command["guard"],
                    command["url_vars"],
                    command["extra_dbs"],
                    command.get("irreversible", []),
                    command.get("floor"),
                    command.get("backend", backends.DEFAULT),
                    bool(command.get("order")),
                    command.get("stamp"),
                )
            elif name == "snapshot":
                runner.snapshot()
            elif name == "models-to":  # create the models there while the migrations run
                runner.models.prepare(runner.config.get_main_option("sqlalchemy.url"), command["database"])
            elif name == "models":  # headcheck.db.models: create_all in another database, compare
                url = runner.config.get_main_option("sqlalchemy.url")
                runner.emit("models", **compare_models(runner.models, url, command["database"], command["ignore"]))
            elif name == "dispose":
                dispose_all()
                runner.emit("disposed")
            elif name == "run":
                runner.run(
                    command["mode"],
                    command.get("stamp"),
                    command.get("limit"),
                    command.get("target"),
                    command.get("focus"),
                    command.get("rows"),
                    command.get("only"),
                    bool(command.get("final", True)),
                )
        except Exception as exc:
            project = runner.script.dir if runner.script is not None else None
            runner.emit("error", index=None, error=_tail(exc, project))
    return 0


def _fork(sock: int, events: TextIO, parent: int) -> None:
    """In a spare not yet adopted, with everything imported: start a sibling spare as a fork of
    this process, instead of a new interpreter that imports it all again (about 0.4 s of CPU while
    the server starts, headcheck.db.child.Spare.fork). Its pipes (commands in, events out) come on
    ``sock``; it runs in a session of its own, and its first event is its pid. It stays this
    process's child (never waited for here: an exited sibling stays a zombie, so its pid is not
    reused while the parent may still signal its process group)."""
    import socket

    try:
        with socket.socket(fileno=os.dup(sock)) as channel:
            _, fds, _, _ = socket.recv_fds(channel, 16, 2)
    except OSError:
        return  # (no sibling: the parent's take() sees its events end and starts a child itself)
    try:
        if len(fds) == 2 and os.fork() == 0:
            code = 1
            try:
                code = _sibling(fds[0], fds[1], sock, events, parent)
            finally:
                os._exit(code)
    except OSError:
        pass
    for fd in fds:
        os.close(fd)


def _sibling(commands_fd: int, events_fd: int, sock: int, events: TextIO, parent: int) -> int:
    """The forked spare: a session of its own, its own pipes, a watch on headcheck (its parent is
    the zygote, which may end first), then the commands as any spare answers them."""
    os.setsid()
    os.dup2(commands_fd, 0)
    os.close(commands_fd)
    os.close(sock)
    with contextlib.suppress(OSError):
        os.close(events.fileno())  # (the zygote's events: not ours)
    try:
        watch = os.pidfd_open(parent)
    except OSError:
        return 3  # headcheck is gone already
    threading.Thread(target=_exit_with_pidfd, args=(watch,), daemon=True).start()
    own = os.fdopen(events_fd, "w", encoding="utf-8")
    own.write(json.dumps({"event": "forked", "pid": os.getpid()}) + "\n")
    own.flush()
    commands = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (fd 0 is the new pipe)
    return _serve(commands, own, None)


def _exit_with_pidfd(watch: int) -> None:
    """:func:`_exit_with_parent` for the forked spare: exit once headcheck has exited."""
    import select

    while not select.select([watch], [], [], 0.5)[0]:
        pass
    os._exit(3)


if __name__ == "__main__":
    raise SystemExit(main())

"""Models vs migrations, by catalog: the proof's side of the model comparison (HC640, HC641, HC642).

``alembic check`` (autogenerate) compares the Python models with a reflected database and is known
for false reports: a server default written ``"0"`` in the model and ``text("0")`` in the
migration, enum types, serial sequences, CHECK expressions, constraint names from a naming
convention. Here both sides are real schemas: the database the proof upgraded to the heads, and
``<db>_models`` on the same server, where the migration child (:mod:`headcheck.db.models`) runs
``metadata.create_all`` for env.py's ``target_metadata`` while the migrations run; it compares
both (:mod:`headcheck.db.model_diff`) and this module turns the differences into findings at the
model's file and line, as :mod:`headcheck.db.production` does for locks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from headcheck import logsafe
from headcheck.db.model_diff import DIFFERENT, MIGRATIONS_ONLY, MODELS_ONLY
from headcheck.limits import MESSAGE_LIMIT, shorten
from headcheck.rules import RULES

if TYPE_CHECKING:
    from headcheck.findings import Finding
    from headcheck.gate import GateResult

__all__ = [
    "Comparison",
    "ModelsDatabase",
    "compare_after_proof",
    "create_models_database",
    "drift_findings",
    "drop_models_database",
    "models_database_name",
    "with_model_findings",
]


class Comparison(NamedTuple):
    """The model comparison of one environment: ``notice`` when it did not run (and why), else the
    differences found (``drift``: the child's dicts, see :class:`Drift`)."""

    seconds: float
    notice: str | None = None
    drift: tuple[Mapping[str, Any], ...] = ()


def models_database_name(database: str) -> str:
    """The second throwaway database, next to the proof's (never matched by the ``<name>_N`` of the
    project's other databases)."""
    return f"{database}_models"


def create_models_database(libpq_url: str) -> tuple[str | None, str | None]:
    """CREATE DATABASE ``<db>_models`` on ``libpq_url``'s server: (its name, None) or (None, why not)."""
    import psycopg
    from psycopg import sql

    database = str(psycopg.conninfo.conninfo_to_dict(libpq_url).get("dbname") or "")
    name = models_database_name(database)
    try:
        with psycopg.connect(libpq_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            # copying template1's files beats WAL-logging them (PostgreSQL 15+; before, the only way)
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(sql.SQL("CREATE DATABASE {}" + strategy).format(sql.Identifier(name)))
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, f"cannot create the database {name} for the models: {first}"
    return name, None


def drop_models_database(libpq_url: str, name: str) -> None:
    """Drop it again (a ``--database-url`` server keeps nothing of the proof)."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(libpq_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except psycopg.Error:
        pass


_FIX = {
    MODELS_ONLY: "Add a migration that creates it (alembic revision --autogenerate, then read the script), "
    "or remove it from the model.",
    MIGRATIONS_ONLY: "Declare it in the model, or drop it in a new migration; objects the models do not own "
    "go in [tool.headcheck] models-ignore.",
    DIFFERENT: "Make them agree: change the model, or alter the object in a new migration.",
}


def drift_findings(items: Iterable[Mapping[str, Any]], ignore: frozenset[str] = frozenset()) -> list[Finding]:
    """The child's ``models`` event's ``drift`` as findings, at the model's file and line."""
    from headcheck.findings import Finding

    found = []
    for item in items:
        code = str(item["code"])
        if code in ignore or code not in RULES:
            continue
        path = item.get("path")
        line = item.get("line")
        found.append(
            Finding(
                code,
                RULES[code].severity,
                shorten(logsafe.line(str(item["message"])), MESSAGE_LIMIT),
                _FIX[code],
                Path(path) if isinstance(path, str) else None,
                line if isinstance(line, int) else None,
            )
        )
    return found


class ModelsDatabase:
    """``<db>_models`` next to the proof's database, created in a thread while the migration child
    starts; :meth:`announce` tells the child, which then creates the models there while the
    migrations run. :meth:`drop` removes it (a ``--database-url`` server keeps nothing)."""

    def __init__(self, libpq_url: str) -> None:
        import threading

        self.url = libpq_url
        self.name: str | None = None
        self.problem: str | None = None
        self.thread = threading.Thread(target=self._create, name="headcheck-models-db", daemon=True)
        self.thread.start()

    def _create(self) -> None:
        self.name, self.problem = create_models_database(self.url)

    def announce(self, child: Any) -> None:
        self.thread.join()
        if self.name is not None:
            child.send(cmd="models-to", database=self.name)

    def drop(self, *, throwaway: bool = False) -> None:
        """``throwaway``: the server is about to go with everything on it, so only wait for the
        creation (about 20 ms less at the end of a proof)."""
        self.thread.join()
        if self.name is not None and not throwaway:
            drop_models_database(self.url, self.name)
        self.name = None


_BEFORE_HEADS = ("load", "load-schema", "stamp", "env.py", "upgrade", "restore")


def compare_after_proof(
    child: Any, steps: Sequence[Any], database: ModelsDatabase, ignore: Sequence[str], timeout: float
) -> Comparison:
    """The model comparison once the proof's plan ran in ``child``: skipped when the migrations did
    not reach the heads (a failed upgrade); after a failed downgrade check (the plan stopped below
    the heads), upgraded to the heads first."""
    import time

    from headcheck.db.child import ChildDied

    started = time.perf_counter()
    if not steps or any(not step.ok and step.name in _BEFORE_HEADS for step in steps):
        return Comparison(0.0, "the migrations did not reach the heads")
    database.thread.join()
    if database.name is None:
        return Comparison(0.0, database.problem)
    try:
        if not all(step.ok for step in steps):
            child.send(cmd="run", mode="upgrade", target="heads")
            while True:
                event = child.next_event(timeout)
                if event is None or event["event"] == "error":
                    return Comparison(0.0, "the migrations did not reach the heads again")
                if event["event"] == "done":
                    break
            started = time.perf_counter()
        child.send(cmd="models", database=database.name, ignore=list(ignore))
        event = child.next_event(timeout)
    except ChildDied:
        return Comparison(0.0, "the migration process died")
    seconds = time.perf_counter() - started
    if event is None:
        child.close()
        return Comparison(seconds, f"timed out after {timeout:g} s (--timeout)")
    if event.get("event") != "models":
        return Comparison(seconds, str(event.get("error") or "the migration process failed"))
    if event.get("skipped") or event.get("error"):
        return Comparison(seconds, str(event.get("skipped") or event.get("error")))
    return Comparison(seconds, None, tuple(event.get("drift") or ()))


def with_model_findings(result: GateResult, comparisons: Mapping[int, Comparison | None]) -> GateResult:
    """``result`` with each environment's model differences (HC640-HC642) as findings."""
    environments = list(result.environments)
    for index, comparison in comparisons.items():
        if comparison is None or not comparison.drift:
            continue
        found = drift_findings(comparison.drift, result.settings.ignore)
        env = environments[index]
        environments[index] = env._replace(findings=env.findings + tuple(found))
    return result._replace(environments=tuple(environments))

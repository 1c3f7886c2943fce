"""The database proof, as a library: a throwaway PostgreSQL that runs the project's own migrations.

One typed entry point: ``prove(environments, ProofOptions(...)) -> ProofRun`` starts the throwaway
server (or uses ``ProofOptions.database_url``), runs the plan for every environment and returns a
``Proof`` each (its ``Step``s, ``SchemaDiff``s and the SQL ``StepTrace``s); ``ProofError`` when the
proof cannot start (exit 2 for a command). Commands and the Action call it and render the result
(``headcheck.db.report``, ``headcheck.summary``); nothing here imports a command or the CLI.

``server`` starts and always removes the private server, ``runner`` is the child process that
drives Alembic inside the user's environment, ``plan`` decides the steps and which schema
snapshots must match, ``snapshot`` reads the schema from the catalogs, ``proof`` ties them
together and ``report`` formats the result. Nothing here is imported by the static gate, and
importing this package loads no database library (they load when a proof runs).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headcheck.db.proof import Options, Proof, ProofError, ProofOptions, ProofRun, SchemaDiff, Step, prove
    from headcheck.db.trace import Statement, StepTrace

__all__ = [
    "Options",
    "Proof",
    "ProofError",
    "ProofOptions",
    "ProofRun",
    "SchemaDiff",
    "Statement",
    "Step",
    "StepTrace",
    "prove",
]


def __getattr__(name: str) -> Any:
    """The names above, loaded on first use (PEP 562): importing a submodule (the pg_ctl wrapper's
    initdb step imports headcheck.db.backends.postgres) does not pull in the whole proof."""
    if name in __all__:
        import importlib

        home = "headcheck.db.trace" if name in ("Statement", "StepTrace") else "headcheck.db.proof"
        return getattr(importlib.import_module(home), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

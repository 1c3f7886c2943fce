"""Real Alembic projects in real git repositories, for the fixers and the --base tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

ENV_PY = """\
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""


def revision_text(rev: str, down: object, message: str | None = None) -> str:
    """A revision as Alembic's generic template writes it (annotated), creating one table."""
    revises = ", ".join(down) if isinstance(down, tuple) else (down or "")
    return f'''"""{message or "add " + rev}

Revision ID: {rev}
Revises: {revises}
Create Date: 2026-11-01 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("CREATE TABLE t_{rev} (id INTEGER)")


def downgrade() -> None:
    op.execute("DROP TABLE t_{rev}")
'''


def alembic_project(root: Path, ini_extra: str = "") -> Path:
    """An Alembic project with no revisions yet; returns the versions folder."""
    import alembic

    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic" / "env.py").write_text(ENV_PY)
    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    shutil.copy(template, root / "alembic" / "script.py.mako")
    ini = (
        "[alembic]\nscript_location = %(here)s/alembic\npath_separator = os\n"
        "sqlalchemy.url = sqlite:///%(here)s/db.sqlite\n"
    )
    (root / "alembic.ini").write_text(ini + textwrap.dedent(ini_extra))
    (root / ".gitignore").write_text("db.sqlite\n__pycache__/\n")
    return versions


def add_revision(root: Path, rev: str, down: object, message: str | None = None) -> Path:
    path = root / "alembic" / "versions" / f"{rev}_add.py"
    path.write_text(revision_text(rev, down, message))
    return path


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity, ignoring any GIT_* variables of the caller
    (a test run inside a git hook must not act on the outer repository)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def alembic_heads(root: Path) -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(Config(str(root / "alembic.ini"))).get_heads())


def alembic_upgrade_heads(root: Path) -> list[str]:
    """Run ``alembic upgrade heads`` on SQLite; return the tables that exist afterwards."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(root / "alembic.ini")), "heads")
    engine = sa.create_engine(f"sqlite:///{root / 'db.sqlite'}")
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def forked_repo(root: Path) -> Path:
    """main: aaaa -> bbbb -> dddd (dddd added after the fork); feature: aaaa -> bbbb -> cccc.

    The feature branch is checked out; it does not contain dddd.
    """
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    alembic_project(repo)
    add_revision(repo, "aaaa", None)
    add_revision(repo, "bbbb", "aaaa")
    commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    add_revision(repo, "cccc", "bbbb")
    commit_all(repo, "feature: cccc")
    git(repo, "checkout", "-q", "main")
    add_revision(repo, "dddd", "bbbb")
    commit_all(repo, "main: dddd")
    git(repo, "checkout", "-q", "feature")
    return repo

"""Write tiny Alembic projects for tests: real files, real config, a few lines per history."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

# Where ``alembic_generate`` keeps the tree each template generated (set for the session by
# tests/conftest.py; None: every call runs the generator).
generated_root: Path | None = None


def revision_file(
    rev: str, down: object = None, *, labels: object = None, depends_on: object = None, doc: str = ""
) -> str:
    head = f'"""{doc or rev}\n\nRevision ID: {rev}\nRevises: {_revises(down)}\n"""\n'
    body = f"revision = {rev!r}\ndown_revision = {down!r}\n"
    if labels is not None:
        body += f"branch_labels = {labels!r}\n"
    if depends_on is not None:
        body += f"depends_on = {depends_on!r}\n"
    return head + body + "\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"


def _revises(down: object) -> str:
    if isinstance(down, (tuple, list)):
        return ", ".join(str(d) for d in down)
    return "" if down is None else str(down)


def write_project(
    root: Path, revisions: Mapping[str, object], *, ini: str | None = None, script: str = "alembic"
) -> Path:
    """``revisions`` maps file name -> file text (str) or (rev, down) tuple. Returns the versions dir."""
    root.mkdir(parents=True, exist_ok=True)
    versions = root / script / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (root / script / "env.py").write_text("raise RuntimeError('env.py must never run in the static gate')\n")
    if ini is None:
        ini = f"[alembic]\nscript_location = %(here)s/{script}\npath_separator = os\n"
    (root / "alembic.ini").write_text(textwrap.dedent(ini))
    for name, spec in revisions.items():
        text = spec if isinstance(spec, str) else revision_file(*spec)  # type: ignore[misc]
        (versions / name).write_text(text)
    return versions


def alembic_generate(root: Path, template: str = "generic") -> Path:
    """``alembic init -t TEMPLATE migrations`` in ``root`` (made if missing): the real generator's
    files. It runs once per template and test session; later calls copy that tree (its output does
    not depend on the folder it ran in). Returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    if generated_root is None:
        _run_alembic_init(root, template)
        return root
    pristine = generated_root / template
    if not pristine.exists():
        building = generated_root / f"{template}.partial"
        building.mkdir()
        _run_alembic_init(building, template)
        building.rename(pristine)
    shutil.copytree(pristine, root, dirs_exist_ok=True)
    return root


def _run_alembic_init(folder: Path, template: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "init", "-t", template, "migrations"],
        cwd=folder,
        check=True,
        capture_output=True,
    )

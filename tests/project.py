"""Write tiny Alembic projects for tests: real files, real config, a few lines per history."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path


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

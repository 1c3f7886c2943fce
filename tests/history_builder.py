"""Write real Alembic revision files (and ``alembic.ini``) in the styles found in the wild.

Styles (all load identically in Alembic, which executes the file and reads module attributes):

* ``plain``: the old ``script.py.mako`` (and Flask-Migrate's): ``down_revision = 'a'``.
* ``typed``: Alembic >= 1.11.2's template: ``revision: str = 'b'``,
  ``down_revision: Union[str, Sequence[str], None] = 'a'``.
* ``unpack``: tuple unpacking, ``revision, down_revision = 'b', 'a'``.
* ``list``: tuples written as lists, ``down_revision = ['a', 'c']``.
* ``rebound``: a stale value first, then the real one (the last binding wins).

Every file carries the template docstring (``Revision ID:`` / ``Revises:`` / ``Create Date:``);
``Revises:`` follows down_revision unless ``revises=`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "OMIT",
    "STYLES",
    "Rev",
    "declared_labels",
    "gate",
    "looked_up_depends",
    "render",
    "write_history",
    "write_ini",
    "write_revision",
]

STYLES = ("plain", "typed", "unpack", "list", "rebound")


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()  # leave the attribute out of the file entirely


class Rev(NamedTuple):
    revision: Any  # OMIT: no revision variable (Alembic falls back to a hex file name)
    down_revision: Any = None  # OMIT: no down_revision variable
    branch_labels: Any = None
    depends_on: Any = None
    style: str = "plain"
    filename: str | None = None  # default: "<revision>_step.py"
    revises: str | None = None  # docstring "Revises:" text; default follows down_revision


def _literal(value: Any, as_list: bool = False) -> str:
    if as_list and isinstance(value, tuple):
        return repr(list(value))
    return repr(value)


def _revises_text(down: Any) -> str:
    if down is OMIT or down is None:
        return ""
    if isinstance(down, (tuple, list)):
        return ", ".join(str(d) for d in down if d is not None)
    return str(down)


def render(rev: Rev) -> str:
    """The source of one revision file."""
    style = rev.style
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}")
    as_list = style == "list"
    revises = rev.revises if rev.revises is not None else _revises_text(rev.down_revision)
    shown_id = "" if rev.revision is OMIT else str(rev.revision)
    lines = [
        f'"""step {shown_id}',
        "",
        f"Revision ID: {shown_id}",
        f"Revises: {revises}",
        "Create Date: 2026-11-24 04:00:00.000000",
        "",
        '"""',
    ]
    if style == "typed":
        lines += ["from collections.abc import Sequence", "from typing import Union", ""]
    lines += ["", "# revision identifiers, used by Alembic."]
    down_known = rev.down_revision is not OMIT
    if style == "unpack" and rev.revision is not OMIT and down_known:
        lines.append(f"revision, down_revision = {_literal(rev.revision)}, {_literal(rev.down_revision)}")
    else:
        if style == "rebound":
            lines.append("revision = 'stale0'")
            lines.append("down_revision = 'stale0'")
        if rev.revision is not OMIT:
            annotation = ": str" if style == "typed" else ""
            lines.append(f"revision{annotation} = {_literal(rev.revision)}")
        elif style == "rebound":
            lines.append("del revision")
        if down_known:
            annotation = ": Union[str, Sequence[str], None]" if style == "typed" else ""
            lines.append(f"down_revision{annotation} = {_literal(rev.down_revision, as_list)}")
        elif style == "rebound":
            lines.append("del down_revision")
    for name, value in (("branch_labels", rev.branch_labels), ("depends_on", rev.depends_on)):
        if value is OMIT:
            continue
        annotation = ": Union[str, Sequence[str], None]" if style == "typed" else ""
        lines.append(f"{name}{annotation} = {_literal(value, as_list)}")
    lines += [
        "",
        "",
        "def upgrade() -> None:" if style == "typed" else "def upgrade():",
        "    pass",
        "",
        "",
        "def downgrade() -> None:" if style == "typed" else "def downgrade():",
        "    pass",
        "",
    ]
    return "\n".join(lines)


def declared_labels(revs: Iterable[Rev]) -> frozenset[str]:
    """Every string branch label the history declares."""
    found: set[str] = set()
    for rev in revs:
        labels = rev.branch_labels
        items = (labels,) if isinstance(labels, str) else tuple(labels) if isinstance(labels, (tuple, list)) else ()
        found.update(label for label in items if isinstance(label, str))
    return frozenset(found)


def looked_up_depends(revs: Iterable[Rev]) -> frozenset[str]:
    """The depends_on entries Alembic looks up: to_tuple, a 1-tuple becomes its element, and a
    falsy value ('' or ()) is not looked up at all."""
    found: set[str] = set()
    for rev in revs:
        value = rev.depends_on
        if value is OMIT or value is None:
            continue
        items = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (tuple, list)) else (value,)
        if len(items) == 1:
            items = (items[0],) if items[0] else ()
        found.update(v for v in items if isinstance(v, str))
    return frozenset(found)


def write_revision(folder: Path, rev: Rev) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = rev.filename or f"{rev.revision}_step.py"
    path = folder / name
    path.write_text(render(rev), encoding="utf-8")
    return path


def write_history(folder: Path, revs: Iterable[Rev]) -> list[Path]:
    """Write every revision into ``folder`` (created); load order is the sorted file names."""
    folder.mkdir(parents=True, exist_ok=True)
    return [write_revision(folder, rev) for rev in revs]


def write_ini(
    root: Path,
    *,
    script_location: str = "%(here)s/alembic",
    version_locations: Sequence[str] | None = None,
    recursive: bool | None = None,
    section: str = "alembic",
    extra: str = "",
) -> Path:
    """A real ``alembic.ini`` (``path_separator = os``); ``%(here)s`` keeps it CWD-independent."""
    import os

    lines = [f"[{section}]", f"script_location = {script_location}", "path_separator = os"]
    if version_locations is not None:
        lines.append(f"version_locations = {os.pathsep.join(version_locations)}")
    if recursive is not None:
        lines.append(f"recursive_version_locations = {'true' if recursive else 'false'}")
    if extra:
        lines.append(extra)
    ini = root / "alembic.ini"
    ini.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ini


def gate(versions: Path | Sequence[Path], *, recursive: bool = False, settings: Any = None) -> Any:
    """headcheck's static gate on version folders: an ``EnvironmentResult`` (heads, bases, findings)."""
    from headcheck.config import Environment, VersionLocation
    from headcheck.gate import check_environment
    from headcheck.settings import Settings

    locations = [versions] if isinstance(versions, Path) else list(versions)
    env = Environment(
        name="test",
        kind="versions",
        config_path=None,
        section=None,
        script_location=locations[0].parent,
        version_locations=tuple(VersionLocation(p, True, None) for p in locations),
        recursive=recursive,
        sourceless=False,
        options={},
        toml_path=None,
        problems=(),
    )
    return check_environment(env, settings if settings is not None else Settings(), locations[0].parent)

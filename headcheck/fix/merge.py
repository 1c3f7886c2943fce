"""Write the merge revision ``alembic merge heads`` would write, without importing anything.

Mirrors ``alembic.command.merge`` -> ``ScriptDirectory.generate_revision``: the project's own
``script.py.mako`` rendered with Mako (``up_revision``, ``down_revision`` = the heads,
``branch_labels``, ``depends_on``, ``create_date``, ``comma``, ``message``, ``config``), the file
name from ``file_template`` (``rev``, ``slug``, ``epoch``, ``year`` ... ``second``; the slug cut at
``truncate_slug_length``), ``timezone`` and ``output_encoding`` honoured, then the project's
``post_write_hooks`` run on the new file (see :mod:`headcheck.fix.hooks`).

Differences, on purpose: the heads merged are the ones ``alembic upgrade head`` counts
(``get_heads()``); Alembic's ``merge heads`` takes ``_real_heads`` (they differ only when a head is
tied to another by ``depends_on``). ``revision_environment = true`` would make Alembic run
``env.py``; headcheck never does.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from headcheck.config import Environment
from headcheck.fix import FixError, heads_to_fix, write_revision_file
from headcheck.gate import EnvironmentResult
from headcheck.records import as_scalar, illegal_chars, revision_node
from headcheck.scan import parse_revision

__all__ = ["MergeRevision", "file_name", "merge_heads"]

_SLUG = re.compile(r"\w+")  # alembic.script.base._slug_re
_DEFAULT_FILE_TEMPLATE = "%(rev)s_%(slug)s"


class MergeRevision(NamedTuple):
    path: Path
    revision: str
    heads: tuple[str, ...]  # the new revision's down_revision


def comma(value: str | Iterable[str] | None) -> str:
    """``alembic.util.format_as_comma``, the template's ``comma`` filter."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return ", ".join(value)


def create_date(timezone: str | None) -> datetime.datetime:
    """``ScriptDirectory._generate_create_date``: local naive time, or aware in ``timezone``."""
    if timezone is None:
        return datetime.datetime.now()
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for name in (timezone, timezone.upper()):
        try:
            return datetime.datetime.now(tz=datetime.UTC).astimezone(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    raise FixError(f"Can't locate timezone: {timezone}")


def file_name(template: str, rev: str, message: str | None, when: datetime.datetime, truncate: int) -> str:
    """``ScriptDirectory._rev_path``: the file name (may hold folders) for a new revision."""
    slug = "_".join(_SLUG.findall(message or "")).lower()
    if len(slug) > truncate:
        slug = slug[:truncate].rsplit("_", 1)[0] + "_"
    values = {
        "rev": rev,
        "slug": slug,
        "epoch": int(when.timestamp()),
        "year": when.year,
        "month": when.month,
        "day": when.day,
        "hour": when.hour,
        "minute": when.minute,
        "second": when.second,
    }
    try:
        return f"{template % values}.py"
    except (KeyError, ValueError, TypeError) as exc:
        raise FixError(f"file_template {template!r} cannot be filled: {exc}") from None


def _truncate(options: dict[str, Any]) -> int:
    raw = options.get("truncate_slug_length")
    if raw is None or raw == "":
        return 40
    try:
        return int(raw) or 40
    except (TypeError, ValueError):
        raise FixError(f"truncate_slug_length must be an integer, got {raw!r}") from None


def _alembic_config(env: Environment) -> Any:
    """An ``alembic.config.Config`` for templates that read ``config`` (None without alembic).

    Building one reads the ini/TOML file only; it never runs ``env.py``.
    """
    try:
        from alembic.config import Config
    except ImportError:
        return None
    ini = env.config_path if env.config_path is not None and env.config_path.suffix != ".toml" else None
    try:
        config = Config(file_=ini, ini_section=env.section or "alembic", toml_file=env.toml_path)
        if env.kind in ("flask", "versions"):
            config.set_main_option("script_location", str(env.script_location))
    except Exception:  # a template that needs config will say so when rendering
        return None
    return config


def _version_folder(env: Environment, result: EnvironmentResult, heads: list[int]) -> Path:
    """Where Alembic puts the new file: the only location, or the first head's folder."""
    locations = env.versions_dirs
    if not locations:
        raise FixError("the environment has no version location")
    if len(locations) > 1:
        return result.node_files[heads[0]].path.parent.absolute()
    return locations[0]


def render(template: Path, values: dict[str, Any], encoding: str) -> bytes:
    """Render ``script.py.mako`` as ``alembic.util.template_to_file`` does."""
    from mako.template import Template  # missing: the CLI names the 'fix' extra (exit 2)

    try:
        text = Template(filename=str(template)).render_unicode(**values)
    except Exception as exc:  # Mako raises anything the template raises
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FixError(f"{template}: template rendering failed: {type(exc).__name__}: {first}") from None
    try:
        return str(text).encode(encoding)
    except (LookupError, UnicodeEncodeError) as exc:
        raise FixError(f"output_encoding {encoding!r}: {exc}") from None


def merge_heads(
    env: Environment,
    result: EnvironmentResult,
    *,
    message: str | None,
    rev_id: str | None = None,
) -> MergeRevision:
    """Write the merge revision for the environment's heads; return where and what.

    Refuses (FixError) with fewer than two heads, or when the history has other errors a merge
    cannot fix (a dangling down_revision, a duplicate id, an unreadable file, ...).
    """
    graph = result.graph
    heads = heads_to_fix(result, "merge")
    head_ids = tuple(graph.nodes[h].revision for h in heads)
    revision = rev_id or uuid.uuid4().hex[-12:]  # alembic.util.rev_id
    if illegal_chars(revision) or revision in graph.by_id:
        raise FixError(f"revision id {revision!r} is not allowed or already used")
    template = env.script_location / "script.py.mako"
    if not template.is_file():
        raise FixError(f"{template} does not exist; Alembic renders new revisions from it")
    options = env.options
    when = create_date(options.get("timezone") or None)
    folder = _version_folder(env, result, heads)
    template_text = options.get("file_template") or _DEFAULT_FILE_TEMPLATE
    path = folder / file_name(str(template_text), revision, message, when, _truncate(options))
    if path.exists():
        raise FixError(f"{path} already exists")
    encoding = str(options.get("output_encoding") or "utf-8")
    data = render(
        template,
        {
            "up_revision": revision,
            "down_revision": as_scalar(head_ids),
            "branch_labels": None,  # util.to_tuple(None) is None
            "depends_on": None,
            "create_date": when,
            "comma": comma,
            "message": message if message is not None else "empty message",
            "config": _alembic_config(env),
        },
        encoding,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FixError(f"{path.parent}: cannot create: {exc.strerror or exc}") from None
    write_revision_file(path, data, new=True)
    return MergeRevision(path, revision, head_ids)


def verify(written: MergeRevision) -> str | None:
    """Read the written file back as Alembic would; a problem in one line, or None."""
    try:
        data = written.path.read_bytes()
    except OSError as exc:
        return f"{written.path}: cannot read back: {exc.strerror or exc}"
    node, issues = revision_node(parse_revision(written.path, data))
    if node is None:
        reason = issues[0].message if issues else "unreadable"
        return f"{written.path}: the written file does not read back as a revision: {reason}"
    if node.revision != written.revision or set(node.down) != set(written.heads):
        return (
            f"{written.path}: script.py.mako wrote revision {node.revision} revising {', '.join(node.down) or 'None'}, "
            f"expected {written.revision} revising {', '.join(written.heads)}"
        )
    return None

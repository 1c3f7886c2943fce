"""The static gate: config -> scan -> graph -> findings, for every environment under a root."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from headcheck.config import Environment, EnvironmentSelection, find_environments
from headcheck.fs import is_dir
from headcheck.limits import shorten
from headcheck.scan import RevisionFile, Scan, Value
from headcheck.settings import Settings
from headcheck.source import FileIssue
from headcheck.version_files import list_revision_paths

if TYPE_CHECKING:
    from headcheck.findings import Finding
    from headcheck.graph import Graph

__all__ = ["EnvironmentResult", "GateResult", "check_environment", "check_scan", "run_gate"]


class EnvironmentResult(NamedTuple):
    environment: Environment
    scan: Scan
    graph: Graph
    node_files: tuple[RevisionFile, ...]  # node i of the graph was read from node_files[i]
    findings: tuple[Finding, ...]

    def failed(self, settings: Settings) -> bool:
        return any(settings.gate_severity(f.severity) == "error" for f in self.findings)

    @property
    def heads(self) -> list[str]:
        """What ``alembic heads`` prints, in its order (phantom duplicates included)."""
        return self.graph.ids(self.graph.heads)

    @property
    def revision_count(self) -> int:
        """Revisions as Alembic counts them: a duplicated id once (the last file wins)."""
        return len(self.graph.by_id)

    @property
    def file_count(self) -> int:
        """Revision files read (duplicates and unloadable files included)."""
        return len(self.scan.files)

    @property
    def bases(self) -> list[str]:
        return self.graph.ids(self.graph.bases)


class GateResult(NamedTuple):
    root: Path
    settings: Settings
    environments: tuple[EnvironmentResult, ...]

    @property
    def ok(self) -> bool:
        return not any(env.failed(self.settings) for env in self.environments)


def check_environment(
    env: Environment, settings: Settings, root: Path, cache_dir: Path | None = None
) -> EnvironmentResult:
    """Scan the environment's version locations from disk and check them.

    Many files are parsed on every core; with ``cache_dir``, parsed files are cached by content
    hash (see headcheck.parse_cache). What checks them is imported while the other core parses.
    """
    from headcheck.parse_cache import read_revisions

    paths, twice, ignored, missing = list_revision_paths(env.versions_dirs, env.recursive)
    files = read_revisions(paths, cache_dir, settings.python, meanwhile=_import_checks)
    scan = Scan(tuple(files), tuple(twice), tuple(ignored), tuple(missing))
    return check_scan(env, scan, settings, root)


def _import_checks() -> None:
    import headcheck.findings  # noqa: F401  (graph, heads, records: the rest of the gate)


def check_scan(env: Environment, scan: Scan, settings: Settings, root: Path) -> EnvironmentResult:
    """Check already-read revision files (from disk, or assembled from git by ``--base``)."""
    from headcheck.findings import check
    from headcheck.graph import build
    from headcheck.records import revision_node

    if any(rf.names is not None for rf in scan.files):
        scan = scan._replace(files=resolve_constants(env, scan.files, settings, root))
    nodes = []
    node_files: list[int] = []
    issues: list[list[FileIssue]] = []
    for k, rf in enumerate(scan.files):
        node, file_issues = revision_node(rf)
        issues.append(file_issues)
        if node is not None:
            nodes.append(node)
            node_files.append(k)
    graph = build(nodes)
    findings = check(env, scan, scan.files, issues, graph, node_files, settings, root)
    return EnvironmentResult(env, scan, graph, tuple(scan.files[k] for k in node_files), tuple(findings))


def resolve_constants(
    env: Environment, files: tuple[RevisionFile, ...], settings: Settings, root: Path
) -> tuple[RevisionFile, ...]:
    """Revision values bound to module constants, resolved without importing (headcheck.constants).

    Modules are looked up in the project (the checked folder and its ``src/``, the config
    file's folder, ``prepend_sys_path``), then on the running interpreter's ``sys.path``.
    """
    from headcheck.alembic_options import search_path
    from headcheck.constants import Resolver, Unresolved

    roots = [root, root / "src"]
    if env.config_path is not None:
        roots.append(env.config_path.parent)
    roots += [Path(entry) for entry in search_path(env.options.get("prepend_sys_path"), Path.cwd())]
    resolver = Resolver(roots, dict(settings.constants))
    resolved = []
    for rf in files:
        if rf.names is None:
            resolved.append(rf)
            continue
        values = dict(rf.values)
        for name, value in rf.values.items():
            if value.literal or value.ref is None or value.ref[0] == "why":
                continue
            try:
                literal = resolver.resolve(value.ref, rf.names, f"{rf.path.name}")
            except Unresolved as exc:
                values[name] = value._replace(ref=("why", shorten(str(exc), 300)))
                continue
            values[name] = Value(literal, value.line, True, shorten(repr(literal)))
        resolved.append(rf._replace(values=values))
    return tuple(resolved)


def run_gate(
    root: Path,
    settings: Settings,
    selection: EnvironmentSelection | None = None,
    *,
    cache_dir: Path | None = None,
) -> GateResult:
    """Check every environment ``selection`` picks (all of them by default) under ``root``.
    Raises ConfigError (exit 2) for unusable input."""
    environments = find_environments(root, selection or EnvironmentSelection())
    base = root if is_dir(root) else root.parent
    import gc

    # Records, syntax trees and graphs hold no reference cycles to collect; the collector would only
    # walk them over and over (about 100 ms of a cold run at 5,000 revisions, in each process).
    collecting = gc.isenabled()
    gc.disable()
    try:
        results = tuple(check_environment(env, settings, base.absolute(), cache_dir) for env in environments)
    finally:
        if collecting:
            gc.enable()
    return GateResult(base.absolute(), settings, results)

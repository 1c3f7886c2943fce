"""``headcheck envs [PATH]``: list environments (JSON feeds a CI matrix)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from headcheck.commands.common import EXIT_OK, add_environment_arguments, error, selection_from
from headcheck.config import ConfigError, find_environments
from headcheck.findings import relpath
from headcheck.logsafe import json_document, line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_environment_arguments(parser)
    parser.add_argument("--format", "-f", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    root = Path(args.path)
    try:
        environments = find_environments(root, selection_from(args))
    except ConfigError as exc:
        return error(str(exc))
    base = (root if root.is_dir() else root.parent).absolute()
    rows: list[dict[str, Any]] = [
        {
            "name": env.name,
            "kind": env.kind,
            "config": relpath(env.config_path, base),
            "section": env.section,
            "script_location": relpath(env.script_location, base),
            "version_locations": [relpath(p, base) for p in env.versions_dirs],
            "recursive": env.recursive,
        }
        for env in environments
    ]
    if args.format == "json":
        print(json_document(json.dumps({"version": 1, "environments": rows}, indent=2)))
    else:
        for row in rows:
            config = f"{row['config']} [{row['section']}]" if row["section"] else (row["config"] or "-")
            print(line(f"{row['name']}\t{row['kind']}\t{config}\t{', '.join(row['version_locations'])}"))
    return EXIT_OK

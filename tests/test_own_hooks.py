"""headcheck's own .pre-commit-config.yaml: its isolated environments get the versions CI tests with."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_every_hook_dependency_is_pinned_as_in_constraints() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    pins = _pins()
    checked = 0
    for repo in config["repos"]:
        for hook in repo["hooks"]:
            for requirement in hook.get("additional_dependencies", []):
                name, sep, version = requirement.partition("==")
                assert sep, f"{hook['id']}: {requirement} is not pinned"
                key = re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()
                assert pins.get(key) == version, f"{hook['id']}: {requirement} but constraints.txt has {pins.get(key)}"
                checked += 1
    assert checked >= 3


def _imported_top_level_names(folders: list[Path]) -> set[str]:
    """Every module imported (at any depth of the code, strings excluded) by the files under ``folders``."""
    names: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_bytes())):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names


def test_mypy_hook_can_import_what_the_code_and_tests_import() -> None:
    """Strict mypy in an isolated environment fails on a missing package: every third-party import
    of the files mypy checks (pyproject's [tool.mypy] files) must come with the hook, unless
    pyproject tells mypy to ignore the missing module."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (mypy,) = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "mypy"]
    installed = {_key(dep.split("==")[0].split("[")[0]) for dep in mypy["additional_dependencies"]}
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    ignored = {
        pattern.split(".")[0]
        for override in settings.get("overrides", [])
        if override.get("ignore_missing_imports")
        for pattern in override["module"]
    }
    imported = _imported_top_level_names([ROOT / folder for folder in settings["files"]])
    third_party = imported - set(sys.stdlib_module_names) - {"headcheck", "tests", "__future__"} - ignored
    distributions = packages_distributions()
    missing = {
        name: distributions.get(name)
        for name in third_party
        if not {_key(dist) for dist in distributions.get(name, [name])} & installed
    }
    assert missing == {}, f"add these (pinned as in constraints.txt) to the mypy hook: {missing}"


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

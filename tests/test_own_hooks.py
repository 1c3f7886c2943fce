"""headcheck's own .pre-commit-config.yaml: its isolated environments get the versions CI tests with."""

from __future__ import annotations

import re
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


def test_mypy_hook_can_import_what_the_code_imports() -> None:
    """Strict mypy in an isolated environment fails on a missing package: list every third-party import."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (mypy,) = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "mypy"]
    installed = {
        re.sub(r"[-_.]+", "-", dep.split("==")[0].split("[")[0]).lower() for dep in mypy["additional_dependencies"]
    }
    imported: set[str] = set()
    for path in (ROOT / "headcheck").rglob("*.py"):
        imported.update(
            re.findall(
                r"^\s*(?:from|import) (alembic|sqlalchemy|psycopg|pytest_postgresql|mako)\b", path.read_text(), re.M
            )
        )
    distributions = {"pytest_postgresql": "pytest-postgresql"}
    assert {distributions.get(name, name) for name in imported} <= installed

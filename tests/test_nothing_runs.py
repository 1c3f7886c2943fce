"""The static gate never executes anything from the checked repository.

Each project holds revision files (and an env.py, a versions/__init__.py and an importable helper
module) whose import-time side effects are loud: write a marker file, ``sys.exit(3)``,
``os._exit(7)``. Real Alembic loading the same project proves the side effects fire (so these
tests can fail); ``headcheck`` on it must leave no marker and exit with its own verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.history_builder import Rev, gate, render, write_history, write_ini

REPO = Path(__file__).resolve().parents[1]


def _side_effect(kind: str, marker: Path) -> str:
    write = f"open({str(marker)!r}, 'w').write('executed')\n"
    if kind == "write":
        return write
    if kind == "sys.exit":
        return f"{write}import sys\nsys.exit(3)\n"
    if kind == "os._exit":
        return f"{write}import os\nos._exit(7)\n"
    if kind == "import":
        return "import headcheck_evil_helper  # noqa: F401\n"
    raise ValueError(kind)


def make_project(root: Path, kind: str, marker: Path) -> Path:
    """alembic.ini + alembic/{env.py, versions/}: aaaa1 <- bbbb2, where bbbb2 has the side effect."""
    write_ini(root)
    script = root / "alembic"
    versions = script / "versions"
    write_history(versions, [Rev("aaaa1", None, style="typed")])
    source = render(Rev("bbbb2", "aaaa1", style="typed"))
    # The side effect sits between the imports and the identifiers, as a careless edit would.
    head, _, tail = source.partition("# revision identifiers, used by Alembic.")
    (versions / "bbbb2_side_effect.py").write_text(
        head + _side_effect(kind, marker) + "# revision identifiers, used by Alembic." + tail, encoding="utf-8"
    )
    (root / "headcheck_evil_helper.py").write_text(_side_effect("write", marker), encoding="utf-8")
    (script / "env.py").write_text(_side_effect("sys.exit", marker), encoding="utf-8")
    (versions / "__init__.py").write_text(_side_effect("os._exit", marker), encoding="utf-8")
    return versions


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


ALEMBIC_HEADS = (
    "import sys; sys.path.insert(0, '.')\n"
    "from alembic.config import Config\n"
    "from alembic.script import ScriptDirectory\n"
    "print(ScriptDirectory.from_config(Config('alembic.ini')).get_heads())\n"
)

KINDS = ["write", "sys.exit", "os._exit", "import"]
ALEMBIC_EXIT = {"write": 0, "sys.exit": 3, "os._exit": 7, "import": 0}


@pytest.mark.parametrize("kind", KINDS)
def test_alembic_really_runs_the_side_effect(tmp_path: Path, kind: str) -> None:
    """The control: Alembic executes revision files, so the marker appears / the exit code changes."""
    marker = tmp_path / "marker"
    make_project(tmp_path, kind, marker)
    proc = run([sys.executable, "-c", ALEMBIC_HEADS], tmp_path)
    assert marker.exists(), proc.stderr
    assert proc.returncode == ALEMBIC_EXIT[kind], proc.stderr


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_gate_does_not_execute_revision_files(tmp_path: Path, kind: str, fmt: str) -> None:
    marker = tmp_path / "marker"
    make_project(tmp_path, kind, marker)
    proc = run([sys.executable, "-m", "headcheck", ".", "--format", fmt], tmp_path)
    assert not marker.exists(), "headcheck executed code from the checked repository"
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the gate's own verdict: one head, clean
    if fmt == "json":
        (env,) = json.loads(proc.stdout)["environments"]
        assert env["heads"] == ["bbbb2"]
    else:
        assert "bbbb2" in proc.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_gate_verdict_is_its_own_on_a_failing_history(tmp_path: Path, kind: str) -> None:
    """With a second head the gate exits 1: neither 3 nor 7 from the revision file's sys.exit."""
    marker = tmp_path / "marker"
    versions = make_project(tmp_path, kind, marker)
    write_history(versions, [Rev("cccc3", "aaaa1")])
    proc = run([sys.executable, "-m", "headcheck", "."], tmp_path)
    assert not marker.exists()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "HC101" in proc.stdout


def test_envs_command_does_not_execute_env_py(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    make_project(tmp_path, "sys.exit", marker)
    proc = run([sys.executable, "-m", "headcheck", "envs", ".", "--format", "json"], tmp_path)
    assert not marker.exists()
    assert proc.returncode == 0, proc.stderr


def test_in_process_gate_does_not_execute(tmp_path: Path) -> None:
    """In-process too: a sys.exit in the file would raise SystemExit out of the gate."""
    marker = tmp_path / "marker"
    versions = make_project(tmp_path, "sys.exit", marker)
    result = gate(versions)
    assert not marker.exists()
    assert result.heads == ["bbbb2"]
    assert not [f for f in result.findings if f.severity == "error"]

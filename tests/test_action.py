"""``headcheck action``: the Docker action's entry point under GitHub's contract.

In-process tests drive ``main(["action"])`` with the variables the runner sets. The container
test builds what the Dockerfile builds, without Docker (no engine here): the Dockerfile's build
context (after .dockerignore) is copied, its ``pip install`` line is run in a fresh venv, and
its ENTRYPOINT is run as root with ``GITHUB_WORKSPACE``/``GITHUB_OUTPUT``/``GITHUB_STEP_SUMMARY``
and ``INPUT_*`` (hyphens kept, empty strings for inputs left out) on the example projects.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from headcheck.cli import COMMANDS, main
from tests.git_project import git
from tests.github_runner import parse_commands, parse_output_file
from tests.project import revision_file, write_project

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Every input of action.yml, as the runner passes them when the workflow sets none of them:
# the action.yml defaults, or "" where there is none.
DEFAULT_INPUTS = {
    "INPUT_PATH": ".",
    "INPUT_CONFIG": "",
    "INPUT_NAME": "",
    "INPUT_BASE": "",
    "INPUT_DATABASE": "none",
    "INPUT_DATABASE-URL": "",
    "INPUT_STAIRWAY": "false",
    "INPUT_FAIL-ON": "error",
    "INPUT_SARIF": "",
    "INPUT_REPORT": "headcheck-report.json",
    "INPUT_IGNORE": "",
    "INPUT_SUMMARY": "true",
    "INPUT_ANNOTATIONS": "true",
}


class Run:
    def __init__(self, code: int, out: str, err: str, workspace: Path, files: Path) -> None:
        self.code, self.out, self.err, self.workspace = code, out, err, workspace
        self.outputs = parse_output_file(files / "output") if (files / "output").stat().st_size else {}
        self.summary = (files / "summary.md").read_text(encoding="utf-8")
        self.commands = parse_commands(out)


def _github_env(workspace: Path, files: Path, inputs: dict[str, str]) -> dict[str, str]:
    files.mkdir(parents=True, exist_ok=True)
    for name in ("output", "summary.md"):
        (files / name).write_text("", encoding="utf-8")
    return {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(files / "output"),
        "GITHUB_STEP_SUMMARY": str(files / "summary.md"),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_SHA": "0123abc",
        **DEFAULT_INPUTS,
        **inputs,
    }


@pytest.fixture
def action(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run ``headcheck action`` in-process with a workspace holding ``example`` (or an existing tree)."""

    git_config = {
        key: os.environ.get(key)
        for key in ["GIT_CONFIG_COUNT", *(f"GIT_CONFIG_{kind}_{k}" for kind in ("KEY", "VALUE") for k in range(4))]
    }
    for key, value in git_config.items():  # registered with monkeypatch, so restored after the test
        monkeypatch.setenv(key, value or "-")
        if value is None:
            monkeypatch.delenv(key)

    def run(example: str | None = None, **inputs: str) -> Run:
        workspace = tmp_path / "workspace"
        if example is not None:
            shutil.copytree(EXAMPLES / example, workspace)
        env = _github_env(workspace, tmp_path / "file_commands", inputs)
        for key in [k for k in os.environ if k.startswith("INPUT_")]:
            monkeypatch.delenv(key)
        # The action adds safe.directory to os.environ for its git children: start each run without it.
        for key, value in git_config.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(workspace)  # the runner's --workdir
        code = main(["action"])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err, workspace, tmp_path / "file_commands")

    return run


def test_clean_history_passes_with_outputs_and_summary(action: Any) -> None:
    run = action("clean")
    assert run.code == 0
    assert run.commands == []
    assert run.outputs == {
        "ok": "true",
        "heads": '["3c4d5e6f7081"]',
        "heads-by-environment": '{"alembic": ["3c4d5e6f7081"]}',
        "report": "headcheck-report.json",
        "sarif": "",
    }
    report = json.loads((run.workspace / "headcheck-report.json").read_text())
    assert report["ok"] is True
    assert report["environments"][0]["heads"] == ["3c4d5e6f7081"]
    assert run.summary.startswith("## ✅ headcheck: passed")


def test_two_heads_fails_with_an_annotation_summary_and_outputs(action: Any) -> None:
    run = action("two-heads", INPUT_SARIF="reports/headcheck.sarif")
    assert run.code == 1
    (command,) = run.commands
    assert command.kind == "error"
    assert command.properties["file"] == "alembic/versions/4d5e6f708192_add_users_phone.py"
    assert command.properties["line"] == "16"
    assert json.loads(run.outputs["heads"]) == ["3c4d5e6f7081", "4d5e6f708192"]
    assert run.outputs["ok"] == "false"
    assert run.outputs["sarif"] == "reports/headcheck.sarif"
    sarif = json.loads((run.workspace / "reports" / "headcheck.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "HC101"
    assert "```mermaid" in run.summary
    assert "the fork and its heads" in run.summary
    assert (
        "](https://github.com/acme/shop/blob/0123abc/alembic/versions/4d5e6f708192_add_users_phone.py#L16)"
        in run.summary
    )


def test_dangling_reference(action: Any) -> None:
    run = action("dangling")
    assert run.code == 1
    assert [c.properties["title"] for c in run.commands] == ["HC102 dangling-down-revision"]
    assert "the dangling reference" in run.summary


def test_path_input_and_workspace_relative_locations(action: Any, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLES / "two-heads", workspace / "services" / "api")
    run = action(None, INPUT_PATH="services/api", INPUT_REPORT="")
    assert run.code == 1
    assert run.commands[0].properties["file"] == "services/api/alembic/versions/4d5e6f708192_add_users_phone.py"
    assert run.outputs["report"] == ""
    assert not (workspace / "headcheck-report.json").exists()


def test_the_matrix_recipe_checks_one_environment_per_job(
    action: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/github/matrix.yml: `headcheck envs --format json` rows feed `config` and `name`."""
    workspace = tmp_path / "workspace"
    for example in ("clean", "two-heads"):
        shutil.copytree(EXAMPLES / example, workspace / example)
    assert main(["envs", "--format", "json", str(workspace)]) == 0
    rows = [
        {k: env[k] for k in ("name", "config", "section")}
        for env in json.loads(capsys.readouterr().out)["environments"]
    ]
    codes = {}
    for row in rows:
        run = action(None, INPUT_CONFIG=row["config"] or "", INPUT_NAME=row["section"] or "")
        report = json.loads((workspace / "headcheck-report.json").read_text())
        assert [env["config"] for env in report["environments"]] == [row["config"]]
        codes[row["config"]] = run.code
    assert codes == {"clean/alembic.ini": 0, "two-heads/alembic.ini": 1}


def test_fail_on_warning_makes_warnings_fail(action: Any, tmp_path: Path) -> None:
    text = revision_file("b2", "a1").replace("Revises: a1", "Revises: zz")
    write_project(tmp_path / "workspace", {"a1_first.py": ("a1", None), "b2_second.py": text})
    assert action(None).code == 0
    strict = action(None, **{"INPUT_FAIL-ON": "warning"})
    assert strict.code == 1
    assert [c.kind for c in strict.commands] == ["error"]


def test_annotations_and_summary_can_be_switched_off(action: Any) -> None:
    run = action("two-heads", INPUT_ANNOTATIONS="false", INPUT_SUMMARY="false")
    assert run.code == 1
    assert run.commands == []
    assert run.summary == ""
    assert run.outputs["ok"] == "false"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"INPUT_DATABASE": "mysql"}, "input 'database' must be none, postgres, mariadb or sqlite"),
        ({"INPUT_FAIL-ON": "info"}, "input 'fail-on' must be error or warning"),
        ({"INPUT_STAIRWAY": "yes"}, "input 'stairway' must be true or false"),
        ({"INPUT_PATH": "../elsewhere"}, "input 'path' must stay inside the workspace"),
        ({"INPUT_PATH": "nope"}, "input 'path': nope does not exist"),
        (
            {"INPUT_DATABASE-URL": "postgresql://x/y"},
            "input 'database-url' needs 'database: postgres' or 'database: mariadb'",
        ),
        ({"INPUT_IGNORE": "HC999"}, "unknown rule code(s): HC999"),
    ],
)
def test_bad_inputs_exit_2_with_an_error_annotation(action: Any, inputs: dict[str, str], message: str) -> None:
    run = action("clean", **inputs)
    assert run.code == 2
    (command,) = run.commands
    assert command.kind == "error"
    assert message in command.message
    assert message in run.err
    assert "Traceback" not in run.err
    assert run.outputs == {}


def test_database_proof_is_skipped_when_the_static_gate_fails(action: Any) -> None:
    run = action("two-heads", INPUT_DATABASE="postgres")
    assert run.code == 1
    assert "The database proof was skipped" in run.summary


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="GitHub runs Docker actions as root")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_base_checks_the_merged_history_in_a_workspace_owned_by_another_user(
    action: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """main gained 3c4d…, the branch added 4d5e… on the same parent: one head each, two after the merge.

    The checkout belongs to another uid (the runner's) and HOME has no gitconfig, as in the
    container, so git works only because the action trusts the workspace through its environment.
    """
    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLES / "two-heads", workspace)
    versions = workspace / "alembic" / "versions"
    theirs, ours = versions / "3c4d5e6f7081_create_orders.py", versions / "4d5e6f708192_add_users_phone.py"
    aside = tmp_path / "aside"
    aside.mkdir()
    shutil.move(theirs, aside / theirs.name)
    shutil.move(ours, aside / ours.name)
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "base")
    git(workspace, "checkout", "-q", "-b", "feature")
    shutil.copy(aside / ours.name, ours)
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "add users phone")
    git(workspace, "checkout", "-q", "main")
    shutil.copy(aside / theirs.name, theirs)
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "create orders")
    git(workspace, "checkout", "-q", "feature")
    for dirpath, _, filenames in os.walk(workspace):
        os.chown(dirpath, 1001, 1001)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), 1001, 1001)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_COUNT", raising=False)

    plain = subprocess.run(["git", "status"], cwd=workspace, capture_output=True, text=True)
    assert plain.returncode != 0
    assert "dubious ownership" in plain.stderr
    alone = action(None)  # the branch by itself has one head
    assert alone.code == 0
    merged = action(None, INPUT_BASE="main")
    assert merged.code == 1, merged.err
    assert json.loads(merged.outputs["heads"]) == ["3c4d5e6f7081", "4d5e6f708192"]
    assert [c.properties["title"] for c in merged.commands] == ["HC101 multiple-heads"]
    assert "checking the history after merging into main" in merged.summary


def _have_postgres() -> bool:
    return shutil.which("pg_ctl") is not None or any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))


needs_postgres = pytest.mark.skipif(
    not _have_postgres() or "db" not in COMMANDS, reason="needs the PostgreSQL server binaries and `headcheck db`"
)


@needs_postgres
def test_database_proof_runs_and_its_timings_reach_the_summary(action: Any) -> None:
    run = action("clean", INPUT_DATABASE="postgres", INPUT_STAIRWAY="true")
    assert run.code == 0, run.err
    assert run.outputs["ok"] == "true"
    report = json.loads((run.workspace / "headcheck-report.json").read_text())
    database = report["environments"][0]["database"]
    assert database["ok"] is True
    assert database["steps"]
    assert "**Database proof** ✅: PostgreSQL " in run.summary
    assert "| upgrade | `1a2b3c4d5e6f` |" in run.summary
    assert "Slowest migrations: " in run.summary


@needs_postgres
def test_a_failing_migration_fails_the_action(action: Any) -> None:
    run = action("db/broken-upgrade", INPUT_DATABASE="postgres")
    assert run.code == 1
    assert run.outputs["ok"] == "false"
    (command,) = [c for c in run.commands if c.properties.get("title", "").startswith("headcheck db")]
    assert command.kind == "error"
    assert command.properties["title"] == "headcheck db: upgrade b2c3d4e5f6a7 failed"
    assert command.properties["file"] == "migrations/versions/b2c3d4e5f6a7_add_users_name.py"
    assert command.properties["line"] == "20"  # the failing op.add_column line, from the traceback
    assert 'relation "user" does not exist' in command.message
    assert "**Database proof** ❌" in run.summary
    assert "migrations: database proof failed: " in run.out  # the log says it too
    assert "❌" in run.summary.split("| step | revision | time | result |", 1)[1]


@needs_postgres
def test_the_proofs_lock_findings_and_sql_reach_annotations_summary_and_fail_on(action: Any) -> None:
    """The proof's findings (HC6xx) are findings like the static gate's: annotated at the op.* line,
    in the summary with each revision's SQL, and failing the action under ``fail-on: warning``."""
    run = action("db/clean", INPUT_DATABASE="postgres")
    assert run.code == 0, run.err
    locks = [c for c in run.commands if c.properties.get("title") == "HC601 blocking-lock"]
    assert [(c.kind, c.properties["file"], c.properties["line"]) for c in locks] == [
        ("warning", "migrations/versions/b2c3d4e5f6a7_add_users_name.py", "20"),
        ("warning", "migrations/versions/c3d4e5f6a7b8_create_orders.py", "20"),
    ]
    assert "`HC601` blocking-lock" in run.summary
    assert "<details><summary>SQL of <code>c3d4e5f6a7b8</code>: 1 upgrade, 1 downgrade statement(s)" in run.summary
    assert "ALTER TABLE users ADD COLUMN name VARCHAR(100)" in run.summary
    report = json.loads((run.workspace / "headcheck-report.json").read_text())
    assert "HC601" in {f["code"] for f in report["environments"][0]["findings"]}
    strict = action(None, INPUT_DATABASE="postgres", **{"INPUT_FAIL-ON": "warning"})  # the same workspace
    assert strict.code == 1
    assert strict.outputs["ok"] == "false"
    ignored = action(None, INPUT_DATABASE="postgres", INPUT_IGNORE="HC601,HC603,HC606,HC607,HC611,HC620")
    assert not [c for c in ignored.commands if c.properties.get("title", "").startswith("HC6")], ignored.out


@needs_postgres
def test_the_base_input_makes_the_database_proof_judge_the_pull_requests_revisions(action: Any, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLES / "clean", workspace)
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "base")
    git(workspace, "checkout", "-q", "-b", "feature")
    versions = workspace / "alembic" / "versions"
    revision = 'from alembic import op\n\nrevision = "{rev}"\ndown_revision = "{down}"\n\n\n'
    (versions / "4d5e6f708192_orders_note.py").write_text(  # its downgrade forgets the column
        revision.format(rev="4d5e6f708192", down="3c4d5e6f7081")
        + 'def upgrade() -> None:\n    op.execute("ALTER TABLE orders ADD COLUMN note text")\n\n\n'
        + "def downgrade() -> None:\n    pass\n"
    )
    (versions / "5e6f70819203_empty.py").write_text(  # the head: a plain `headcheck db` undoes this one only
        revision.format(rev="5e6f70819203", down="4d5e6f708192")
        + "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "add orders note")
    run = action(None, INPUT_DATABASE="postgres", INPUT_BASE="main")
    assert run.code == 1, run.err
    steps = json.loads((workspace / "headcheck-report.json").read_text())["environments"][0]["database"]["steps"]
    assert [(s["name"], s["revision"], s["ok"]) for s in steps if s["name"] == "downgrade"] == [
        ("downgrade", "4d5e6f708192", False)
    ]


@needs_postgres
def test_an_unreachable_database_url_is_a_clear_error_without_the_password(action: Any) -> None:
    url = "postgresql://ci:s3cret@127.0.0.1:1/none"
    run = action("clean", INPUT_DATABASE="postgres", **{"INPUT_DATABASE-URL": url})
    assert run.code == 2
    (command,) = run.commands
    assert command.kind == "error"
    assert command.message.startswith("database proof: cannot connect to")
    assert "s3cret" not in run.out + run.err
    assert "ci:***@127.0.0.1" in command.message
    assert run.err.count("cannot connect") == 1
    assert "Traceback" not in run.err


# --- the container, built without Docker ------------------------------------------------------


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _build_context(dest: Path) -> Path:
    """Copy the Docker build context as .dockerignore filters it (``*`` then ``!`` exceptions)."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    import fnmatch

    def ignored(relative: str) -> bool:
        verdict = False
        parts = relative.split("/")
        for include, pattern in rules:
            pattern = pattern.removeprefix("**/")
            hit = any(fnmatch.fnmatch("/".join(parts[: k + 1]), pattern) for k in range(len(parts)))
            hit = hit or any(
                fnmatch.fnmatch(part, pattern)
                for part in parts
                if "/" not in pattern and "*" in pattern and pattern != "*"
            )
            if hit:
                verdict = not include
        return verdict

    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(".git/") or relative == ".git" or not path.is_file() or ignored(relative):
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding what the Dockerfile's ``pip install`` line installs; returns its bin folder.

    Offline-fast on purpose: ``--system-site-packages`` plus ``--no-deps`` reuse the dependencies
    already installed here instead of downloading them (the image resolves them from PyPI); the
    package itself is built from the filtered build context exactly as the Dockerfile names it.
    """
    base = tmp_path_factory.mktemp("image")
    context = _build_context(base / "src")
    assert {"headcheck", "pyproject.toml", "README.md"} <= {p.name for p in context.iterdir()}
    assert not (context / "tests").exists()
    assert not (context / "examples").exists()
    match = re.search(r'^RUN pip install --no-cache-dir "(?P<src>[^"\[]+)\[postgres,mysql\]"', _dockerfile(), re.M)
    assert match, "the Dockerfile's pip install line changed; update this test"
    venv.EnvBuilder(with_pip=False, system_site_packages=True).create(base / "venv")
    python = base / "venv" / "bin" / "python"
    # This interpreter's pip installs into the venv (--python): no ensurepip, seconds saved.
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-cache-dir", "--no-deps"]
    install.append(f"{context}[postgres,mysql]")
    result = subprocess.run(install, capture_output=True, text=True, cwd=base)
    assert result.returncode == 0, result.stderr
    where = subprocess.run(
        [str(python), "-c", "import headcheck; print(headcheck.__file__)"], capture_output=True, text=True, cwd=base
    )
    assert where.stdout.startswith(str(base / "venv")), where.stdout  # the installed copy, not the checkout
    return base / "venv" / "bin"


def _entrypoint() -> list[str]:
    match = re.search(r"^ENTRYPOINT (\[.*\])$", _dockerfile(), re.M)
    assert match, "ENTRYPOINT must be in exec form"
    argv: list[str] = json.loads(match[1])
    assert argv[:2] == ["/usr/bin/tini", "--"]
    return argv[2:]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="GitHub runs Docker actions as root")
@pytest.mark.parametrize(
    ("example", "code", "titles"),
    [("clean", 0, []), ("two-heads", 1, ["HC101 multiple-heads"]), ("dangling", 1, ["HC102 dangling-down-revision"])],
)
def test_the_image_entrypoint_as_root_under_githubs_contract(
    container: Path, tmp_path: Path, example: str, code: int, titles: list[str]
) -> None:
    workspace = tmp_path / "github" / "workspace"
    shutil.copytree(EXAMPLES / example, workspace)
    files = tmp_path / "github" / "file_commands"
    env = {
        "PATH": f"{container}:/usr/bin:/bin",
        "HOME": str(tmp_path / "github" / "home"),
        **_github_env(workspace, files, {"INPUT_SARIF": "headcheck.sarif"}),
    }
    argv = _entrypoint()
    result = subprocess.run(
        [str(container / argv[0]), *argv[1:]], cwd=workspace, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == code, result.stderr
    commands = parse_commands(result.stdout)
    assert [c.properties.get("title") for c in commands] == titles
    outputs = parse_output_file(files / "output")
    assert outputs["ok"] == ("true" if code == 0 else "false")
    assert outputs["report"] == "headcheck-report.json"
    assert (workspace / "headcheck-report.json").is_file()
    assert outputs["sarif"] == "headcheck.sarif"
    assert (workspace / "headcheck.sarif").is_file()
    assert (
        json.loads(outputs["heads"])
        == json.loads((workspace / "headcheck-report.json").read_text())["environments"][0]["heads"]
    )
    summary = (files / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## ✅ headcheck: passed" if code == 0 else "## ❌ headcheck: failed")
    assert "```mermaid" in summary
    assert result.stderr == ""
    assert sys.executable not in result.stdout


def test_format_github_gives_the_same_annotations_as_the_action(
    action: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "workspace"
    write_project(
        workspace,
        {"a1_x.py": ("a1", None), "b2_x.py": ("b2", "a1"), "c3_x.py": ("c3", "a1"), "d4_x.py": ("d4", "a1_x")},
    )
    from_action = action(None).commands
    assert main(["--format", "github", str(workspace)]) == 1  # GITHUB_WORKSPACE is still set by the fixture
    from_format = parse_commands(capsys.readouterr().out)
    assert len(from_action) >= 2
    assert from_format == from_action


# --- issue 9 item 5: the workspace is the pull request's; never write through its symlinks ----


def _workspace_with_git_config(tmp_path: Path) -> tuple[Path, Path]:
    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLES / "clean", workspace)
    (workspace / ".git").mkdir()
    config = workspace / ".git" / "config"
    config.write_text('[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n')
    return workspace, config


def test_a_committed_symlink_at_the_report_path_is_refused(action: Any, tmp_path: Path) -> None:
    """``ln -s .git/config headcheck-report.json`` in the pull request."""
    workspace, config = _workspace_with_git_config(tmp_path)
    before = config.read_bytes()
    (workspace / "headcheck-report.json").symlink_to(".git/config")
    run = action(None)
    assert run.code == 2
    assert config.read_bytes() == before
    assert (workspace / "headcheck-report.json").is_symlink()
    (command,) = [c for c in run.commands if c.kind == "error"]
    assert command.message == "refusing to write headcheck-report.json: it is a symbolic link"
    assert "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_a_symlinked_folder_on_the_way_is_refused(action: Any, tmp_path: Path) -> None:
    workspace, config = _workspace_with_git_config(tmp_path)
    (workspace / "reports").symlink_to(".git")
    run = action(None, INPUT_SARIF="reports/config")
    assert run.code == 2
    assert "refusing to write reports/config: reports is a symbolic link" in run.err
    assert config.read_text().startswith("[http")


@pytest.mark.parametrize("value", [".git/config", "sub/.GIT/hooks/post-checkout", "../outside.json", "/tmp/x.json"])
def test_report_inputs_may_not_point_into_git_or_out_of_the_workspace(action: Any, tmp_path: Path, value: str) -> None:
    _, config = _workspace_with_git_config(tmp_path)
    before = config.read_bytes()
    run = action(None, INPUT_REPORT=value)
    assert run.code == 2, run.out
    assert "input 'report' must" in run.err
    assert config.read_bytes() == before
    assert run.outputs == {}


def test_an_existing_hard_link_is_replaced_not_written_through(action: Any, tmp_path: Path) -> None:
    workspace, config = _workspace_with_git_config(tmp_path)
    before = config.read_bytes()
    os.link(config, workspace / "headcheck-report.json")
    run = action(None)
    assert run.code == 0, run.err
    assert config.read_bytes() == before
    assert json.loads((workspace / "headcheck-report.json").read_text())["ok"] is True
    assert [p.name for p in workspace.iterdir() if p.name.endswith(".tmp")] == []

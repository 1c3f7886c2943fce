"""The command line: exit codes, formats, settings, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from headcheck.cli import main
from tests.project import write_project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_examples_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(EXAMPLES / "clean")]) == 0
    assert main([str(EXAMPLES / "two-heads")]) == 1
    out = capsys.readouterr().out
    assert "HC101" in out
    assert "headcheck merge" in out
    assert main([str(EXAMPLES / "dangling")]) == 1
    assert "did you mean 2b3c4d5e6f70" in capsys.readouterr().out


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` and the SARIF driver say what pip installed (pyproject's version), not a copy."""
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"headcheck {version('headcheck')}\n"
    assert main(["--format", "sarif", str(EXAMPLES / "clean")]) == 0
    driver = json.loads(capsys.readouterr().out)["runs"][0]["tool"]["driver"]
    assert driver["version"] == driver["semanticVersion"] == version("headcheck")


def test_json_report_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(EXAMPLES / "two-heads"), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["version"] == 1
    assert report["ok"] is False
    (env,) = report["environments"]
    assert env["config"] == "alembic.ini"
    assert env["script_location"] == "alembic"
    assert env["revisions"] == 4
    assert env["heads"] == ["3c4d5e6f7081", "4d5e6f708192"]
    assert env["bases"] == ["1a2b3c4d5e6f"]
    (finding,) = env["findings"]
    assert finding["code"] == "HC101"
    assert finding["severity"] == "error"
    assert finding["path"] == "alembic/versions/4d5e6f708192_add_users_phone.py"
    assert finding["line"] == 16


def test_text_has_no_colour_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    main([str(EXAMPLES / "two-heads")])
    assert "\033[" not in capsys.readouterr().out


def test_pyproject_settings_and_flag_overrides(tmp_path: Path) -> None:
    write_project(tmp_path, {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1"), "c.py": ("cccc3", "aaaa1")})
    assert main([str(tmp_path)]) == 1
    (tmp_path / "pyproject.toml").write_text("[tool.headcheck]\nmax-heads = 2\n")
    assert main([str(tmp_path)]) == 0
    assert main([str(tmp_path), "--max-heads", "1"]) == 1
    (tmp_path / "pyproject.toml").write_text('[tool.headcheck]\nignore = ["HC101"]\n')
    assert main([str(tmp_path)]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ignore", "HC999"], "unknown rule code"),
        (["--max-heads", "0"], "--max-heads must be at least 1"),
        (["--config", "nope.ini"], "no such config file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    write_project(tmp_path, {"a.py": ("aaaa1", None)})
    assert main([str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_bad_tool_headcheck_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_project(tmp_path, {"a.py": ("aaaa1", None)})
    (tmp_path / "pyproject.toml").write_text("[tool.headcheck]\nmax-heads = 'two'\n")
    assert main([str(tmp_path)]) == 2
    assert "max-heads must be a positive integer" in capsys.readouterr().err


def test_no_environment_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert "no Alembic environment found" in capsys.readouterr().err


def test_envs_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs", str(EXAMPLES), "--format", "json"]) == 0
    envs = json.loads(capsys.readouterr().out)["environments"]
    assert {e["name"] for e in envs} >= {"clean/alembic", "two-heads/alembic", "dangling/alembic"}


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert main([str(EXAMPLES / "clean"), "--format", "json", "--output", str(out)]) == 0
    assert json.loads(out.read_text())["ok"] is True


def test_python_dash_m_and_help() -> None:
    done = subprocess.run([sys.executable, "-m", "headcheck", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "commands:" in done.stdout
    done = subprocess.run([sys.executable, "-m", "headcheck", "--no-such-flag"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_static_gate_imports_only_the_standard_library() -> None:
    code = (
        "import sys, headcheck.cli\n"
        "from headcheck.cli import main\n"
        f"rc = main([{str(EXAMPLES / 'two-heads')!r}, '--format', 'json'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'alembic', 'sqlalchemy', 'yaml', 'mako', 'psycopg'})\n"
        "print(rc, heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "1 []"


def test_distribution_metadata_names_the_license_and_the_project() -> None:
    from importlib.metadata import metadata

    meta = metadata("headcheck")
    assert meta["License-Expression"] == "MIT"
    assert (Path(__file__).resolve().parent.parent / "LICENSE").read_text().startswith("MIT License")
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Changelog", "Issues"} <= set(urls)
    assert "Typing :: Typed" in (meta.get_all("Classifier") or [])


def test_a_folder_named_like_a_command_is_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`headcheck db` in a project whose migrations live in ./db checks ./db (never the proof)."""
    import shutil

    shutil.copytree(EXAMPLES / "two-heads", tmp_path / "db")
    monkeypatch.chdir(tmp_path)
    for argv in (["db"], ["db", "--format", "json"], ["check", "db", "--format", "json"]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 1, out + err  # the static gate's verdict: two heads
        assert "HC101" in out
        assert ("is a folder here" in err) == (argv[0] == "db")
        assert "database proof" not in out + err
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["db", "--help"]) == 0
    assert "headcheck db" in capsys.readouterr().out

"""``--format sarif``: valid SARIF 2.1.0 that GitHub code scanning accepts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from headcheck import __version__
from headcheck.cli import main
from headcheck.rules import RULES
from tests.project import write_project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# The OASIS SARIF 2.1.0 schema (rtm.5, what json.schemastore.org/sarif-2.1.0.json serves),
# vendored from the MIT-licensed npm package @microsoft/jest-sarif 1.0.0-beta.0.
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def _sarif(capsys: pytest.CaptureFixture[str], path: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    code = main(["--format", "sarif", *flags, str(path)])
    return code, json.loads(capsys.readouterr().out)


def _validate(log: dict[str, Any]) -> list[str]:
    # Draft 4 as the schema declares; no format checks (one of its "regex" patterns is not a Python regex).
    return [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft4Validator(SCHEMA).iter_errors(log)]


def test_the_schema_catches_a_broken_log() -> None:
    assert _validate({"version": "2.1.0", "runs": [{"tool": {}}]})  # driver missing


@pytest.mark.parametrize("example", ["clean", "two-heads", "dangling"])
def test_examples_validate_against_the_sarif_schema(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLES / example, tmp_path / "repo")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    code, log = _sarif(capsys, tmp_path / "repo")
    assert _validate(log) == []
    assert code == (0 if example == "clean" else 1)
    (run,) = log["runs"]
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    driver = run["tool"]["driver"]
    assert driver["name"] == "headcheck"
    assert driver["version"] == __version__
    assert [rule["id"] for rule in driver["rules"]] == list(RULES)
    for rule in driver["rules"]:
        for key in ("shortDescription", "fullDescription", "help"):
            assert rule[key]["text"].strip()
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("repo/alembic/versions/"), uri
        assert (tmp_path / uri).is_file()
    if example == "two-heads":
        (result,) = run["results"]
        assert result["ruleId"] == "HC101"
        assert result["level"] == "error"
        assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 16}


def test_fingerprints_are_stable_when_lines_move(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = write_project(tmp_path, {"a1_x.py": ("a1", None), "b2_x.py": ("b2", "a1"), "c3_x.py": ("c3", "a1")})
    _, first = _sarif(capsys, tmp_path)
    target = versions / "c3_x.py"
    target.write_text("# a new first line\n" + target.read_text())
    _, second = _sarif(capsys, tmp_path)
    (one,), (two,) = first["runs"][0]["results"], second["runs"][0]["results"]
    assert one["partialFingerprints"] == two["partialFingerprints"]
    assert one["locations"] != two["locations"] or one["message"] != two["message"]


def test_strict_turns_warnings_into_errors_and_every_finding_is_a_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_project(
        tmp_path, {"a1_x.py": ("a1", None), "b2_x.py": ("b2", "nope"), "c3_x.py": ("c3", "a1"), "d4_x.py": ("d4", "a1")}
    )
    (versions / "sub").mkdir()
    (versions / "sub" / "e5_x.py").write_text("revision = 'e5'\n")  # HC302, a warning: recursion is off

    code, log = _sarif(capsys, tmp_path)
    levels = {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]}
    assert code == 1
    assert _validate(log) == []
    assert levels == {"HC101": "error", "HC102": "error", "HC302": "warning"}

    code, log = _sarif(capsys, tmp_path, "--strict")
    levels = {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]}
    assert code == 1
    assert _validate(log) == []
    assert levels == {"HC101": "error", "HC102": "error", "HC302": "error"}


def test_strict_fails_on_a_warning_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = write_project(tmp_path, {"a1_x.py": ("a1", None), "b2_x.py": ("b2", "a1")})
    (versions / "sub").mkdir()
    (versions / "sub" / "c3_x.py").write_text("revision = 'c3'\n")
    code, log = _sarif(capsys, tmp_path)
    assert code == 0
    assert [(r["ruleId"], r["level"]) for r in log["runs"][0]["results"]] == [("HC302", "warning")]
    code, log = _sarif(capsys, tmp_path, "--strict")
    assert code == 1
    assert [(r["ruleId"], r["level"]) for r in log["runs"][0]["results"]] == [("HC302", "error")]


def test_the_analysed_commit_is_recorded_on_github(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    monkeypatch.setenv("GITHUB_SHA", "0123abc")
    _, log = _sarif(capsys, EXAMPLES / "clean")
    assert log["runs"][0]["versionControlProvenance"] == [
        {"repositoryUri": "https://github.com/acme/shop", "revisionId": "0123abc"}
    ]
    assert _validate(log) == []


def _multitool() -> Path | None:
    """Microsoft's validator (npm @microsoft/sarif-multitool@5.7.0) in HEADCHECK_NODE_TOOLS."""
    folder = os.environ.get("HEADCHECK_NODE_TOOLS")
    tool = Path(folder, "node_modules", "@microsoft", "sarif-multitool-linux", "Sarif.Multitool") if folder else None
    return tool if tool is not None and tool.exists() else None


@pytest.mark.skipif(_multitool() is None, reason="set HEADCHECK_NODE_TOOLS to a folder with @microsoft/sarif-multitool")
def test_microsofts_validator_finds_no_error_or_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = _multitool()
    assert tool is not None
    monkeypatch.setenv("GITHUB_WORKSPACE", str(EXAMPLES))
    files = []
    for example in ("two-heads", "dangling"):
        _, log = _sarif(capsys, EXAMPLES / example)
        target = tmp_path / f"{example}.sarif"
        target.write_text(json.dumps(log, indent=2))
        files.append(target)
    bad = tmp_path / "bad.sarif"
    bad.write_text('{"version": "2.1.0", "runs": [{"tool": {}}]}')

    def validate(path: Path) -> str:
        # The validator exits 0 even for invalid files: read its output. --rule-kind Gh adds GitHub's rules.
        argv = [str(tool), "validate", "--rule-kind", "Sarif;Gh", "--level", "Error;Warning", str(path)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        return result.stdout + result.stderr

    for path in files:
        out = validate(path)
        assert "Analysis completed successfully" in out
        assert not re.search(r": (error|warning) ", out), out
    assert "error JSON1002" in validate(bad)


def test_folder_findings_point_at_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_project(tmp_path, {"a1_x.py": ("a1", None)})
    (versions / "archive").mkdir()
    (versions / "archive" / "b2_old.py").write_text("revision = 'b2'\ndown_revision = 'a1'\n")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    _, log = _sarif(capsys, tmp_path)
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "HC302"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "alembic.ini", "uriBaseId": "%SRCROOT%"}
    }
    assert _validate(log) == []

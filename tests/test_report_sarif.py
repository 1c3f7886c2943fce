"""``--format sarif``: valid SARIF 2.1.0 that GitHub code scanning accepts."""

from __future__ import annotations

import json
import shutil
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
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    driver = run["tool"]["driver"]
    assert driver["name"] == "headcheck" and driver["version"] == __version__
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
        assert result["ruleId"] == "HC101" and result["level"] == "error"
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
    write_project(
        tmp_path, {"a1_x.py": ("a1", None), "b2_x.py": ("b2", "nope"), "c3_x.py": ("c3", "a1"), "d4_x.py": ("d4", "a1")}
    )
    code, log = _sarif(capsys, tmp_path, "--strict")
    assert code == 1
    assert _validate(log) == []
    codes = sorted(r["ruleId"] for r in log["runs"][0]["results"])
    assert "HC102" in codes and "HC101" in codes

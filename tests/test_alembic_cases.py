"""Verdict parity with real Alembic on every graph case of ALEMBIC_SEMANTICS.md section 4.

Each case writes real revision files, loads them with Alembic's ``ScriptDirectory`` (the oracle,
which executes them) and with headcheck's static gate, and asserts:

* when Alembic loads: heads, real heads and bases are equal, in order, phantom duplicates included;
* when Alembic raises: headcheck reports an error whose rule code stands for Alembic's exception;
* the exact set of error codes headcheck reports, so that where headcheck is deliberately stricter
  (duplicate ids, reserved ids, values it cannot read statically, the heads policy) that is pinned too.

The graph cases run in every revision-file style of ``history_builder`` and once more through
``headcheck --format json`` (the CLI) to prove the report carries the same heads and verdict.
"""

from __future__ import annotations

import json
import py_compile
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from headcheck.cli import main
from headcheck.config import EnvironmentSelection, find_environments
from headcheck.gate import EnvironmentResult, check_environment
from headcheck.settings import Settings
from tests.alembic_oracle import OracleResult, expected_code, load_ini, load_versions
from tests.history_builder import (
    OMIT,
    STYLES,
    Rev,
    declared_labels,
    gate,
    looked_up_depends,
    write_history,
    write_ini,
    write_revision,
)

A, B, C, D, E, M = "aaaa1", "bbbb2", "cccc3", "dddd4", "eeee5", "mmmm4"


def error_codes(result: EnvironmentResult) -> set[str]:
    return {f.code for f in result.findings if f.severity == "error"}


def warning_codes(result: EnvironmentResult) -> set[str]:
    return {f.code for f in result.findings if f.severity == "warning"}


def assert_parity(oracle: OracleResult, result: EnvironmentResult, errors: set[str], revs: Sequence[Rev] = ()) -> None:
    """headcheck agrees with Alembic, and reports exactly ``errors``."""
    if oracle.ok:
        assert result.heads == oracle.heads, oracle.describe()
        assert result.graph.ids(result.graph.real_heads) == oracle.real_heads, oracle.describe()
        assert result.bases == oracle.bases, oracle.describe()
    else:
        code = expected_code(oracle, declared_labels(revs), looked_up_depends(revs) if revs else None)
        assert code in errors, f"case expects {errors}, but Alembic raised {oracle.describe()}"
        assert code in error_codes(result), f"Alembic: {oracle.describe()}; headcheck: {result.findings}"
    found = error_codes(result)
    if not oracle.ok:
        # Alembic never gets as far as counting heads; headcheck may add the heads policy on top.
        found.discard("HC101")
    assert found == errors, [(f.code, f.message) for f in result.findings]


class Case(NamedTuple):
    name: str
    revs: tuple[Rev, ...]
    alembic: str  # "ok" or the exception class name Alembic raises
    errors: frozenset[str]  # exactly the error codes headcheck reports
    heads: tuple[str, ...] | None = None  # what Alembic prints (pins the oracle to the spec)
    bases: tuple[str, ...] | None = None
    real_heads: tuple[str, ...] | None = None
    message: str | None = None  # a fragment of Alembic's message


def case(
    name: str,
    revs: Sequence[Rev],
    alembic: str = "ok",
    errors: Sequence[str] = (),
    **kwargs: Any,
) -> Case:
    return Case(name, tuple(revs), alembic, frozenset(errors), **kwargs)


GRAPH_CASES = [
    case("1-linear", [Rev(A, None), Rev(B, A), Rev(C, B)], heads=(C,), bases=(A,)),
    case("2-two-children", [Rev(A, None), Rev(B, A), Rev(C, A)], errors=["HC101"], heads=(B, C)),
    case(
        "2-load-order-follows-file-names",
        [Rev(A, None), Rev(B, A, filename="z_b.py"), Rev(C, A, filename="m_c.py")],
        errors=["HC101"],
        heads=(C, B),
    ),
    case("3-merge-tuple", [Rev(A, None), Rev(B, A), Rev(C, A), Rev(M, (B, C))], heads=(M,), bases=(A,)),
    case("3-merge-list", [Rev(A, None), Rev(B, A), Rev(C, A), Rev(M, [B, C])], heads=(M,)),
    case("3-merge-with-own-ancestor", [Rev(A, None), Rev(B, A), Rev(M, (A, B))], heads=(M,)),
    case("3-merge-same-parent-twice", [Rev(A, None), Rev(B, (A, A))], heads=(B,)),
    case("4-empty-tuple-is-base", [Rev(A, ()), Rev(B, A)], heads=(B,), bases=(A,)),
    case("4-empty-list-is-base", [Rev(A, []), Rev(B, A)], heads=(B,), bases=(A,)),
    case("4-none-in-tuple-is-base", [Rev(A, (None,)), Rev(B, A)], heads=(B,), bases=(A,)),
    case("5-empty-string", [Rev(A, None), Rev(B, "")], "KeyError", ["HC102"]),
    case("6-two-cycle-no-base", [Rev(A, B), Rev(B, A)], "CycleDetected", ["HC105"], message="(aaaa1, bbbb2)"),
    case(
        "7-cycle-off-valid-graph",
        [Rev(A, None), Rev(B, A), Rev(C, D), Rev(D, C), Rev(E, D)],
        "CycleDetected",
        ["HC105"],
        message="(cccc3, dddd4, eeee5)",
    ),
    case("8-self-loop", [Rev(A, None), Rev(B, B)], "LoopDetected", ["HC108"]),
    case("8-self-loop-in-tuple", [Rev(A, None), Rev(B, (A, B))], "LoopDetected", ["HC108"]),
    case("9-dangling", [Rev(A, None), Rev(B, "zzzz9")], "KeyError", ["HC102"]),
    case("9-dangling-in-merge", [Rev(A, None), Rev(B, A), Rev(M, (B, "zzzz9"))], "KeyError", ["HC102"]),
    case("10-partial-id", [Rev("aaaa1111", None), Rev(B, "aaaa")], "KeyError", ["HC102"]),
    case("11-down-is-label", [Rev(A, None, branch_labels="core"), Rev(B, "core")], "KeyError", ["HC104"]),
    case(
        "12-duplicate-same-parent",
        [Rev(A, None), Rev(B, A, filename="b1.py"), Rev(B, A, filename="b2.py"), Rev(C, B)],
        errors=["HC107"],
        heads=(B, C),
    ),
    case(
        "13-duplicate-different-parents",
        [Rev(A, None), Rev(B, A, filename="b1.py"), Rev(B, "aaaa1", filename="b2.py")],
        errors=["HC107"],
        heads=(B, B),
    ),
    case(
        "13-duplicate-different-parents-phantom",
        [Rev(A, None), Rev("x1", A), Rev(B, A, filename="b1.py"), Rev(B, "x1", filename="b2.py")],
        errors=["HC107"],
        heads=(B, B),
    ),
    case(
        "14-duplicate-base",
        [Rev(A, None, filename="a1.py"), Rev(A, None, filename="a2.py"), Rev(B, A)],
        errors=["HC107"],
        bases=(A, A),
    ),
    case("15-multiple-bases", [Rev(A, None), Rev(B, A), Rev("xxxx1", None)], errors=["HC101"], bases=(A, "xxxx1")),
    case(
        "16-labelled-roots",
        [
            Rev(A, None, branch_labels="core"),
            Rev(B, A),
            Rev("xxxx1", None, branch_labels="plugin"),
            Rev("yyyy2", "xxxx1"),
        ],
        heads=(B, "yyyy2"),
        bases=(A, "xxxx1"),
    ),
    case(
        "16-labels-on-branches-of-one-root",
        [Rev(A, None), Rev(B, A, branch_labels="expand"), Rev(C, A, branch_labels="contract")],
        heads=(B, C),
    ),
    case("17-label-equals-id", [Rev(A, None), Rev(B, A, branch_labels=A)], "RevisionError", ["HC112"]),
    case(
        "17-duplicate-label",
        [Rev(A, None, branch_labels="x"), Rev(B, None, branch_labels="x")],
        "RevisionError",
        ["HC112"],
    ),
    case(
        "18-depends-on-other-head",
        [
            Rev(A, None, branch_labels="core"),
            Rev(B, A),
            Rev("xxxx1", None, branch_labels="p"),
            Rev("yyyy2", "xxxx1", depends_on=B),
        ],
        heads=(B, "yyyy2"),
        real_heads=("yyyy2",),
    ),
    case(
        "19-depends-on-label-is-declarer",
        [
            Rev(A, None, branch_labels="core"),
            Rev(B, A),
            Rev("xxxx1", None, branch_labels="p"),
            Rev("yyyy2", "xxxx1", depends_on="core"),
        ],
        heads=(B, "yyyy2"),
        real_heads=(B, "yyyy2"),
    ),
    case(
        "20-depends-on-partial", [Rev("aaaa1111", None), Rev(B, "aaaa1111", depends_on="aaaa")], "KeyError", ["HC103"]
    ),
    case("20-depends-on-unknown", [Rev(A, None), Rev(B, A, depends_on="zzzz9")], "KeyError", ["HC103"]),
    case("20-depends-on-empty-in-list", [Rev(A, None), Rev(B, A, depends_on=[A, ""])], "KeyError", ["HC103"]),
    case("21-depends-on-self", [Rev(A, None), Rev(B, A, depends_on=B)], "DependencyLoopDetected", ["HC109"]),
    case(
        "21-depends-on-mutual",
        [Rev(A, None), Rev(B, A, depends_on=C), Rev(C, A, depends_on=B)],
        "DependencyCycleDetected",
        ["HC106"],
    ),
    case(
        "21-depends-on-descendant",
        [Rev(A, None, depends_on=B), Rev(B, A)],
        "DependencyCycleDetected",
        ["HC106"],
    ),
    case("22-depends-on-ancestor", [Rev(A, None), Rev(B, A), Rev(C, B, depends_on=A)], heads=(C,), real_heads=(C,)),
    case(
        "23-base-with-depends-on",
        [Rev(A, None), Rev(B, A), Rev("xxxx1", None, depends_on=B)],
        errors=["HC101"],
        bases=(A, "xxxx1"),
        real_heads=("xxxx1",),
    ),
    case("24-empty-depends-on-on-base", [Rev(A, None, depends_on="")], "DependencyCycleDetected", ["HC106"]),
    case("24-empty-depends-on-not-base", [Rev(A, None), Rev(B, A, depends_on="")], heads=(B,)),
    case("36-revises-disagrees", [Rev(A, None), Rev(B, A), Rev(C, A, revises=B, filename="zz.py")], errors=["HC101"]),
    case("38-illegal-chars", [Rev(A, None), Rev("b@b:b+", A, filename="b.py")], "RevisionError", ["HC110"]),
    case("38-illegal-dash", [Rev("aaaa-1", None, filename="a.py")], "RevisionError", ["HC110"]),
    case("39-int-id", [Rev(1234, None)], "TypeError", ["HC206"]),
    case("39-none-id", [Rev(None, None, filename="x.py")], "TypeError", ["HC206"]),
    case("40-none-in-merge", [Rev(A, None), Rev(B, (A, None))], "TypeError", ["HC206"]),
    case(
        "41-comma-label-is-one-label",
        [Rev(A, None, branch_labels="x,y"), Rev("xxxx1", None), Rev("yyyy2", "xxxx1", depends_on="x,y")],
        real_heads=("yyyy2",),
    ),
    case(
        "41-comma-label-parts-unknown",
        [Rev(A, None, branch_labels="x,y"), Rev(B, A, depends_on="x")],
        "KeyError",
        ["HC103"],
    ),
    case("47-reserved-id", [Rev("heads", None, filename="h.py"), Rev(B, "heads")], errors=["HC111"], heads=(B,)),
    case(
        "58-depends-on-ties-two-heads",
        [Rev(A, None), Rev(B, A), Rev(C, A, depends_on=B)],
        errors=["HC101"],
        heads=(B, C),
        real_heads=(C,),
    ),
    case("order-dangling-before-cycle", [Rev(A, B), Rev(B, A), Rev(C, "zzzz9")], "KeyError", ["HC102", "HC105"]),
    case(
        "order-label-collision-and-dangling",
        [Rev(A, None, branch_labels=B), Rev(B, A), Rev(C, "zzzz9")],
        "RevisionError",
        ["HC112", "HC102"],
    ),
]


def _styled(revs: Sequence[Rev], style: str) -> list[Rev]:
    return [rev._replace(style=style) for rev in revs]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("spec", GRAPH_CASES, ids=lambda c: c.name)
def test_graph_case(tmp_path: Path, spec: Case, style: str) -> None:
    versions = tmp_path / "versions"
    write_history(versions, _styled(spec.revs, style))
    oracle = load_versions(versions)
    # Pin the oracle to the spec first: these are the documented Alembic facts.
    if spec.alembic == "ok":
        assert oracle.ok, oracle.describe()
    else:
        assert type(oracle.error).__name__ == spec.alembic, oracle.describe()
        if spec.message is not None:
            assert spec.message in str(oracle.error)
    for field, expected in (("heads", spec.heads), ("bases", spec.bases), ("real_heads", spec.real_heads)):
        if expected is not None:
            assert getattr(oracle, field) == list(expected), oracle.describe()
    result = gate(versions)
    assert_parity(oracle, result, set(spec.errors), spec.revs)
    if spec.message is not None and spec.alembic == "CycleDetected":
        # The ids headcheck quotes are the ids Alembic's message names.
        assert spec.message == f"({', '.join(result.graph.problems.cycle)})"


@pytest.mark.parametrize("spec", GRAPH_CASES, ids=lambda c: c.name)
def test_graph_case_through_cli_json(tmp_path: Path, spec: Case, capsys: pytest.CaptureFixture[str]) -> None:
    versions = tmp_path / "versions"
    write_history(versions, spec.revs)
    oracle = load_versions(versions)
    code = main([str(tmp_path), "--versions", str(versions), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    (env,) = report["environments"]
    assert code == (0 if report["ok"] else 1)
    assert report["ok"] == (not spec.errors)
    found = {f["code"] for f in env["findings"] if f["severity"] == "error"}
    assert found - ({"HC101"} if not oracle.ok else set()) == set(spec.errors)
    if oracle.ok:
        assert env["heads"] == oracle.heads
        assert env["bases"] == oracle.bases
    else:
        assert report["ok"] is False
        assert expected_code(oracle, declared_labels(spec.revs), looked_up_depends(spec.revs)) in {
            f["code"] for f in env["findings"]
        }


def test_dangling_partial_id_hints_full_id(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev("aaaa1111", None), Rev(B, "aaaa")])
    (finding,) = [f for f in gate(versions).findings if f.code == "HC102"]
    assert "aaaa1111" in (finding.fix or "")


def test_dangling_file_name_hints_id(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None, filename="aaaa1_create.py"), Rev(B, "aaaa1_create")])
    oracle = load_versions(versions)
    assert expected_code(oracle) == "HC102"
    (finding,) = [f for f in gate(versions).findings if f.code == "HC102"]
    assert f"down_revision = '{A}'" in (finding.fix or "")


# -- value normalisation (section 1.5) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("down", "is_base", "alembic"),
    [
        (None, True, "ok"),
        ((), True, "ok"),
        ([], True, "ok"),
        ((None,), True, "ok"),
        ([None], True, "ok"),
        (A, False, "ok"),
        ((A,), False, "ok"),
        ([A], False, "ok"),
        ((A, A), False, "ok"),
        ("", False, "KeyError"),
        ((A, None), False, "TypeError"),
        ((None, None), False, "TypeError"),
        (("",), False, "KeyError"),
    ],
    ids=repr,
)
@pytest.mark.parametrize("style", ["plain", "typed", "list"])
def test_down_revision_normalisation(tmp_path: Path, down: Any, is_base: bool, alembic: str, style: str) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None, style=style), Rev(B, down, style=style)])
    oracle = load_versions(versions)
    assert (type(oracle.error).__name__ if oracle.error else "ok") == alembic, oracle.describe()
    result = gate(versions)
    if oracle.ok:
        assert result.bases == oracle.bases
        assert (B in result.bases) == is_base
        assert result.heads == oracle.heads
        assert error_codes(result) == ({"HC101"} if len(oracle.heads or ()) > 1 else set())
    else:
        assert expected_code(oracle) in error_codes(result)


@pytest.mark.parametrize(
    ("deps", "alembic", "real_heads"),
    [
        (None, "ok", [A, B]),
        ((), "ok", [A, B]),
        ([], "ok", [A, B]),
        ((None,), "ok", [A, B]),
        (A, "ok", [B]),
        ([A], "ok", [B]),
        ((A, A), "ok", [B]),
        ("", "ok", [A, B]),
        ([""], "ok", [A, B]),  # a 1-tuple becomes its element: '' adds no edge
        ([A, ""], "KeyError", None),
        ((A, None), "KeyError", None),
        ((A, 5), "KeyError", None),
    ],
    ids=repr,
)
def test_depends_on_normalisation(tmp_path: Path, deps: Any, alembic: str, real_heads: list[str] | None) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev("xxxx1", None), Rev(B, "xxxx1", depends_on=deps)])
    oracle = load_versions(versions)
    assert (type(oracle.error).__name__ if oracle.error else "ok") == alembic, oracle.describe()
    result = gate(versions)
    if oracle.ok:
        assert oracle.real_heads == real_heads
        assert_parity(oracle, result, {"HC101"})  # two bases, two heads, no labels
    else:
        assert expected_code(oracle) in error_codes(result)


@pytest.mark.parametrize(
    ("labels", "alembic"),
    [
        ("x", "ok"),
        (("x", "y"), "ok"),
        (["x", "y"], "ok"),
        ("x,y", "ok"),
        ((), "ok"),
        ("", "ok"),
        (("x", "x"), "RevisionError"),  # Alembic maps the declared tuple: a label repeated collides with itself
        ("aaaa1", "RevisionError"),
    ],
    ids=repr,
)
def test_branch_labels_normalisation(tmp_path: Path, labels: Any, alembic: str) -> None:
    versions = tmp_path / "versions"
    write_history(
        versions,
        [
            Rev(A, None),
            Rev(B, A, branch_labels=labels),
            Rev(C, B, depends_on=labels if alembic == "ok" and labels else None),
        ],
    )
    oracle = load_versions(versions)
    assert (type(oracle.error).__name__ if oracle.error else "ok") == alembic, oracle.describe()
    result = gate(versions)
    if oracle.ok:
        assert_parity(oracle, result, set())
    else:
        assert_parity(oracle, result, {"HC112"})


# -- file selection (sections 1.2-1.3) ---------------------------------------------------------


def test_27_non_candidates_are_ignored(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev(B, A)])
    broken = "this is not python (\n"
    for name in ("notes.txt", "x.py.bak", "X.PY", "x.pyi", "__init__.py", "__init__x.py", ".#x.py", "y.py~"):
        (versions / name).write_text(broken, encoding="utf-8")
    (versions / "dir.py").mkdir()
    (versions / "dir.py" / "inner.py").write_text(broken, encoding="utf-8")
    source = tmp_path / "stale.py"
    source.write_text(broken.replace("(", "") + "\n", encoding="utf-8")
    (tmp_path / "stale.py").write_text("revision = 'zzzz'\ndown_revision = 'nope'\n", encoding="utf-8")
    py_compile.compile(str(source), cfile=str(versions / "stale.pyc"))
    oracle = load_versions(versions)
    assert oracle.ok, oracle.describe()
    assert oracle.heads == [B], oracle.describe()
    result = gate(versions)
    assert_parity(oracle, result, set())
    assert warning_codes(result) == {"HC302"}  # dir.py/ holds a .py file Alembic does not read


def test_28_hidden_file_is_loaded(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev(B, A, filename=".hidden.py")])
    oracle = load_versions(versions)
    assert oracle.heads == [B]
    assert_parity(oracle, gate(versions), set())


def test_29_helper_module_without_revision(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None)])
    (versions / "utils.py").write_text("def helper():\n    return 1\n", encoding="utf-8")
    oracle = load_versions(versions)
    assert_parity(oracle, gate(versions), {"HC202"})


def test_30_hex_named_helper_without_down_revision(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None)])
    (versions / "abc.py").write_text("def helper():\n    return 1\n", encoding="utf-8")
    oracle = load_versions(versions)
    assert isinstance(oracle.error, AttributeError)
    assert_parity(oracle, gate(versions), {"HC203"})


def test_31_subfolder_ignored_without_recursion(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev(C, B)])
    write_history(versions / "sub", [Rev(B, A)])
    oracle = load_versions(versions)
    result = gate(versions)
    assert_parity(oracle, result, {"HC102"})
    assert "HC302" in warning_codes(result)
    (dangling,) = [f for f in result.findings if f.code == "HC102"]
    assert "recursive_version_locations" in (dangling.fix or "")


def test_32_recursive_locations_skip_pycache(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev(C, B)])
    write_history(versions / "sub", [Rev(B, A)])
    write_history(versions / "sub" / "__pycache__", [Rev("zzzz", "nothing")])
    write_history(versions / "x__pycache__", [Rev("yyyy", "nothing")])
    write_history(versions / "b_later", [Rev(D, C)])
    oracle = load_versions(versions, recursive=True)
    assert oracle.ok, oracle.describe()
    assert oracle.heads == [D], oracle.describe()
    assert_parity(oracle, gate(versions, recursive=True), set())


@pytest.mark.parametrize(
    ("value", "recursive"), [("true", True), ("True", False), ("TRUE", False), ("1", False), ("false", False)]
)
def test_33_ini_recursive_flag_must_be_exactly_true(tmp_path: Path, value: str, recursive: bool) -> None:
    versions = tmp_path / "alembic" / "versions"
    write_history(versions, [Rev(A, None), Rev(C, B)])
    write_history(versions / "sub", [Rev(B, A)])
    ini = write_ini(tmp_path, extra=f"recursive_version_locations = {value}")
    oracle = load_ini(ini)
    assert oracle.ok is recursive, oracle.describe()
    (env,) = find_environments(tmp_path, EnvironmentSelection(config=ini))
    assert env.recursive is recursive
    result = check_environment(env, Settings(), tmp_path)
    assert_parity(oracle, result, set() if recursive else {"HC102"})


def test_34_legacy_hex_filename_gives_revision(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(OMIT, None, filename="abc123.py"), Rev(B, "abc123")])
    oracle = load_versions(versions)
    assert oracle.bases == ["abc123"]
    assert_parity(oracle, gate(versions), set())


def test_34_legacy_rule_needs_lowercase_hex(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(OMIT, None, filename="ABC123.py")])
    oracle = load_versions(versions)
    assert_parity(oracle, gate(versions), {"HC202"})


def test_35_bare_annotation_binds_nothing(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "b.py").write_text("revision: str = 'bbbb2'\ndown_revision: str\n", encoding="utf-8")
    oracle = load_versions(versions)
    assert_parity(oracle, gate(versions), {"HC203"})


def test_36_revises_mismatch_is_only_a_warning(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev(B, A), Rev(C, B, revises=A)])
    oracle = load_versions(versions)
    result = gate(versions)
    assert_parity(oracle, result, set())
    assert warning_codes(result) == {"HC301"}


def test_37_last_binding_and_unpacking_win(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text("revision = 'zzzz'\nrevision = 'aaaa1'\ndown_revision = None\n", encoding="utf-8")
    (versions / "b.py").write_text(
        "revision, down_revision = 'bbbb2', 'zzzz'\ndown_revision = 'aaaa1'\n", encoding="utf-8"
    )
    (versions / "c.py").write_text(
        "(revision, (down_revision, depends_on)) = ('cccc3', ('bbbb2', 'aaaa1'))\n", encoding="utf-8"
    )
    (versions / "d.py").write_text(
        "revision = down_revision = 'x'\nrevision = 'dddd4'\ndown_revision = 'cccc3'\n", encoding="utf-8"
    )
    oracle = load_versions(versions)
    assert oracle.heads == [D], oracle.describe()
    assert_parity(oracle, gate(versions), set())


@pytest.mark.parametrize(
    "source",
    [
        "revision = 'bb' + 'bb2'\ndown_revision = 'aaaa1'\n",
        "revision = 'bbbb2'\nif True:\n    down_revision = 'aaaa1'\n",
        "import os\nrevision = 'bbbb2'\ndown_revision = os.environ.get('X', 'aaaa1')\n",
        "revision = 'bbbb2'\ndown_revision = 'aaaa1'\nbranch_labels = tuple(['x'])\n",
        "revision = 'bbbb2'\ndown_revision = 'aaaa1'\ndepends_on = 'aaaa' + '1'\n",
    ],
)
def test_37_computed_values_cannot_be_verified(tmp_path: Path, source: str) -> None:
    """Alembic runs the code; headcheck refuses to guess (documented: stricter, HC205)."""
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None)])
    (versions / "b.py").write_text(source, encoding="utf-8")
    oracle = load_versions(versions)
    assert oracle.ok, oracle.describe()
    result = gate(versions)
    assert "HC205" in error_codes(result)
    assert error_codes(result) <= {"HC205"}


def test_25_syntax_error(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev(B, A)])
    (versions / "b_step.py").write_text(
        "revision = 'bbbb2'\ndown_revision = 'aaaa1'\ndef upgrade(:\n", encoding="utf-8"
    )
    write_history(versions, [Rev(C, B)])
    oracle = load_versions(versions)
    result = gate(versions)
    assert_parity(oracle, result, {"HC201"})
    # The unreadable file is the cause; its child is not reported as dangling on top of it.
    assert "HC102" not in error_codes(result)


def test_26_import_error_is_invisible_statically(tmp_path: Path) -> None:
    """Documented divergence: Alembic dies on the import, headcheck never executes the file."""
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None)])
    (versions / "b.py").write_text(
        "import no_such_module_xyz\nrevision = 'bbbb2'\ndown_revision = 'aaaa1'\n", encoding="utf-8"
    )
    oracle = load_versions(versions)
    assert isinstance(oracle.error, ImportError)
    result = gate(versions)
    assert result.heads == [B]
    assert error_codes(result) == set()


def test_42_empty_versions_folder(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    oracle = load_versions(versions)
    assert oracle.heads == []
    assert oracle.bases == []
    result = gate(versions)
    assert_parity(oracle, result, set())
    assert not result.findings


def test_42_43_missing_location_is_reported(tmp_path: Path) -> None:
    """Alembic silently drops a missing location; headcheck says so (documented: HC405)."""
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev(B, "xxxx1")])
    typo = tmp_path / "plugins_typo"
    oracle = load_versions([versions, typo])
    assert expected_code(oracle) == "HC102"
    assert_parity(oracle, gate([versions, typo]), {"HC102", "HC405"})


def test_locations_feed_one_map_in_location_order(tmp_path: Path) -> None:
    core, plugin = tmp_path / "core", tmp_path / "plugin"
    write_history(core, [Rev("zzzz1", None, branch_labels="core"), Rev("zzzz2", "zzzz1")])
    write_history(plugin, [Rev("aaaa1", "zzzz1", branch_labels="plugin"), Rev("aaaa2", "aaaa1")])
    for order in ([core, plugin], [plugin, core]):
        oracle = load_versions(order)
        assert oracle.ok
        assert_parity(oracle, gate(order), set())
    assert load_versions([plugin, core]).heads == ["aaaa2", "zzzz2"]


def test_44_same_file_twice(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None), Rev(B, A)])
    (versions / "z_link.py").symlink_to(versions / f"{B}_step.py")
    oracle = load_versions([versions, versions])
    assert oracle.ok, oracle.describe()
    assert any("loaded twice" in w for w in oracle.warnings), oracle.describe()
    result = gate([versions, versions])
    assert_parity(oracle, result, set())
    assert warning_codes(result) == {"HC303"}


def test_45_sourceless_is_reported_unsupported(tmp_path: Path) -> None:
    versions = tmp_path / "alembic" / "versions"
    write_history(versions, [Rev(A, None), Rev(B, A)])
    py_compile.compile(str(versions / f"{B}_step.py"), cfile=str(versions / f"{B}_step.pyc"))
    (versions / f"{B}_step.py").unlink()
    ini = write_ini(tmp_path, extra="sourceless = true")
    oracle = load_ini(ini)
    assert oracle.heads == [B], oracle.describe()
    (env,) = find_environments(tmp_path, EnvironmentSelection(config=ini))
    assert "HC406" in error_codes(check_environment(env, Settings(), tmp_path))


def test_46_latin1_with_cookie(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None)])
    text = "# -*- coding: latin-1 -*-\n'''caf\u00e9 \u00fc'''\nrevision = 'bbbb2'\ndown_revision = 'aaaa1'\n"
    (versions / "b.py").write_bytes(text.encode("latin-1"))
    oracle = load_versions(versions)
    assert oracle.heads == [B]
    assert_parity(oracle, gate(versions), set())


def test_utf8_bom(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, [Rev(A, None)])
    (versions / "b.py").write_bytes(b"\xef\xbb\xbfrevision = 'bbbb2'\ndown_revision = 'aaaa1'\n")
    oracle = load_versions(versions)
    assert_parity(oracle, gate(versions), set())


def test_ini_environment_parity(tmp_path: Path) -> None:
    """A full alembic.ini with two version locations, through discovery, equals Alembic's view."""
    script = tmp_path / "alembic"
    write_history(script / "versions", [Rev(A, None, branch_labels="core"), Rev(B, A)])
    write_history(tmp_path / "plugin", [Rev("ffff1", A, branch_labels="plugin"), Rev("ffff2", "ffff1")])
    ini = write_ini(tmp_path, version_locations=["%(here)s/alembic/versions", "%(here)s/plugin"])
    oracle = load_ini(ini)
    assert oracle.heads == [B, "ffff2"], oracle.describe()
    (env,) = find_environments(tmp_path)
    assert_parity(oracle, check_environment(env, Settings(), tmp_path), set())


def test_every_style_reads_the_same(tmp_path: Path) -> None:
    """The builder's styles are real: Alembic reads each of them to the same graph."""
    views = set()
    for style in STYLES:
        versions = tmp_path / style
        write_history(
            versions, _styled([Rev(A, None), Rev(B, A, branch_labels=("x",)), Rev(C, (A, B), depends_on=A)], style)
        )
        oracle = load_versions(versions)
        views.add((tuple(oracle.heads or ()), tuple(oracle.bases or ())))
        assert_parity(oracle, gate(versions), set())
    assert views == {((C,), (A,))}


def test_unpack_style_really_unpacks(tmp_path: Path) -> None:
    text = (write_revision(tmp_path, Rev(B, A, style="unpack"))).read_text(encoding="utf-8")
    assert "revision, down_revision = 'bbbb2', 'aaaa1'" in text


@pytest.mark.parametrize(
    ("revs", "errors"),
    [
        ([Rev(A, None, branch_labels=""), Rev(B, "")], {"HC104"}),  # '' is a label here, not a dangling id
        ([Rev(A, None, branch_labels=""), Rev(B, A, depends_on=["", A])], set()),
        ([Rev(A, None, branch_labels=("x", None)), Rev(B, A)], set()),  # Alembic maps None as a label: harmless
        ([Rev(A, None, branch_labels=5), Rev(B, A)], set()),
        ([Rev(A, None, branch_labels=(["x"],)), Rev(B, A)], {"HC206"}),  # unhashable: TypeError
        ([Rev(A, None), Rev(B, 5)], {"HC206"}),
        ([Rev(A, None), Rev(B, b"aaaa1")], {"HC206"}),
        ([Rev(A, None), Rev(B, {A: 1})], set()),  # to_tuple(dict) is its keys
        ([Rev(A, None), Rev(B, A, depends_on=5)], {"HC206"}),
        ([Rev(A, None), Rev(B, (["aaaa1"], A))], {"HC206"}),
        ([Rev(A, "core", branch_labels="core"), Rev(B, A)], {"HC104", "HC105"}),  # own label: no base at all
        ([Rev(A, None), Rev(B, A, filename="b1.py"), Rev(B, "zzzz9", filename="b2.py")], {"HC102", "HC107"}),
        ([Rev(A, None), Rev(B, "zzzz9", filename="b1.py"), Rev(B, A, filename="b2.py")], {"HC102", "HC107"}),
    ],
    ids=[
        "empty-label-as-down",
        "empty-label-in-depends",
        "none-label",
        "int-label",
        "unhashable-label",
        "int-down",
        "bytes-down",
        "dict-down",
        "int-depends",
        "list-in-down-tuple",
        "down-is-own-label",
        "losing-duplicate-ok-winner-dangles",
        "winning-duplicate-ok-loser-dangles",
    ],
)
def test_odd_values(tmp_path: Path, revs: list[Rev], errors: set[str]) -> None:
    """Values nobody should write, where headcheck still has to agree with Alembic."""
    versions = tmp_path / "versions"
    write_history(versions, revs)
    oracle = load_versions(versions)
    assert_parity(oracle, gate(versions), errors, revs)


CYCLE_ON_SHORTER_BRANCH = [
    Rev(A, None),
    Rev(B, A),
    Rev("xxxx1", B),
    Rev("yyyy2", "xxxx1"),
    Rev(C, D),
    Rev(D, C),
    Rev(E, D),
]


def test_cycle_behind_a_second_head_graph_verdict(tmp_path: Path) -> None:
    """Case 7 with the cycle on the shorter branch: the graph layer names Alembic's cycle."""
    versions = tmp_path / "versions"
    write_history(versions, CYCLE_ON_SHORTER_BRANCH)
    oracle = load_versions(versions)
    assert str(oracle.error) == "Cycle is detected in revisions (cccc3, dddd4, eeee5)"
    result = gate(versions, settings=Settings(max_heads=10))
    assert error_codes(result) == {"HC105"}
    assert result.graph.problems.cycle == (C, D, E)


def test_cycle_behind_a_second_head_terminates(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    write_history(versions, CYCLE_ON_SHORTER_BRANCH)
    command = [sys.executable, "-m", "headcheck", "--versions", str(versions), str(tmp_path), "--format", "json"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail("headcheck did not finish in 5 s (normally well under 1 s)")
    assert proc.returncode == 1
    assert "HC105" in proc.stdout


def test_symlinks_are_judged_by_their_target(tmp_path: Path) -> None:
    """Alembic resolves every listed file first and matches the *resolved* name (section 1.2-1.3)."""
    versions, shared = tmp_path / "versions", tmp_path / "shared"
    write_history(shared, [Rev(A, None, filename="a.py"), Rev(B, "zzzz9", filename="notes.txt")])
    versions.mkdir()
    (versions / "link_a.txt").symlink_to(shared / "a.py")  # loaded: the target is a .py file
    (versions / "b.py").symlink_to(shared / "notes.txt")  # skipped: the target is not
    (versions / "0first.py").symlink_to(versions / "c.py")  # loaded once, in the link's place
    write_history(versions, [Rev(C, A, filename="c.py")])
    oracle = load_versions(versions)
    assert oracle.heads == [C], oracle.describe()
    assert any("loaded twice" in w for w in oracle.warnings), oracle.describe()
    result = gate(versions)
    assert_parity(oracle, result, set())
    assert warning_codes(result) == {"HC303"}


def test_symlink_legacy_rule_uses_the_target_name(tmp_path: Path) -> None:
    versions, shared = tmp_path / "versions", tmp_path / "shared"
    write_history(versions, [Rev(A, None)])
    write_history(shared, [Rev(OMIT, A, filename="migration_b.py")])
    (versions / "abc123.py").symlink_to(shared / "migration_b.py")
    oracle = load_versions(versions)
    assert "Could not determine revision id from filename migration_b.py" in str(oracle.error)
    assert_parity(oracle, gate(versions), {"HC202"})


def test_43_wrong_separator_drops_the_location(tmp_path: Path) -> None:
    """`;` with path_separator = os (':' here): one location named 'a;b' that does not exist."""
    write_history(tmp_path / "core", [Rev(A, None)])
    write_history(tmp_path / "plugin", [Rev(B, A)])
    ini = tmp_path / "alembic.ini"
    (tmp_path / "alembic").mkdir()
    ini.write_text(
        "[alembic]\nscript_location = %(here)s/alembic\npath_separator = os\n"
        "version_locations = %(here)s/core;%(here)s/plugin\n",
        encoding="utf-8",
    )
    oracle = load_ini(ini)
    assert oracle.ok, oracle.describe()
    assert oracle.heads == [], oracle.describe()  # silently empty
    (env,) = find_environments(tmp_path, EnvironmentSelection(config=ini))
    result = check_environment(env, Settings(), tmp_path)
    assert_parity(oracle, result, {"HC405"})

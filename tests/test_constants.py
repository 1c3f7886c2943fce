"""Revision attributes bound to module constants, resolved without importing (issue 14).

Every case is a real Alembic project; Alembic (which imports the modules) is the oracle.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from headcheck.gate import run_gate
from headcheck.settings import Settings, load_settings
from tests.alembic_oracle import load_ini

INI = "[alembic]\nscript_location = %(here)s/alembic\nprepend_sys_path = .\npath_separator = os\n"


def revision(rev: str, down: str | None, header: str = "", **attrs: str) -> str:
    lines = [f'"""{rev}\n\nRevision ID: {rev}\nRevises: {down or ""}\n"""', textwrap.dedent(header).strip()]
    lines.append(f"revision = {rev!r}\ndown_revision = {down!r}")
    lines += [f"{name} = {value}" for name, value in attrs.items()]
    lines.append("\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n")
    return "\n".join(lines)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An Alembic project run from its root (cwd), with sys.path and sys.modules restored after."""
    root = tmp_path / "proj"
    (root / "alembic" / "versions").mkdir(parents=True)
    (root / "alembic" / "env.py").write_text("")
    (root / "alembic.ini").write_text(INI)
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("HEADCHECK_NO_CACHE", "1")
    monkeypatch.setattr(sys, "path_importer_cache", {})  # "." means another folder in each test
    yield root
    for name in [m for m in sys.modules if m.startswith(("hcglance", "hcneutron_lib", "hcmig"))]:
        del sys.modules[name]


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def both(root: Path, settings: Settings | None = None) -> tuple[list[str], list[str], list[str]]:
    """(Alembic's heads, headcheck's heads, headcheck's finding codes and messages)."""
    oracle = load_ini(root / "alembic.ini")
    assert oracle.error is None, oracle.describe()
    result = run_gate(root, settings or load_settings(root))
    (env,) = result.environments
    return sorted(oracle.heads or []), sorted(env.heads), [f"{f.code} {f.message}" for f in env.findings]


def expand_contract(root: Path, *, expand: str, contract: str, header: str) -> None:
    """OpenStack's layout: a base, an expand and a contract branch, contract depending on expand."""
    v = "alembic/versions/"
    write(root, v + "a_base.py", revision("base0001", None))
    write(root, v + "b_expand.py", revision("exp00001", "base0001", header, branch_labels=f"({expand},)"))
    write(
        root,
        v + "c_contract.py",
        revision("con00001", "base0001", header, branch_labels=f"({contract},)", depends_on=repr("exp00001")),
    )
    write(root, v + "d_expand.py", revision("exp00002", "exp00001"))
    write(root, v + "e_contract.py", revision("con00002", "con00001", depends_on='"expand"'))


def test_same_file_constants_and_chains(project: Path) -> None:
    header = "EXPAND = 'expand'\n_C = 'contract'\nCONTRACT = _C\n"
    expand_contract(project, expand="EXPAND", contract="CONTRACT", header=header)
    alembic_heads, heads, findings = both(project)
    assert heads == alembic_heads == ["con00002", "exp00002"]
    assert findings == []


def test_repository_module_with_relative_import(project: Path) -> None:
    write(project, "hcglance/__init__.py", "")
    write(project, "hcglance/db/__init__.py", "")
    write(project, "hcglance/db/branches.py", "EXPAND = 'expand'\nCONTRACT = 'contract'\n")
    write(
        project,
        "hcglance/db/migration.py",
        "from .branches import EXPAND as EXPAND_BRANCH\nfrom . import branches\nCONTRACT_BRANCH = branches.CONTRACT\n",
    )
    expand_contract(
        project,
        expand="migration.EXPAND_BRANCH",
        contract="migration.CONTRACT_BRANCH",
        header="from hcglance.db import migration\n",
    )
    alembic_heads, heads, findings = both(project)
    assert heads == alembic_heads == ["con00002", "exp00002"]
    assert findings == []


def test_installed_module_on_sys_path(project: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site, "hcneutron_lib/__init__.py", "raise RuntimeError('headcheck must not import this')\n")
    write(site, "hcneutron_lib/db/__init__.py", "")
    write(site, "hcneutron_lib/db/constants.py", "EXPAND_BRANCH = 'expand'\nCONTRACT_BRANCH = 'contract'\n")
    expand_contract(
        project,
        expand="constants.EXPAND_BRANCH",
        contract="constants.CONTRACT_BRANCH",
        header="from hcneutron_lib.db import constants\n",
    )
    sys.path.insert(0, str(site))
    result = run_gate(project, Settings())
    assert "hcneutron_lib" not in sys.modules  # found, never imported
    (env,) = result.environments
    assert sorted(env.heads) == ["con00002", "exp00002"]
    assert env.findings == ()
    # Alembic itself cannot import a package whose __init__ raises: give it a harmless one.
    write(site, "hcneutron_lib/__init__.py", "")
    alembic_heads, heads, findings = both(project)
    assert heads == alembic_heads
    assert findings == []


def test_unresolvable_values_say_why_and_cause_no_knock_on_findings(project: Path) -> None:
    write(project, "hcmig/__init__.py", "")
    write(
        project,
        "hcmig/labels.py",
        "import os\nif os.environ.get('X'):\n    EXPAND = 'expand'\nelse:\n    EXPAND = 'expand'\nCONTRACT = 'contract'\n",
    )
    expand_contract(project, expand="labels.EXPAND", contract="labels.CONTRACT", header="from hcmig import labels\n")
    alembic_heads, heads, findings = both(project)
    assert alembic_heads == heads == ["con00002", "exp00002"]
    codes = [f.split()[0] for f in findings]
    assert codes.count("HC205") == 1
    assert "HC207" in codes
    assert not {"HC101", "HC103", "HC112"} & set(codes), findings  # the label 'expand' is unknown
    (hc205,) = [f for f in findings if f.startswith("HC205")]
    assert "bound conditionally" in hc205
    assert "hcmig.labels" in hc205
    (hc207,) = [f for f in findings if f.startswith("HC207")]
    assert "HC101" in hc207
    assert "HC103" in hc207


def test_missing_module_and_the_constants_escape_hatch(project: Path) -> None:
    expand_contract(
        project,
        expand="constants.EXPAND_BRANCH",
        contract="constants.CONTRACT_BRANCH",
        header="from hcnowhere_lib.db import constants\n",
    )
    result = run_gate(project, Settings())
    (env,) = result.environments
    messages = [f.message for f in env.findings if f.code == "HC205"]
    assert len(messages) == 2
    assert all("hcnowhere_lib.db.constants was not found" in m for m in messages)
    (project / "pyproject.toml").write_text(
        '[tool.headcheck]\nconstants = {"hcnowhere_lib.db.constants.EXPAND_BRANCH" = "expand", '
        '"hcnowhere_lib.db.constants.CONTRACT_BRANCH" = "contract"}\n'
    )
    result = run_gate(project, load_settings(project))
    (env,) = result.environments
    assert env.findings == ()
    assert sorted(env.heads) == ["con00002", "exp00002"]


def test_cycle_is_unresolved(project: Path) -> None:
    write(project, "alembic/versions/a.py", revision("aaaa0001", None, "A = B\nB = A\n", branch_labels="(A,)"))
    result = run_gate(project, Settings())
    (env,) = result.environments
    assert [f.code for f in env.findings] == ["HC205", "HC207"]
    assert "cycle" in env.findings[0].message


def test_bad_constants_setting_is_a_one_line_error(project: Path) -> None:
    from headcheck.config import ConfigError

    for text in ('constants = {"NAME" = "x"}', 'constants = {"a.b" = 3}', "constants = 1"):
        (project / "pyproject.toml").write_text(f"[tool.headcheck]\n{text}\n")
        with pytest.raises(ConfigError, match="constants"):
            load_settings(project)

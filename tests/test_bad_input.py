"""Bad input never gives a traceback: exit 1 (a finding) or 2 (a one-line error), run as a user would.

Every case runs ``python -m headcheck`` in a subprocess and checks the exit code, that stderr has
no traceback, and that a usage/configuration error is one line. Permission cases run as root
without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (``setpriv --bounding-set``), so file modes bind even
though the suite runs as root; they are skipped where that is not possible.

A hypothesis fuzz test then mutates real revision files (byte flips, truncation, insertions) and
checks that no exception escapes the gate or the reports, and that a file Alembic cannot compile
is a failing HC201 for headcheck too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headcheck.gate import GateResult
from headcheck.report import FORMATS, render
from headcheck.settings import Settings
from tests.alembic_oracle import load_versions
from tests.history_builder import Rev, gate, write_history, write_ini

REPO = Path(__file__).resolve().parents[1]


def headcheck(*args: str | Path, drop_dac: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "headcheck", *map(str, args)]
    if drop_dac:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    env.pop("HEADCHECK_DEBUG", None)
    return subprocess.run(command, capture_output=True, text=True, errors="replace", env=env, cwd=cwd, timeout=60)


def assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int) -> None:
    """Exit ``code``, no traceback; a usage error is exactly one line on stderr."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    if code == 2:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("headcheck: error:"), proc.stderr


def project(root: Path, revs: list[Rev] | None = None) -> Path:
    """A real Alembic project (alembic.ini + alembic/versions) with a valid two-step history."""
    write_ini(root)
    versions = root / "alembic" / "versions"
    write_history(versions, revs if revs is not None else [Rev("aaaa1", None), Rev("bbbb2", "aaaa1", style="typed")])
    return versions


def can_drop_dac() -> bool:
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


needs_dac_drop = pytest.mark.skipif(not can_drop_dac(), reason="needs root and setpriv to drop CAP_DAC_OVERRIDE")


def test_valid_project_passes(tmp_path: Path) -> None:
    project(tmp_path)
    proc = headcheck(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("binary.py", bytes(range(256)) * 4),
        ("nulls.py", b"revision = 'cccc3'\x00\ndown_revision = 'bbbb2'\n"),
        ("latin1_no_cookie.py", "revision = 'caf\u00e9'\ndown_revision = 'bbbb2'\n".encode("latin-1")),
        ("bad_cookie.py", b"# -*- coding: no-such-codec -*-\nrevision = 'cccc3'\ndown_revision = 'bbbb2'\n"),
        ("utf16.py", "revision = 'cccc3'\ndown_revision = 'bbbb2'\n".encode("utf-16")),
        ("deep_nesting.py", b"revision = " + b"(" * 300 + b"'c'" + b")" * 300 + b"\ndown_revision = 'bbbb2'\n"),
        ("long_chain.py", b"revision = " + b"+".join([b"'c'"] * 60000) + b"\ndown_revision = 'bbbb2'\n"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_unparsable_revision_file_is_a_finding(tmp_path: Path, name: str, content: bytes) -> None:
    versions = project(tmp_path)
    (versions / name).write_bytes(content)
    proc = headcheck(tmp_path, "--format", "json")
    assert_clean_failure(proc, 1)
    report = json.loads(proc.stdout)
    codes = {f["code"] for env in report["environments"] for f in env["findings"] if f["path"].endswith(name)}
    assert codes & {"HC201", "HC205"}, report
    oracle = load_versions(versions)
    assert oracle.error is not None or codes == {"HC205"}, oracle.describe()


def test_non_utf8_byte_in_a_comment_loads_in_both(tmp_path: Path) -> None:
    """CPython does not decode comments strictly: Alembic loads such a file, so headcheck must too."""
    versions = project(tmp_path)
    (versions / "c.py").write_bytes(b"revision = 'cccc3'\ndown_revision = 'bbbb2'\n# caf\xe9\n")
    assert load_versions(versions).heads == ["cccc3"]
    proc = headcheck(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_latin1_with_cookie_loads(tmp_path: Path) -> None:
    versions = project(tmp_path)
    text = "# -*- coding: latin-1 -*-\n'''Caf\u00e9 \u00fcber'''\nrevision = 'cccc3'\ndown_revision = 'bbbb2'\n"
    (versions / "latin1.py").write_bytes(text.encode("latin-1"))
    proc = headcheck(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert load_versions(versions).heads == ["cccc3"]


@pytest.mark.parametrize(("name", "code"), [("empty.py", "HC202"), ("abc.py", "HC203")])
def test_empty_file(tmp_path: Path, name: str, code: str) -> None:
    """Alembic: no revision and a non-hex name -> 'Could not determine revision id'; hex name -> no down_revision."""
    versions = project(tmp_path)
    (versions / name).write_bytes(b"")
    proc = headcheck(tmp_path, "--format", "json")
    assert_clean_failure(proc, 1)
    assert code in proc.stdout
    assert load_versions(versions).error is not None


def test_directory_named_like_a_revision_is_ignored(tmp_path: Path) -> None:
    versions = project(tmp_path)
    (versions / "x.py").mkdir()
    proc = headcheck(tmp_path)
    assert "Traceback" not in proc.stderr
    assert load_versions(versions).ok
    assert proc.returncode == 0, proc.stdout  # Alembic skips it too (os.walk lists it as a folder)


def test_dangling_symlink(tmp_path: Path) -> None:
    versions = project(tmp_path)
    (versions / "gone.py").symlink_to(tmp_path / "nowhere.py")
    proc = headcheck(tmp_path)
    assert_clean_failure(proc, 1)
    assert "HC204" in proc.stdout and "gone.py" in proc.stdout
    assert load_versions(versions).error is not None  # Alembic: ImportError "Can't find Python file"


def test_symlink_loop(tmp_path: Path) -> None:
    versions = project(tmp_path)
    (versions / "loop_a.py").symlink_to(versions / "loop_b.py")
    (versions / "loop_b.py").symlink_to(versions / "loop_a.py")
    proc = headcheck(tmp_path)
    assert_clean_failure(proc, 1)
    assert proc.stdout.count("HC204") == 2


def test_directory_symlink_loop_with_recursion(tmp_path: Path) -> None:
    versions = project(tmp_path)
    (versions / "sub").mkdir()
    (versions / "sub" / "back").symlink_to(versions, target_is_directory=True)
    proc = headcheck("--versions", versions, "--recursive", tmp_path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr  # os.walk does not follow directory links


@needs_dac_drop
def test_unreadable_revision_file(tmp_path: Path) -> None:
    versions = project(tmp_path)
    (versions / "bbbb2_step.py").chmod(0)
    proc = headcheck(tmp_path, drop_dac=True)
    assert_clean_failure(proc, 1)
    assert "HC204" in proc.stdout and "Permission denied" in proc.stdout


@needs_dac_drop
def test_unreadable_versions_folder_fails(tmp_path: Path) -> None:
    """Alembic's os.walk silently skips a folder it cannot list (an empty graph); headcheck fails."""
    versions = project(tmp_path)
    versions.chmod(0)
    try:
        proc = headcheck(tmp_path, drop_dac=True)
    finally:
        versions.chmod(0o755)
    assert_clean_failure(proc, 1)
    assert "HC204" in proc.stdout and "cannot read folder" in proc.stdout


@needs_dac_drop
def test_unreadable_config(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "alembic.ini").chmod(0)
    proc = headcheck("--config", tmp_path / "alembic.ini", tmp_path, drop_dac=True)
    assert_clean_failure(proc, 2)
    assert "Permission denied" in proc.stderr
    # Discovery skips the unreadable file: still exit 2 and one line, never a pass.
    assert_clean_failure(headcheck(tmp_path, drop_dac=True), 2)


def test_missing_path(tmp_path: Path) -> None:
    assert_clean_failure(headcheck(tmp_path / "nope"), 2)


def test_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x", encoding="utf-8")
    assert_clean_failure(headcheck(tmp_path / "f.txt"), 2)


def test_no_environment(tmp_path: Path) -> None:
    assert_clean_failure(headcheck(tmp_path), 2)


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "missing.ini"],
        ["--versions", "missing_dir"],
        ["--versions", "alembic.ini"],
        ["--format", "nope"],
        ["--max-heads", "0"],
        ["--max-heads", "x"],
        ["--ignore", "HC999"],
        ["--no-such-flag"],
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str]) -> None:
    project(tmp_path)
    proc = headcheck(*args, tmp_path, cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip(), "a usage error says what is wrong"


@pytest.mark.parametrize(
    "text",
    [
        "[alembic\nscript_location = alembic\n",
        "script_location = alembic\n",
        "[alembic]\nscript_location = a\nscript_location = b\n",
        "[alembic]\n  script_location = alembic\n bad continuation\n[",
    ],
    ids=["unclosed-section", "no-section", "duplicate-key", "garbage"],
)
def test_broken_alembic_ini(tmp_path: Path, text: str) -> None:
    project(tmp_path)
    (tmp_path / "alembic.ini").write_text(text, encoding="utf-8")
    proc = headcheck(tmp_path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert_clean_failure(proc, 2)


def test_binary_alembic_ini(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "alembic.ini").write_bytes(b"\xff\xfe\x00[alembic]\nscript_location = x\n")
    proc = headcheck(tmp_path)
    assert_clean_failure(proc, 2)
    proc = headcheck("--config", tmp_path / "alembic.ini", tmp_path)
    assert_clean_failure(proc, 2)


def test_interpolation_error_in_ini(tmp_path: Path) -> None:
    """Alembic dies with InterpolationMissingOptionError; headcheck: HC407 or a one-line error."""
    project(tmp_path)
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(nope)s/alembic\n", encoding="utf-8")
    proc = headcheck("--config", tmp_path / "alembic.ini", tmp_path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (1, 2)
    assert_clean_failure(proc, proc.returncode)


@pytest.mark.parametrize(
    "text",
    [
        '[tool.alembic]\nscript_location = "unterminated\n',
        "[tool.alembic\n",
        '[tool.alembic]\nscript_location = "%(here)s/alembic"\n[tool.alembic]\n',
        "[tool.headcheck]\nmax-heads = [\n",
        '[tool.headcheck]\nmax-heads = "two"\n',
        "[tool.headcheck]\nignore = 3\n",
        '[tool.headcheck]\nignore = ["HC999"]\n',
    ],
    ids=[
        "unterminated-string",
        "unclosed-table",
        "duplicate-table",
        "unclosed-array",
        "bad-max-heads",
        "bad-ignore",
        "unknown-code",
    ],
)
def test_broken_pyproject(tmp_path: Path, text: str) -> None:
    project(tmp_path)
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    assert_clean_failure(headcheck(tmp_path), 2)


def test_binary_pyproject(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "pyproject.toml").write_bytes(b"\xff\xfe[tool.alembic]\x00")
    proc = headcheck(tmp_path)
    assert_clean_failure(proc, 2)
    assert "internal error" not in proc.stderr


def test_lone_surrogate_in_revision_id(tmp_path: Path) -> None:
    versions = project(tmp_path)
    (versions / "s.py").write_text("revision = '\\ud800'\ndown_revision = 'bbbb2'\n", encoding="utf-8")
    proc = headcheck(tmp_path)
    assert "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1)


def test_internal_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    """Whatever goes wrong inside, the CLI prints one line (HEADCHECK_DEBUG=1 shows the traceback)."""
    versions = project(tmp_path)
    (versions / "s.py").write_text("revision = '\\ud800'\ndown_revision = 'bbbb2'\n", encoding="utf-8")
    proc = headcheck(tmp_path)
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 1


# -- fuzz: mutated revision files --------------------------------------------------------------

SEED_FILES = [
    Rev("aaaa1", None, style="plain"),
    Rev("bbbb2", "aaaa1", style="typed", branch_labels="core"),
    Rev("cccc3", ("aaaa1", "bbbb2"), style="unpack", depends_on="aaaa1"),
]
TOKENS = [
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"# -*- coding: latin-1 -*-\n",
    b"# coding: nope\n",
    b"(",
    b")",
    b"'",
    b'"""',
    b"\\",
    b"\n",
    b"\t",
    b"    ",
    b",",
    b"=",
    b":",
    b"revision = ",
    b"down_revision = ",
    b"depends_on = ",
    b"branch_labels = ",
    b"del revision\n",
    b"if True:\n    ",
    b"None",
    b"'aaaa1'",
    b"('aaaa1', None)",
    b"\xe9",
    b"\r",
    b"\x0c",
]


@st.composite
def mutations(draw: st.DrawFn) -> tuple[int, bytes]:
    target = draw(st.integers(0, len(SEED_FILES) - 1))
    from tests.history_builder import render as render_revision

    data = bytearray(render_revision(SEED_FILES[target]).encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "token"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[position:]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        else:
            data[position:position] = draw(st.sampled_from(TOKENS))
    return target, bytes(data)


# CI runs 200 examples; HEADCHECK_FUZZ_EXAMPLES=5000 for a long hunt.
@settings(
    max_examples=int(os.environ.get("HEADCHECK_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutations())
def test_fuzzed_revision_files_never_crash_the_gate(mutation: tuple[int, bytes]) -> None:
    target, data = mutation
    with tempfile.TemporaryDirectory(prefix="headcheck-fuzz-") as tmp:
        versions = Path(tmp) / "versions"
        paths = write_history(versions, SEED_FILES)
        paths[target].write_bytes(data)
        result = gate(versions)  # no exception may escape
        for fmt in FORMATS:
            render(fmt, GateResult(Path(tmp), Settings(), (result,)), color=fmt == "text")
        oracle = load_versions(versions)
    codes = {f.code for f in result.findings if f.severity == "error"}
    if isinstance(oracle.error, SyntaxError):
        # Alembic compiles with the same parser: a file it cannot compile fails headcheck as HC201.
        assert "HC201" in codes, (oracle.describe(), result.findings)
    if "HC201" in codes:
        assert oracle.error is not None, result.findings

"""Bad input never gives a traceback: exit 1 (a finding) or 2 (a one-line error), run as a user would.

Every case runs the CLI (``cli.main`` in this process, with its own stdout/stderr, environment and
working directory) and checks the exit code, that stderr has no traceback, and that a
usage/configuration error is one line. ``python -m headcheck`` runs in a subprocess only where the
process is part of the case: permission cases run as root without
CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (``setpriv --bounding-set``), so file modes bind even though
the suite runs as root (skipped where that is not possible); a FIFO, a device or a link to ``/``
that could hang or exhaust the process is killed by the timeout; a lone surrogate meets the
interpreter's own stdout encoding; ``PYTHONWARNINGS`` and deep TOML nesting meet a fresh interpreter.

A hypothesis fuzz test then mutates real revision files (byte flips, truncation, insertions) and
checks that no exception escapes the gate or the reports, and that a file Alembic cannot compile
is a failing HC201 for headcheck too.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headcheck.cli import main
from headcheck.gate import GateResult
from headcheck.report import FORMATS, render
from headcheck.settings import Settings
from tests.alembic_oracle import load_versions
from tests.history_builder import Rev, gate, write_history, write_ini

REPO = Path(__file__).resolve().parents[1]


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def headcheck(
    *args: str | Path,
    drop_dac: bool = False,
    spawn: bool = False,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Ran:
    """``headcheck ARGS`` with ``NO_COLOR=1``, ``env`` added, HEADCHECK_DEBUG unset, in ``cwd``.

    In this process (``cli.main``, stdout and stderr UTF-8 text streams as a process has), unless
    ``drop_dac`` (setpriv: a process without the capabilities) or ``spawn`` (``python -m headcheck``
    in a subprocess killed after 60 s)."""
    extra = {"NO_COLOR": "1", **(env or {})}
    if drop_dac or spawn:
        command = [sys.executable, "-m", "headcheck", *map(str, args)]
        if drop_dac:
            command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
        full = {**os.environ, "PYTHONPATH": str(REPO), **extra}
        full.pop("HEADCHECK_DEBUG", None)
        done = subprocess.run(command, capture_output=True, text=True, errors="replace", env=full, cwd=cwd, timeout=60)
        return Ran(done.returncode, done.stdout, done.stderr)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", newline="\n", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace", newline="\n", write_through=True)
    here = os.getcwd()
    with mock.patch.dict(os.environ, extra), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        os.environ.pop("HEADCHECK_DEBUG", None)
        if cwd is not None:
            os.chdir(cwd)
        try:
            code = main([str(arg) for arg in args])
        finally:
            os.chdir(here)

    def text(stream: io.TextIOWrapper) -> str:
        raw = stream.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue().decode("utf-8", errors="replace")

    return Ran(code, text(out), text(err))


def assert_clean_failure(proc: Ran, code: int) -> None:
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
    assert "HC204" in proc.stdout
    assert "gone.py" in proc.stdout
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
    assert "HC204" in proc.stdout
    assert "Permission denied" in proc.stdout


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
    assert "HC204" in proc.stdout
    assert "cannot read folder" in proc.stdout


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
    proc = headcheck(tmp_path, spawn=True)  # the interpreter's own stdout encoding
    assert "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1)


def test_internal_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    """Whatever goes wrong inside, the CLI prints one line (HEADCHECK_DEBUG=1 shows the traceback)."""
    versions = project(tmp_path)
    (versions / "s.py").write_text("revision = '\\ud800'\ndown_revision = 'bbbb2'\n", encoding="utf-8")
    proc = headcheck(tmp_path, spawn=True)
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


# -- hostile input: time linear in the input, bounded messages, no hangs (issue 15) ---------------


def _seconds(action: object) -> float:
    """The best of two timings of ``action()``: less noise from other processes on the machine."""
    import time

    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


HOSTILE_SHAPES = {
    # 40,000 conditional bindings: one source segment per binding used to re-split the whole file.
    "conditional-bindings": b"down_revision = None\n" + b"if x:\n    revision = 'a'\n" * 40_000,
    # One 900 KB expression, echoed in the HC205 message.
    "long-call": b"revision = 'a'\ndown_revision = f(" + b"a, " * 300_000 + b")\n",
    # A docstring of blank lines before "Revises:" (a \s* scan would rescan every following line).
    "blank-docstring": b'"""' + b"\n" * 1_000_000 + b'x"""\nrevision = "a"\ndown_revision = None\n',
    # A 1 MB data migration: one long list literal inside upgrade().
    "bulk-insert": b"revision = 'a'\ndown_revision = None\ndef upgrade():\n    op.bulk_insert(t, [\n"
    + b"        {'id': 1, 'name': 'some longer text value here'},\n" * 20_000
    + b"    ])\n",
}


@pytest.mark.parametrize("shape", sorted(HOSTILE_SHAPES))
def test_one_large_file_costs_about_one_parse(shape: str) -> None:
    """Reading a 1 MB revision file costs a small multiple of Python's own parse of it.

    Compared in the same process, so a loaded machine slows both sides alike; the quadratic
    cases this guards against took minutes where the parse takes a fraction of a second.
    """
    import ast

    from headcheck.records import revision_node
    from headcheck.scan import parse_revision

    data = HOSTILE_SHAPES[shape]
    assert len(data) >= 900_000
    parse_alone = _seconds(lambda: ast.parse(data))
    ours = _seconds(lambda: revision_node(parse_revision(Path("x.py"), data)))
    assert ours < 4 * parse_alone + 0.2, (ours, parse_alone)


def test_echoed_expression_is_cut(tmp_path: Path) -> None:
    versions = project(tmp_path)
    (versions / "long.py").write_bytes(HOSTILE_SHAPES["long-call"])
    proc = headcheck(tmp_path, "--format", "json")
    assert_clean_failure(proc, 1)
    assert len(proc.stdout) < 20_000  # the expression is 900 KB
    messages = [f["message"] for env in json.loads(proc.stdout)["environments"] for f in env["findings"]]
    hc205 = [m for m in messages if "not a literal" in m]
    assert len(hc205) == 1, messages
    assert "f(a, a, a" in hc205[0], messages
    assert "..." in hc205[0], messages
    assert all(len(m) <= 2000 for m in messages)


def test_message_limit_applies_to_every_finding() -> None:
    from headcheck.findings import _finding

    finding = _finding("HC102", "x" * 100_000, "y" * 100_000, None, None)
    assert len(finding.message) == len(finding.fix or "") == 2000
    assert finding.message.endswith("...")
    assert (finding.fix or "").endswith("...")


def test_fifo_in_versions_is_unreadable_not_a_hang(tmp_path: Path) -> None:
    versions = project(tmp_path)
    os.mkfifo(versions / "x.py")
    proc = headcheck(tmp_path, spawn=True)  # a blocking open() never returns: the 60 s timeout would fire
    assert_clean_failure(proc, 1)
    assert "HC204" in proc.stdout, proc.stdout
    assert "FIFO" in proc.stdout, proc.stdout


def test_fifo_as_config_files_is_an_error_not_a_hang(tmp_path: Path) -> None:
    project(tmp_path)
    os.mkfifo(tmp_path / "pyproject.toml")
    proc = headcheck(tmp_path, spawn=True)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "alembic.ini").unlink()
    os.mkfifo(tmp_path / "alembic.ini")
    assert_clean_failure(headcheck(tmp_path, spawn=True), 2)
    assert_clean_failure(headcheck("--config", tmp_path / "alembic.ini", tmp_path, spawn=True), 2)


def test_device_named_like_a_revision_is_unreadable(tmp_path: Path) -> None:
    import stat

    versions = project(tmp_path)
    try:
        os.mknod(versions / "zero.py", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero: never ends
    except OSError:
        pytest.skip("cannot create a device node here")
    proc = headcheck(tmp_path, spawn=True)  # reading /dev/zero to the end would fill the memory
    assert_clean_failure(proc, 1)
    assert "HC204" in proc.stdout, proc.stdout
    assert "device" in proc.stdout, proc.stdout


def test_linked_subfolder_is_never_walked_for_the_hint(tmp_path: Path) -> None:
    """A committed ``versions/x -> /`` must not make the ignored-subfolder hint walk the machine."""
    versions = project(tmp_path)
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "cccc3_x.py").write_text("revision = 'cccc3'\ndown_revision = 'bbbb2'\n")
    (versions / "linked").symlink_to(outside, target_is_directory=True)
    (versions / "root").symlink_to("/", target_is_directory=True)
    proc = headcheck(tmp_path, "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # Alembic does not descend into links either
    assert load_versions(versions).heads == ["bbbb2"]
    assert load_versions(versions, recursive=True).heads == ["bbbb2"]


def test_ignored_subfolder_hint_is_bounded(tmp_path: Path) -> None:
    """A huge real subtree costs a bounded walk (the hint stops after a budget of entries)."""
    from headcheck.version_files import HINT_ENTRY_BUDGET, py_files_below

    folder = tmp_path / "big"
    for k in range(30):
        sub = folder / f"d{k:02d}"
        sub.mkdir(parents=True)
        for j in range(200):
            (sub / f"f{j}.txt").touch()
    (folder / "d29" / "late.py").touch()
    assert list(py_files_below(folder, budget=10_000)) == [folder / "d29" / "late.py"]
    assert list(py_files_below(folder, budget=HINT_ENTRY_BUDGET)) == []  # gave up, 6,000 entries


def test_version_location_linked_to_root_finishes(tmp_path: Path) -> None:
    """``versions -> /``: Alembic lists /'s files; the hint must not walk every folder below /."""
    write_ini(tmp_path)
    (tmp_path / "alembic").mkdir()
    (tmp_path / "alembic" / "versions").symlink_to("/", target_is_directory=True)
    proc = headcheck(tmp_path, spawn=True)  # was killed after 15 minutes; the helper's timeout is 60 s
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr


@needs_dac_drop
def test_script_location_in_a_folder_one_cannot_enter(tmp_path: Path) -> None:
    project(tmp_path)
    locked = tmp_path / "locked"
    (locked / "inner").mkdir(parents=True)
    (tmp_path / "alembic.ini").write_text(f"[alembic]\nscript_location = {locked / 'inner' / 'alembic'}\n")
    locked.chmod(0)
    try:
        proc = headcheck(tmp_path, drop_dac=True)
        path_proc = headcheck(locked / "inner", drop_dac=True)
    finally:
        locked.chmod(0o755)
    assert_clean_failure(proc, 1)
    assert "HC402" in proc.stdout, proc.stdout
    assert "Permission denied" in proc.stdout, proc.stdout
    assert_clean_failure(path_proc, 2)
    assert "permission denied" in path_proc.stderr.lower()


def test_paths_over_the_os_limit(tmp_path: Path) -> None:
    project(tmp_path)
    long_name = "x" * 300  # NAME_MAX is 255
    (tmp_path / "alembic.ini").write_text(f"[alembic]\nscript_location = %(here)s/{long_name}\n")
    proc = headcheck(tmp_path)
    assert_clean_failure(proc, 1)
    assert "HC402" in proc.stdout
    assert "File name too long" in proc.stdout
    assert_clean_failure(headcheck(tmp_path / long_name), 2)
    assert_clean_failure(headcheck("--versions", tmp_path / long_name, tmp_path), 2)
    assert_clean_failure(headcheck("--config", tmp_path / long_name, tmp_path), 2)


def test_exponential_interpolation_is_one_bounded_line(tmp_path: Path) -> None:
    project(tmp_path)
    chain = "[alembic]\na0 = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
    chain += "".join(f"a{k} = %(a{k - 1})s%(a{k - 1})s\n" for k in range(1, 10))
    chain += "script_location = %(a9)s\n"
    (tmp_path / "alembic.ini").write_text(chain)
    for args in ((tmp_path,), ("--config", tmp_path / "alembic.ini", tmp_path)):
        proc = headcheck(*args)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode in (1, 2), proc.stderr
        assert len(proc.stdout) + len(proc.stderr) < 10_000
        assert_clean_failure(proc, proc.returncode)


@pytest.mark.parametrize("nesting", ["table", "array"])
def test_deeply_nested_toml(tmp_path: Path, nesting: str) -> None:
    project(tmp_path)
    if nesting == "array":
        text = "[tool.alembic]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n"
    else:
        text = "[tool.alembic]\nx = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n"
    (tmp_path / "pyproject.toml").write_text(text)
    proc = headcheck(tmp_path, spawn=True)  # a fresh interpreter's stack, not pytest's
    assert_clean_failure(proc, 2)
    assert "nested too deeply" in proc.stderr


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00garbage", b"\xe9\x02\x00\x00\x00", None],
    ids=["empty", "garbage", "truncated", "wrong-shapes"],
)
def test_malformed_cache_file_is_ignored(tmp_path: Path, content: bytes | None) -> None:
    import marshal

    from headcheck import __version__

    project(tmp_path)
    cache = tmp_path / "cache"
    env = {"HEADCHECK_CACHE_DIR": str(cache)}
    first = headcheck(tmp_path, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files
    for path in files:
        if content is None:  # decodes fine, but every field has the wrong type
            path.write_bytes(marshal.dumps((2, __version__, {b"x": 1}, {"a": 5}, 7, [1], {2: 3})))
        else:
            path.write_bytes(content)
    again = headcheck(tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "internal error" not in again.stderr, again.stdout + again.stderr


# Each parses (ast.parse accepts it) but only compiles with an error, as Alembic's import does.
COMPILER_ONLY_ERRORS = {
    "return-outside-function": "return 1\n",
    "duplicate-argument": "def f(a, a):\n    pass\n",
    "nonlocal-at-module-level": "nonlocal x\n",
    "break-outside-loop": "break\n",
    "continue-outside-loop": "continue\n",
    "await-outside-function": "await x\n",
    "yield-outside-function": "yield 1\n",
    "starred-assignment": "*a = 1\n",
    "late-future-import": "x = 1\nfrom __future__ import annotations\n",
    "future-braces": "from __future__ import braces\n",
    "assigned-before-global": "def f():\n    x = 1\n    global x\n",
    "async-for-outside-async": "async for x in y:\n    pass\n",
    "return-in-async-generator": "async def f():\n    yield 1\n    return 2\n",
    "parameter-and-nonlocal": "def f(a):\n    nonlocal a\n",
    "import-star-in-function": "def f():\n    from os import *\n",
}


@pytest.mark.parametrize("name", sorted(COMPILER_ONLY_ERRORS))
def test_compiler_only_syntax_errors_fail_as_in_alembic(tmp_path: Path, name: str) -> None:
    import ast

    versions = project(tmp_path)
    body = COMPILER_ONLY_ERRORS[name]
    ast.parse(body)  # the parser alone accepts it
    text = "revision = 'cccc3'\ndown_revision = 'bbbb2'\n"
    (versions / "cccc3_bad.py").write_text(body + text if "future" not in name else text + body)
    oracle = load_versions(versions)
    assert isinstance(oracle.error, SyntaxError), oracle.describe()
    proc = headcheck(tmp_path, "--format", "json")
    assert_clean_failure(proc, 1)
    findings = [f for env in json.loads(proc.stdout)["environments"] for f in env["findings"]]
    assert [f["code"] for f in findings if f["path"].endswith("cccc3_bad.py")] == ["HC201"], findings
    assert oracle.error.msg in findings[0]["message"]


def test_invalid_escape_warning_is_not_an_error(tmp_path: Path) -> None:
    """An invalid escape only warns when Alembic imports the file (even with -W error here)."""
    versions = project(tmp_path)
    (versions / "c.py").write_text("revision = 'cccc3'\ndown_revision = 'bbbb2'\nX = '\\d'\n")
    assert load_versions(versions).heads == ["cccc3"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "error"}
    proc = subprocess.run([sys.executable, "-m", "headcheck", str(tmp_path)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_base_with_large_edits_and_deep_expressions_is_fast(tmp_path: Path) -> None:
    """``--base``: the first changed line is found linearly, and a 1,000-term expression in an
    applied revision compares without RecursionError (ast.dump recursed)."""
    import time

    from headcheck.change.history_edits import first_changed_line, same_code
    from tests.git_project import add_revision, alembic_project, commit_all, git

    old = b"".join(b"x%d = %d\n" % (k, k) for k in range(200_000))
    new = old.replace(b"x150000 = 150000", b"x150000 = 1")
    start = time.perf_counter()
    assert first_changed_line(old, new) == 150_001
    assert time.perf_counter() - start < 2
    assert first_changed_line(b"a\nb\n", b"a\nb\nc\n") == 3
    assert first_changed_line(b"a\nb\nc\n", b"a\nb\n") == 2
    assert first_changed_line(b"a\n", b"a\n") is None

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    alembic_project(repo)
    path = add_revision(repo, "aaaa", None)
    deep = "X = " + " + ".join(["1"] * 1200) + "\n"  # ast.dump recursed once per term
    path.write_text(path.read_text() + deep)
    commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    path.write_text(path.read_text() + "# only a comment\n")
    commit_all(repo, "comment")
    assert same_code(path.read_bytes(), path.read_bytes() + b"\n# c\n")
    proc = headcheck(repo, "--base", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path.write_text(path.read_text().replace("1 + 1 + 1\n", "1 + 1 + 2\n"))
    commit_all(repo, "edit")
    proc = headcheck(repo, "--base", "main")
    assert_clean_failure(proc, 1)
    assert "HC501" in proc.stdout


def test_control_characters_from_the_repository_are_spelled_out(tmp_path: Path) -> None:
    """An escape sequence or newline in a revision value cannot forge or colour log lines."""
    versions = project(tmp_path)
    (versions / "c.py").write_text("revision = 'cccc3'\ndown_revision = '\\x1b[32mok\\nHC000 fake'\n")
    proc = headcheck(tmp_path)
    assert_clean_failure(proc, 1)
    assert "\x1b" not in proc.stdout, proc.stdout
    assert "\\x1b[32mok\\nHC000 fake" in proc.stdout, proc.stdout
    assert not any(line.startswith("HC000") for line in proc.stdout.splitlines())

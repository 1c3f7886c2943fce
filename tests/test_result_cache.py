"""The whole-result cache: an identical run replays the stored report, any change misses.

Runs go through ``headcheck.cli.main`` in this process. A replay is proved by making the gate
itself unusable (``commands.check.run`` raises): only a replay can still answer.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pytest

from headcheck import result_cache
from headcheck.cli import main
from headcheck.commands import check
from tests.project import revision_file, write_project


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("HEADCHECK_CACHE_DIR", str(folder))
    monkeypatch.delenv("HEADCHECK_NO_CACHE", raising=False)
    # Files written by the test are seconds old at most: accept them (the racy-clean rule has
    # its own test below), and let every edit move the clock forward.
    monkeypatch.setattr(result_cache, "_RACY_NS", 0)
    return folder


def _project(root: Path) -> Path:
    return write_project(root, {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1")})


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def _gate_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_args: object) -> int:
        raise AssertionError("the gate ran: no replay")

    monkeypatch.setattr(check, "run", broken)


def _later() -> None:
    time.sleep(0.02)  # past the file system's timestamp granularity


@pytest.mark.usefixtures("cache")
def test_identical_run_replays_without_running_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path / "p")
    first = _run(capsys, str(tmp_path / "p"))
    assert first[0] == 0
    assert "2 revisions" in first[1]
    _gate_broken(monkeypatch)
    assert _run(capsys, str(tmp_path / "p")) == first
    assert main([str(tmp_path / "p"), "--format", "json"]) == 2  # other arguments: another key
    assert "no replay" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change",
    [
        "edit-same-size",
        "new-revision",
        "deleted-revision",
        "new-ini-elsewhere",
        "settings",
        "chmod",
        "env-var",
        "renamed-folder-link",
    ],
)
@pytest.mark.usefixtures("cache")
def test_any_change_misses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    root = tmp_path / "p"
    versions = _project(root)
    if change == "renamed-folder-link":
        (root / "real").mkdir()
        (versions / "c.py").write_text(revision_file("cccc3", "bbbb2"))
        os.rename(versions, root / "real" / "versions")
        versions.symlink_to(root / "real" / "versions", target_is_directory=True)
    before = _run(capsys, str(root))
    _later()
    if change == "edit-same-size":
        path = versions / "b.py"
        text = path.read_text()
        stat = path.stat()
        path.write_text(text.replace("'aaaa1'", "'zzzz9'"))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime
    elif change == "new-revision":
        (versions / "c.py").write_text(revision_file("cccc3", "aaaa1"))
    elif change == "deleted-revision":
        (versions / "a.py").unlink()
    elif change == "new-ini-elsewhere":
        _project(root / "sub" / "other")
        (root / "sub" / "other" / "alembic" / "versions" / "c.py").write_text(revision_file("cccc3", "nope"))
    elif change == "settings":
        (root / "pyproject.toml").write_text("[tool.headcheck]\nstrict = true\nignore = ['HC301']\n")
        (versions / "c.py").write_text(revision_file("cccc3", "aaaa1").replace("Revises: aaaa1", "Revises: x"))
    elif change == "chmod":
        (versions / "b.py").chmod(0o000)
        if os.geteuid() == 0:  # root reads it anyway: the mode change alone must still miss
            pass
    elif change == "env-var":
        monkeypatch.setenv("HEADCHECK_SOMETHING", "1")
    elif change == "renamed-folder-link":
        (root / "other").mkdir()
        (root / "other" / "versions").mkdir()
        for name in ("a.py", "b.py"):
            (root / "other" / "versions" / name).write_text((root / "real" / "versions" / name).read_text())
        versions.unlink()
        versions.symlink_to(root / "other" / "versions", target_is_directory=True)
    fresh_monkeypatch_runs: list[int] = []
    original = check.run

    def counting(args: object) -> int:
        fresh_monkeypatch_runs.append(1)
        return original(args)  # type: ignore[arg-type]

    monkeypatch.setattr(check, "run", counting)
    after = _run(capsys, str(root))
    assert fresh_monkeypatch_runs == [1], "the gate ran again"
    if change not in ("chmod", "env-var"):
        assert after != before


def test_racily_clean_results_are_not_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADCHECK_CACHE_DIR", str(tmp_path / "cache"))
    _project(tmp_path / "p")
    _run(capsys, str(tmp_path / "p"))  # files written just now: a same-tick edit could go unseen
    assert not (tmp_path / "cache" / "results").exists()


def test_untrusted_or_malformed_cache_files_are_ignored(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path / "p")
    first = _run(capsys, str(tmp_path / "p"))
    (stored,) = (cache / "results").iterdir()
    stored.chmod(0o666)  # anyone could have written it
    runs: list[int] = []
    original = check.run

    def counted(args: argparse.Namespace) -> int:
        runs.append(1)
        return original(args)

    monkeypatch.setattr(check, "run", counted)
    assert _run(capsys, str(tmp_path / "p")) == first
    assert runs == [1]
    for garbage in (b"", b"\x00\x01junk", b"\xe9\x02\x00\x00\x00"):
        stored.write_bytes(garbage)
        stored.chmod(0o600)
        assert _run(capsys, str(tmp_path / "p")) == first


def test_version_and_interpreter_are_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = result_cache.run_key(["."], False)
    monkeypatch.setattr(result_cache, "__version__", "9.9.9")
    assert result_cache.run_key(["."], False) != key


@pytest.mark.parametrize("argv", [["--no-cache"], ["--base", "main"], ["--output", "x"], ["-ox"]])
def test_uncacheable_arguments_never_replay(tmp_path: Path, cache: Path, argv: list[str]) -> None:
    _project(tmp_path / "p")
    # a cacheable run that missed arms store() ...
    assert result_cache.replay([str(tmp_path / "p")], False) is None
    # ... an uncacheable one neither replays nor leaves that run armed: its report is never stored
    assert result_cache.replay([str(tmp_path / "p"), *argv], False) is None
    result_cache.store("report of the uncacheable run\n", "", 0)
    stored = cache / "results"
    assert not stored.exists() or not any(stored.iterdir())


@pytest.mark.usefixtures("cache")
def test_a_file_that_could_not_be_read_is_a_dependency_of_a_fresh_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A first run (empty cache) of a history read on both cores, with a revision file that
    cannot be read (a link to a file that does not exist yet): once the file appears, the
    stored result is not replayed. (Nothing else changes: not the versions folder, not its
    listing, only what the link points to.)"""
    revisions: dict[str, object] = {
        f"r{n:03d}.py": (f"rev{n:03d}", f"rev{n - 1:03d}" if n else None) for n in range(250)
    }
    versions = write_project(tmp_path / "p", revisions)
    target = tmp_path / "elsewhere" / "late.py"
    (versions / "zz_late.py").symlink_to(target)
    code, before = _run(capsys, str(tmp_path / "p"))
    assert code == 1
    assert "HC204" in before
    _later()
    target.parent.mkdir()
    target.write_text(revision_file("late1", "rev249"))
    code, after = _run(capsys, str(tmp_path / "p"))
    assert code == 0, after
    assert "251 revisions" in after

"""``headcheck.version_files``: the files Alembic loads, in its order, without importing any.

The oracle is Alembic's ``Script._list_py_dir`` (what ``ScriptDirectory`` walks each version
location with), asked about the same folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from alembic.script.base import Script, _only_source_rev_file

from headcheck.version_files import list_revision_paths, py_files_below


def _alembic_order(locations: list[Path], recursive: bool) -> list[Path]:
    """Every file Alembic would load, in order: ``ScriptDirectory._load_revisions`` lists each
    location, drops a real path seen before, and ``Script._from_path`` keeps only a resolved
    name matching ``_only_source_rev_file``."""
    script = ScriptDirectory(
        str(locations[0].parent), version_locations=[str(p) for p in locations], recursive_version_locations=recursive
    )
    seen: set[Path] = set()
    order: list[Path] = []
    for location in locations:
        if not location.is_dir():
            continue
        for path in Script._list_py_dir(script, location):  # noqa: SLF001 -- pins headcheck against the files Alembic itself lists
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            if _only_source_rev_file.match(real.name):
                order.append(Path(path))
    return order


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


FILES = [
    "b_second.py",
    "a_first.py",
    "__init__.py",
    ".#a_first.py",  # an editor's lock file
    "notes.txt",
    "c.pyc",
    "sub/a_nested.py",
    "sub/deeper/z.py",
    "__pycache__/cached.py",
]


@pytest.mark.parametrize("recursive", [False, True])
def test_files_and_order_are_alembics(tmp_path: Path, recursive: bool) -> None:
    versions = tmp_path / "versions"
    _tree(versions, FILES)
    paths, twice, ignored, missing = list_revision_paths((versions,), recursive)
    assert paths == _alembic_order([versions], recursive)
    assert [p.relative_to(versions).as_posix() for p in paths][:2] == ["a_first.py", "b_second.py"]
    assert twice == []
    assert missing == []
    assert ignored == ([] if recursive else [versions / "sub"])  # the hint: .py files recursion skips


def test_a_link_counts_by_its_target(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    _tree(versions, ["a.py", "notes.txt"])
    os.symlink(versions / "notes.txt", versions / "b.py")  # resolves to a .txt: not a revision
    paths, _, _, _ = list_revision_paths((versions,), False)
    assert paths == _alembic_order([versions], False) == [versions / "a.py"]
    (versions / "b.py").unlink()
    os.symlink(versions / "a.py", versions / "c.txt")  # resolves to a.py: the same file again
    paths, twice, _, _ = list_revision_paths((versions,), False)
    assert paths == _alembic_order([versions], False) == [versions / "a.py"]
    assert twice == [(versions / "c.txt", versions / "a.py")]  # Alembic: "loaded twice! ignoring"


def test_overlapping_locations_load_a_file_once(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    _tree(versions, ["a.py", "sub/b.py"])
    locations = [versions, versions / "sub"]
    paths, twice, _, _ = list_revision_paths(tuple(locations), True)
    assert paths == _alembic_order(locations, True)
    assert twice == [(versions / "sub" / "b.py", versions / "sub" / "b.py")]


def test_a_missing_location_is_reported(tmp_path: Path) -> None:
    paths, _, _, missing = list_revision_paths((tmp_path / "nowhere",), False)
    assert paths == []
    assert missing == [tmp_path / "nowhere"]


def test_the_subfolder_hint_has_a_budget(tmp_path: Path) -> None:
    _tree(tmp_path, [f"f{i:03}.txt" for i in range(50)] + ["zz.py"])
    assert list(py_files_below(tmp_path, budget=20)) == []  # stopped before reaching zz.py
    assert list(py_files_below(tmp_path)) == [tmp_path / "zz.py"]

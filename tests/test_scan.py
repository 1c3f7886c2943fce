"""``headcheck.scan``: revision files read with ``ast`` (or their bytecode), never imported.

Alembic executes the file and reads module attributes; every case here says what that import
would bind, and the record must hold the same value, or say it cannot tell.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from headcheck.scan import parse_revision, read_revision

SOURCES = {
    "plain": b'"""Add users\n\nRevision ID: a1\nRevises: z9\n"""\nrevision = "a1"\ndown_revision = "z9"\n',
    "last binding wins": b"revision = 'old'\nrevision = 'a1'\ndown_revision = None\n",
    "annotated": b"from typing import Union\nrevision: str = 'a1'\ndown_revision: Union[str, None] = ('b2', 'c3')\n",
    "unpacked": b"revision, down_revision = 'a1', None\nbranch_labels = depends_on = None\n",
    "conditional": b"import os\nrevision = 'a1'\nif os.environ.get('X'):\n    down_revision = 'b2'\nelse:\n    down_revision = None\n",
    "rebound in a function": b"revision = 'a1'\ndown_revision = None\ndef upgrade():\n    revision = 'zz'\n",
    "deleted": b"revision = 'a1'\ndown_revision = None\ndel down_revision\n",
    "augmented": b"revision = 'a1'\ndown_revision = 'b'\ndown_revision += '2'\n",
    "constant": b"from myapp.ids import PARENT\nrevision = 'a1'\ndown_revision = PARENT\n",
    "labels set": b"revision = 'a1'\ndown_revision = None\nbranch_labels = {'core'}\n",
}


def _values(source: bytes, python: tuple[int, int] | None = None) -> dict[str, tuple[Any, int, bool]]:
    rf = parse_revision(Path("versions/a1_x.py"), source, python)
    assert rf.issues == ()
    return {name: (value.value, value.line, value.literal) for name, value in rf.values.items()}


def test_the_last_top_level_binding_is_read_with_its_line() -> None:
    assert _values(SOURCES["last binding wins"])["revision"] == ("a1", 2, True)
    assert _values(SOURCES["rebound in a function"])["revision"] == ("a1", 1, True)  # a local is not the module's


def test_annotations_and_unpacking_bind_as_the_import_would() -> None:
    assert _values(SOURCES["annotated"])["down_revision"] == (("b2", "c3"), 3, True)
    values = _values(SOURCES["unpacked"])
    assert values["revision"][:1] == ("a1",)
    assert values["down_revision"] == (None, 1, True)
    assert values["branch_labels"] == (None, 2, True)
    assert values["depends_on"] == (None, 2, True)


@pytest.mark.parametrize("name", ["conditional", "augmented", "constant"])
def test_what_the_import_would_compute_is_not_a_literal(name: str) -> None:
    (value_name,) = [key for key, (_, _, literal) in _values(SOURCES[name]).items() if not literal]
    assert value_name == "down_revision"


def test_a_module_constant_is_kept_as_a_reference_to_resolve() -> None:
    rf = parse_revision(Path("a1_x.py"), SOURCES["constant"])
    value = rf.values["down_revision"]
    assert not value.literal
    assert value.ref is not None
    assert value.text == "PARENT"
    assert rf.names is not None  # the module's bindings, for headcheck.constants


def test_a_deleted_attribute_is_absent() -> None:
    assert set(_values(SOURCES["deleted"])) == {"revision"}  # the import would find no down_revision


def test_the_docstring_revises_line_and_upgrade() -> None:
    rf = parse_revision(Path("a1_x.py"), SOURCES["plain"] + b"\ndef upgrade():\n    pass\n")
    assert rf.revises_doc == ("z9",)
    assert rf.revises_line == 4
    assert rf.has_upgrade
    assert not parse_revision(Path("a1_x.py"), SOURCES["plain"]).has_upgrade


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the bytecode reader only runs on 3.11")
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_bytecode_reader_agrees_with_the_syntax_tree(name: str) -> None:
    """On 3.11 the fast path reads the compiled code; asking for an older Python forces ``ast``."""
    source = SOURCES[name]
    fast = parse_revision(Path("a1_x.py"), source)
    slow = parse_revision(Path("a1_x.py"), source, (3, 11))
    assert {k: (v.value, v.line, v.literal, v.text) for k, v in fast.values.items()} == {
        k: (v.value, v.line, v.literal, v.text) for k, v in slow.values.items()
    }
    assert (fast.revises_doc, fast.revises_line, fast.has_upgrade) == (
        slow.revises_doc,
        slow.revises_line,
        slow.has_upgrade,
    )


def test_a_syntax_error_is_hc201_with_the_id_guessed() -> None:
    rf = parse_revision(Path("a1_x.py"), b"revision = 'a1'\ndown_revision = None\ndef upgrade(:\n    pass\n")
    ((code, line),) = [(issue.code, issue.line) for issue in rf.issues]
    assert (code, line) == ("HC201", 3)
    assert rf.guessed_id == "a1"


def test_compiler_errors_count_as_the_import_would_see_them() -> None:
    rf = parse_revision(Path("a1_x.py"), b"revision = 'a1'\ndown_revision = None\nreturn 5\n")
    assert [issue.code for issue in rf.issues] == ["HC201"]


def test_a_coding_cookie_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "a1_x.py"
    path.write_bytes(
        "# -*- coding: latin-1 -*-\nrevision = 'a1'\ndown_revision = None\nmessage = 'café'\n".encode("latin-1")
    )
    rf = read_revision(path)
    assert rf.issues == ()
    assert rf.values["revision"].value == "a1"


def test_something_that_is_not_a_file_is_hc204(tmp_path: Path) -> None:
    folder = tmp_path / "looks_like.py"
    folder.mkdir()
    (issue,) = read_revision(folder).issues
    assert issue.code == "HC204"
    assert issue.message.startswith("cannot read")

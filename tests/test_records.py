"""``headcheck.records``: a scanned file normalised as ``Script._from_path`` + ``Revision.__init__`` do.

The oracle is Alembic's own ``Revision``, built from the same literal values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.script.revision import DependencyLoopDetected, LoopDetected, Revision, RevisionError

from headcheck.records import as_scalar, illegal_chars, revision_node, to_tuple
from headcheck.scan import parse_revision

DOWN_VALUES: list[Any] = [None, "", "a1", ("a1",), ("a1", "b2"), ["a1", "b2"], (), ("a1", "a1")]
DEPENDS_VALUES: list[Any] = [None, "", "x9", ("x9",), ("x9", "core"), ()]
LABEL_VALUES: list[Any] = [None, "core", ("core", "plug"), ("x", "x"), ()]


def _node(revision: Any, down: Any, *, depends_on: Any = None, labels: Any = None, name: str = "r.py") -> Any:
    text = (
        f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = {labels!r}\ndepends_on = {depends_on!r}\n"
    )
    return revision_node(parse_revision(Path(name), text.encode()))


@pytest.mark.parametrize("down", DOWN_VALUES, ids=repr)
@pytest.mark.parametrize("depends_on", DEPENDS_VALUES, ids=repr)
def test_a_node_holds_what_alembics_revision_holds(down: Any, depends_on: Any) -> None:
    node, issues = _node("r1", down, depends_on=depends_on)
    alembic = Revision("r1", down, dependencies=depends_on)
    assert issues == []
    assert node is not None
    assert node.down == alembic._versioned_down_revisions  # noqa: SLF001 -- pins headcheck against Alembic's Revision internals
    assert node.is_base == alembic.is_base
    assert node.has_dependencies == (alembic.dependencies is not None)
    assert (node.is_base and not node.has_dependencies) == alembic._is_real_base  # noqa: SLF001 -- pins headcheck against Alembic's Revision internals
    assert node.depends_on == (to_tuple(alembic.dependencies) if alembic.dependencies else ())


@pytest.mark.parametrize("labels", LABEL_VALUES, ids=repr)
def test_declared_labels_are_alembics_original_labels(labels: Any) -> None:
    node, _ = _node("r1", None, labels=labels)
    assert node is not None
    # Duplicates kept: Alembic maps _orig_branch_labels, so ("x", "x") collides with itself.
    assert node.labels == Revision("r1", None, branch_labels=labels)._orig_branch_labels  # noqa: SLF001 -- pins headcheck against Alembic's Revision internals


def test_a_self_loop_is_alembics_loop_detected() -> None:
    with pytest.raises(LoopDetected):
        Revision("r1", ("a1", "r1"))
    node, issues = _node("r1", ("a1", "r1"))
    assert [issue.code for issue in issues] == ["HC108"]
    assert node is not None
    assert node.down == ("a1",)
    with pytest.raises(DependencyLoopDetected):
        Revision("r1", "a1", dependencies="r1")
    _, issues = _node("r1", "a1", depends_on="r1")
    assert [issue.code for issue in issues] == ["HC109"]


@pytest.mark.parametrize("revision", ["b-2", "c:3", "x@y", "a+b"])
def test_illegal_characters_say_what_alembic_says(revision: str) -> None:
    with pytest.raises(RevisionError) as raised:
        Revision(revision, None)
    _, issues = _node(revision, None)
    (issue,) = issues
    assert issue.code == "HC110"
    assert issue.message == str(raised.value)
    assert issue.line == 1
    assert illegal_chars(revision)


def test_reserved_symbolic_names_are_refused() -> None:
    _, issues = _node("heads", None)
    assert [issue.code for issue in issues] == ["HC111"]


def test_a_legacy_hex_file_name_is_the_id() -> None:
    node, issues = revision_node(parse_revision(Path("versions/ab12cd.py"), b"down_revision = None\n"))
    assert issues == []
    assert node is not None
    assert node.revision == "ab12cd"
    assert node.is_base
    node, issues = revision_node(parse_revision(Path("versions/add_users.py"), b"down_revision = None\n"))
    assert node is None
    assert [issue.code for issue in issues] == ["HC202"]
    assert "no upgrade() either" in issues[0].message


def test_missing_down_revision_and_a_non_string_id_stop_the_file() -> None:
    node, issues = revision_node(parse_revision(Path("r.py"), b"revision = 'r1'\n\ndef upgrade():\n    pass\n"))
    assert node is None
    assert [(i.code, i.message) for i in issues] == [("HC203", "no 'down_revision' variable")]
    node, issues = _node(1234, None)
    assert node is None
    assert [issue.code for issue in issues] == ["HC206"]


def test_a_computed_value_cannot_be_verified_statically() -> None:
    data = b"import os\nrevision = 'r1'\ndown_revision = os.environ['PARENT']\n"
    node, issues = revision_node(parse_revision(Path("r.py"), data))
    assert node is None
    assert [(i.code, i.line) for i in issues] == [("HC205", 3)]
    data = b"import os\nrevision = 'r1'\ndown_revision = None\ndepends_on = os.environ['DEP']\n"
    node, issues = revision_node(parse_revision(Path("r.py"), data))
    assert node is not None
    assert node.depends_on == ()
    assert [i.code for i in issues] == ["HC205"]


def test_non_string_entries_are_reported_and_left_out() -> None:
    node, issues = _node("r1", ("a1", 5))
    assert [issue.code for issue in issues] == ["HC206"]
    assert node is not None
    assert node.down == ("a1",)
    assert not node.is_base


def test_as_scalar_and_to_tuple_are_alembics() -> None:
    from alembic.script.revision import tuple_rev_as_scalar
    from alembic.util import to_tuple as alembic_to_tuple

    for value in [None, "a", ("a",), ("a", "b"), ["a", "b"], (), {"a": 1}]:
        assert to_tuple(value) == alembic_to_tuple(value, default=())
    for items in [(), ("a",), ("a", "b")]:
        assert as_scalar(items) == tuple_rev_as_scalar(items)

"""Differential property test: headcheck's static verdict against real Alembic's ``ScriptDirectory``.

Hypothesis draws small histories with merges, branch labels, depends_on (ids and labels),
dangling and partial references, empty strings, duplicate ids, cycles and self-loops, and writes
them as real revision files in every ``history_builder`` style, in a random load order, over one or
two version locations. Alembic executes them; headcheck reads them. Then:

* Alembic loads => headcheck's heads, real heads and bases are Alembic's, in order (phantom
  duplicates included), and headcheck reports exactly the documented stricter errors: duplicate
  ids (HC107, for exactly the ids Alembic warns "present more than once" about) and the reserved
  id "heads" (HC111); no other error, whether or not the history has duplicates. The heads
  policy (HC101) is switched off here: it is headcheck's rule, not Alembic's, and
  ``test_alembic_cases`` pins it.
* Alembic raises => headcheck fails, with the rule code that stands for Alembic's exception.
* Alembic hangs (it loops forever in ``_add_branches`` on some histories with duplicate ids) =>
  headcheck fails.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headcheck.settings import Settings
from tests.alembic_oracle import expected_code, load_versions
from tests.history_builder import (
    OMIT,
    STYLES,
    Rev,
    declared_labels,
    gate,
    looked_up_depends,
    render,
    write_revision,
)

# The heads policy is not Alembic's (and has its own tests): switch it off so that every error
# left is a graph verdict to compare.
NO_HEADS_POLICY = Settings(max_heads=10**6)

# Lowercase hex, so a file named "<id>.py" without a revision variable gets that id (legacy rule).
ID_POOL = ("a1", "b2", "c3", "d4", "e5", "f6", "a7", "b8", "c9")
LABEL_POOL = ("core", "plug", "x,y", "")
MAX_NODES = 7
# Files that are not (good) revisions, as found in real versions/ folders.
EXTRA_FILES = (
    ("utils.py", "def helper():\n    return 1\n"),  # no revision: E-REVID
    ("abc.py", "X = 1\n"),  # hex name, no down_revision: AttributeError
    ("zz_broken.py", "revision = 'zz'\ndown_revision = None\ndef upgrade(:\n"),  # SyntaxError
    ("__init__.py", "this is not python (((\n"),  # never loaded
    ("notes.txt", "not python either\n"),  # never loaded
    ("zz_int.py", "revision = 1234\ndown_revision = None\n"),  # TypeError
)
DUPLICATE_WARNING = re.compile(r"Revision (.*) is present more than once", re.DOTALL)
# CI runs 250 examples (a few seconds); HEADCHECK_PARITY_EXAMPLES=20000 for a long hunt.
EXAMPLES = int(os.environ.get("HEADCHECK_PARITY_EXAMPLES", "250"))


class History(NamedTuple):
    revs: tuple[Rev, ...]
    locations: tuple[int, ...]  # which version location each file goes to (0 or 1)
    subfolder: tuple[bool, ...]  # the file sits in <location>/sub/
    recursive: bool  # recursive_version_locations
    extras: tuple[tuple[str, str], ...]  # files that are not revisions: (name, text), in location 0
    # How branch_labels/depends_on are written: literals, or names from a helper module on
    # sys.path ("attribute": module.NAME, "from": from module import NAME, "chain": NAME = _BASE).
    constants: str = "literal"


def _reference(draw: st.DrawFn, ids: list[str], i: int, labels: list[str]) -> Any:
    """One id-ish reference: mostly an earlier revision, sometimes something broken."""
    earlier = ids[:i]
    kind = draw(
        st.sampled_from(
            ["earlier"] * 8 + ["any", "self", "dangling", "prefix", "label", "empty"]
            if earlier
            else ["any", "self", "dangling", "label", "empty"]
        )
    )
    if kind == "earlier":
        return draw(st.sampled_from(earlier))
    if kind == "any":
        return draw(st.sampled_from(ids))
    if kind == "self":
        return ids[i]
    if kind == "dangling":
        return "ff00"
    if kind == "prefix":
        return draw(st.sampled_from(earlier))[:1]
    if kind == "label":
        return draw(st.sampled_from(labels or list(LABEL_POOL)))
    return ""


def _down(draw: st.DrawFn, ids: list[str], i: int, labels: list[str]) -> Any:
    shape = draw(
        st.sampled_from(
            ["none"] * 2 + ["one"] * 6 + ["merge"] * 2 + ["empty-tuple", "none-tuple", "one-tuple", "with-none"]
        )
    )
    if shape == "none":
        return None
    if shape == "empty-tuple":
        return draw(st.sampled_from([(), []]))
    if shape == "none-tuple":
        return (None,)
    if shape == "one":
        return _reference(draw, ids, i, labels)
    if shape == "one-tuple":
        return (_reference(draw, ids, i, labels),)
    if shape == "with-none":
        return (_reference(draw, ids, i, labels), None)
    return (_reference(draw, ids, i, labels), _reference(draw, ids, i, labels))


def _depends(draw: st.DrawFn, ids: list[str], i: int, labels: list[str]) -> Any:
    shape = draw(st.sampled_from(["none"] * 6 + ["one", "one", "two", "empty"]))
    if shape == "none":
        return None
    if shape == "empty":
        return draw(st.sampled_from(["", (), [""]]))
    if shape == "one":
        return _reference(draw, ids, i, labels)
    return [_reference(draw, ids, i, labels), _reference(draw, ids, i, labels)]


def _branch_labels(draw: st.DrawFn, ids: list[str]) -> Any:
    shape = draw(st.sampled_from(["none"] * 6 + ["one", "one", "two", "id"]))
    if shape == "none":
        return None
    if shape == "one":
        return draw(st.sampled_from(LABEL_POOL))
    if shape == "two":
        return tuple(draw(st.lists(st.sampled_from(LABEL_POOL), min_size=2, max_size=2)))
    return draw(st.sampled_from(ids))  # collides with a revision id


@st.composite
def histories(draw: st.DrawFn) -> History:
    n = draw(st.integers(1, MAX_NODES))
    ids: list[str] = []
    for i in range(n):
        if ids and draw(st.integers(0, 9)) == 0:
            ids.append(draw(st.sampled_from(ids)))  # duplicate id
        else:
            ids.append(ID_POOL[i])
    if draw(st.integers(0, 19)) == 0:
        ids[draw(st.integers(0, n - 1))] = draw(st.sampled_from(["heads", "b-2", "c:3"]))  # reserved or illegal id
    label_lists = [_branch_labels(draw, ids) for _ in range(n)]
    declared = sorted(
        {label for value in label_lists for label in ((value,) if isinstance(value, str) else (value or ()))}
    )
    order = draw(st.permutations(range(n)))  # load order = sorted file names
    revs: list[Rev] = []
    for i in range(n):
        style = draw(st.sampled_from(STYLES))
        revision: Any = ids[i]
        filename = f"{order[i]:02d}_{i}.py"
        legacy = (
            all(ch in "0123456789abcdef" for ch in ids[i]) and ids.count(ids[i]) == 1 and draw(st.integers(0, 9)) == 0
        )
        if legacy:
            revision, filename = OMIT, f"{ids[i]}.py"
        revises = draw(st.sampled_from([None] * 4 + ["zz"]))  # a stale docstring is only a warning
        revs.append(
            Rev(
                revision=revision,
                down_revision=_down(draw, ids, i, declared),
                branch_labels=label_lists[i],
                depends_on=_depends(draw, ids, i, declared),
                style="plain" if legacy and style == "unpack" else style,
                filename=filename,
                revises=revises,
            )
        )
    two_locations = draw(st.booleans())
    locations = tuple(draw(st.integers(0, 1)) if two_locations else 0 for _ in range(n))
    nested = draw(st.integers(0, 4)) == 0
    subfolder = tuple(nested and draw(st.booleans()) for _ in range(n))
    extras = tuple(
        draw(st.lists(st.sampled_from(EXTRA_FILES), max_size=2, unique=True)) if draw(st.integers(0, 5)) == 0 else ()
    )
    constants = draw(st.sampled_from(["literal"] * 3 + ["attribute", "from", "chain"]))
    return History(tuple(revs), locations, subfolder, draw(st.booleans()), extras, constants)


_modules = iter(range(10**9))


def _with_constants(rev: Rev, index: int, module: str, shape: str, helper: list[str]) -> str:
    """The revision's source with branch_labels/depends_on taken from the helper ``module``."""
    text = render(rev._replace(branch_labels=OMIT, depends_on=OMIT))
    extra = [f"import {module}" if shape == "attribute" else ""]
    for name, value in (("branch_labels", rev.branch_labels), ("depends_on", rev.depends_on)):
        constant = f"{name.upper()}_{index}"
        if shape == "chain":
            helper += [f"_BASE_{constant} = {value!r}", f"{constant} = _BASE_{constant}"]
        else:
            helper.append(f"{constant} = {value!r}")
        if shape == "attribute":
            extra.append(f"{name} = {module}.{constant}")
        else:
            extra += [f"from {module} import {constant} as _{constant}", f"{name} = _{constant}"]
    head, _, tail = text.partition("\n\ndef upgrade")
    return head + "\n" + "\n".join(extra) + "\n\ndef upgrade" + tail


def _write(root: Path, history: History, module: str) -> list[Path]:
    folders = [root / "versions", root / "more_versions"]
    for folder in folders:
        folder.mkdir()
    helper: list[str] = []
    for index, (rev, location, sub) in enumerate(zip(history.revs, history.locations, history.subfolder, strict=True)):
        folder = folders[location] / "sub" if sub else folders[location]
        if history.constants == "literal":
            write_revision(folder, rev)
        else:
            folder.mkdir(exist_ok=True)
            path = folder / (rev.filename or f"{rev.revision}_step.py")
            path.write_text(_with_constants(rev, index, module, history.constants, helper), encoding="utf-8")
    (root / "site").mkdir()
    (root / "site" / f"{module}.py").write_text("\n".join(helper) + "\n", encoding="utf-8")
    for name, text in history.extras:
        (folders[0] / name).write_text(text, encoding="utf-8")
    return folders if any(history.locations) else folders[:1]


def _describe(history: History) -> str:
    rows = [
        f"  recursive={history.recursive} extras={[name for name, _ in history.extras]} constants={history.constants}"
    ]
    for rev, location, sub in zip(history.revs, history.locations, history.subfolder, strict=True):
        rows.append(
            f"  [{location}{'/sub' if sub else ''}] {rev.filename}: revision={rev.revision!r} down={rev.down_revision!r} "
            f"labels={rev.branch_labels!r} depends_on={rev.depends_on!r} style={rev.style}"
        )
    return "\n".join(rows)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_headcheck_agrees_with_alembic(history: History) -> None:
    module = f"hcparity_{next(_modules)}"
    with tempfile.TemporaryDirectory(prefix="headcheck-parity-") as tmp:
        locations = _write(Path(tmp), history, module)
        sys.path.insert(0, str(Path(tmp) / "site"))  # the helper module, as if installed
        try:
            oracle = load_versions(locations, recursive=history.recursive)
            result = gate(locations, recursive=history.recursive, settings=NO_HEADS_POLICY)
        finally:
            sys.path.remove(str(Path(tmp) / "site"))
            sys.modules.pop(module, None)
    errors = {f.code for f in result.findings if f.severity == "error"}
    context = f"\nhistory:\n{_describe(history)}\nAlembic: {oracle.describe()}\nheadcheck: " + "; ".join(
        f"{f.code} {f.message}" for f in result.findings
    )
    # Files in a subfolder only count with recursion on.
    loaded = [rev for rev, sub in zip(history.revs, history.subfolder, strict=True) if history.recursive or not sub]
    if oracle.ok:
        assert result.heads == oracle.heads, context
        assert result.graph.ids(result.graph.real_heads) == oracle.real_heads, context
        assert result.bases == oracle.bases, context
        # The stricter rules fire exactly where Alembic shows the problem: HC107 for the ids it
        # warned about ("present more than once"), HC111 for a revision named "heads". Nothing else,
        # duplicates or not: the earlier duplicate stays a head and base candidate for both.
        duplicated = {match[1] for w in oracle.warnings if (match := DUPLICATE_WARNING.fullmatch(w))}
        assert set(result.graph.problems.duplicates) == duplicated, context
        expected = {"HC107"} if duplicated else set()
        if any(rev.revision == "heads" for rev in loaded):
            expected.add("HC111")
        assert errors == expected, context
    else:
        code = expected_code(oracle, declared_labels(loaded), looked_up_depends(loaded))
        if code == "HANG":
            assert errors, context  # Alembic never finishes: any error will do
        else:
            assert code in errors, context

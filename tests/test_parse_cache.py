"""The content-hash cache never hides an edit, and parallel parsing equals serial parsing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from headcheck.parse_cache import read_revisions
from headcheck.scan import read_revision
from tests.project import revision_file, write_project


def test_cache_hit_equals_fresh_parse_and_edits_are_seen(tmp_path: Path) -> None:
    versions = write_project(tmp_path / "p", {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1")})
    paths = sorted(versions.glob("*.py"))
    cache = tmp_path / "cache"
    first = read_revisions(paths, cache)
    assert list(cache.iterdir()), "cache written"
    again = read_revisions(paths, cache)
    assert again == first == [read_revision(p) for p in paths]
    (versions / "b.py").write_text(revision_file("bbbb2", "zzzz9"))
    edited = read_revisions(paths, cache)
    assert edited[1].values["down_revision"].value == "zzzz9"
    (versions / "b.py").write_text("revision = 'bbbb2'\ndown_revision = (\n")
    assert [i.code for i in read_revisions(paths, cache)[1].issues] == ["HC201"]


def test_parallel_parse_matches_serial(tmp_path: Path) -> None:
    files: dict[str, object] = {f"r{n:04d}.py": (f"r{n:04d}", f"r{n - 1:04d}" if n else None) for n in range(400)}
    files["r0399.py"] = "revision = 'r0399'\ndown_revision = 'r0398'\nif (:\n"
    versions = write_project(tmp_path / "p", files)
    paths = sorted(versions.glob("*.py"))
    parallel = read_revisions(paths, None)  # 400 files: parsed in a process pool
    assert parallel == [read_revision(p) for p in paths]


def test_unreadable_file_is_a_record_not_an_exception(tmp_path: Path) -> None:
    versions = write_project(tmp_path / "p", {"a.py": ("aaaa1", None)})
    (versions / "gone.py").symlink_to(versions / "missing-target.py")
    paths = sorted(versions.glob("*.py"))
    records = read_revisions(paths, tmp_path / "cache")
    assert [i.code for r in records for i in r.issues] == ["HC204"]


def test_stat_trusted_entry_still_sees_a_same_size_same_mtime_edit(tmp_path: Path) -> None:
    import os

    versions = write_project(tmp_path / "p", {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1")})
    paths = sorted(versions.glob("*.py"))
    old = 1_600_000_000
    for path in paths:
        os.utime(path, (old, old))  # older than the cache: eligible for the stat shortcut
    cache = tmp_path / "cache"
    read_revisions(paths, cache)
    assert read_revisions(paths, cache)[1].values["down_revision"].value == "aaaa1"
    # Same size, same mtime, different content: only the ctime (and the bytes) tell.
    text = paths[1].read_text().replace("'aaaa1'\n", "'zzzz9'\n")
    paths[1].write_text(text)
    os.utime(paths[1], (old, old))
    assert read_revisions(paths, cache)[1].values["down_revision"].value == "zzzz9"


def test_two_core_parse_equals_serial_and_survives_a_failed_worker() -> None:
    import os

    from headcheck.parse_cache import _on_two_cores

    parent = os.getpid()
    items = list(range(1000))

    def square(n: int) -> tuple[int, int]:
        return (n, n * n)

    def on_two_cores(work: Callable[[int], tuple[int, int]]) -> list[tuple[int, int]]:
        def chunk_work(chunk: Sequence[int]) -> list[tuple[int, int]]:
            return [work(n) for n in chunk]

        def delivered(_chunk: Sequence[int], results: list[tuple[int, int]]) -> list[tuple[int, int]]:
            return [tuple(result) for result in results]  # type: ignore[misc]

        return _on_two_cores(chunk_work, items, chunk_work, delivered)

    assert on_two_cores(square) == [square(n) for n in items]

    def fails_in_the_worker(n: int) -> tuple[int, int]:
        if os.getpid() != parent:
            raise RuntimeError("worker breaks")
        return (n, os.getpid())

    def children() -> set[str]:  # (other tests' servers may be children of this process too)
        return set(Path(f"/proc/{parent}/task/{parent}/children").read_text().split())

    before = children()
    results = on_two_cores(fails_in_the_worker)
    assert results == [(n, parent) for n in items]  # the worker's share was done here
    assert children() == before, "a worker process was left behind"


def _both_readings(data: bytes) -> tuple[object, object]:
    """``data`` read by the fast path (headers from the compiled module) and by the syntax tree."""
    import headcheck.scan as scan

    fast = scan.parse_revision(Path("x.py"), data)
    scan.FAST_PYTHON = False
    try:
        return fast, scan.parse_revision(Path("x.py"), data)
    finally:
        scan.FAST_PYTHON = True


def test_header_from_bytecode_equals_the_syntax_tree() -> None:
    """The cold fast path (values read from the compiled module) answers exactly as the syntax
    tree does, for every revision-file style and for shapes it must hand back to the tree."""
    import headcheck.scan as scan
    from tests.history_builder import STYLES, Rev, render

    if not scan.FAST_PYTHON:
        import pytest

        pytest.skip("the bytecode fast path is only taken on the Python it was verified on")
    sources = [
        render(Rev(rev, down, branch_labels=labels, depends_on=deps, style=style))
        for style in STYLES
        for rev, down, labels, deps in [
            ("aaaa1", None, None, None),
            ("bbbb2", ("aaaa1", "cccc3"), ("core",), ["aaaa1"]),
            ("cccc3", ["aaaa1"], "x,y", ""),
            ("dddd4", (), None, ("aaaa1", None)),
        ]
    ]
    sources += [
        "revision = 'a' + 'b'\ndown_revision = None\n",  # folded by the compiler, not a literal
        "revision = ('a',) * 2\ndown_revision = None\n",
        "__doc__ = 'Revises: zz'\nrevision = 'a'\ndown_revision = None\n",  # not a docstring
        "'''Revises: x'''\nrevision = 'a'\ndown_revision = -1\nrevision = 'b'\n",
        "revision = 'a'\ndown_revision = None\ndel revision\n",
        "revision = (\n    'a'\n)\ndown_revision = [\n    'x',\n    'y',\n]\n",
        "import os\nrevision = os.environ['X']\ndown_revision = None\n",
        "revision = down_revision = 'a'\n",
        "if True:\n    revision = 'a'\ndown_revision = None\n",
        "x = [revision := 'a' for _ in 'b']\ndown_revision = None\n",
        "revision = 'a'\ndown_revision = None\n@decorate\ndef upgrade():\n    pass\n",
        "revision = '\\u00e9t\\u00e9'\ndown_revision = 'caf\\u00e9'  # caf\\u00e9\n",
        "revision = 1_000\ndown_revision = 0x10\nbranch_labels = 1e3\ndepends_on = -0.0\n",
        # The compiler folds a constant test away and loads only the branch taken: not a literal.
        "revision = 'a' if True else 'b'\ndown_revision = None\n",
        "revision = 'a'\ndown_revision = 1 if 0 else None\n",
        "revision = 'a'\ndown_revision = '' or None\n",
        "revision = 'a'\ndown_revision = (\n    'x',\n) if 1 else None\n",
        # As black and ruff write them: double quotes, a merge's tuple one id a line, comments.
        'revision: str = "a"  # the id\ndown_revision = (\n    "x",  # one\n    "y",\n)\n',
        "revision = 'a'\ndown_revision = [\n    'x',\n]  # listed\nbranch_labels = ('b',)\n",
        'revision = "it\'s"\ndown_revision = "a\\"b"\ndepends_on = "\\x41"\n',
        # Line breaks and encodings as the compiler counts and reads them.
        "'''Revises: x'''\r\nrevision = 'a'\r\ndown_revision = (\r\n  'x',\r\n)\r\n",
        "\ufeff'''Revises: x'''\nrevision = 'a'\ndown_revision = 'x'\n",
        "revision = 'a'\rdown_revision = 'x'\n",
        "# -*- coding: latin-1 -*-\nrevision = 'caf\u00e9'\ndown_revision = None\n",
        # A store that is not a line of its own, or a line that is not the store.
        "pass; revision = 'a'\ndown_revision = None\n",
        "(revision) = 'a'\ndown_revision = None\n",
        "revision: 'x = 1' = 'a'\ndown_revision = None\n",
        "x = \\\nrevision = 'a'\ndown_revision = None\n",
        "revision = 'a'\ndown_revision = None\ndef f(\nrevision = 'b'\n):\n    pass\n",
    ]
    fast_used = 0
    for text in sources:
        data = text.encode("latin-1" if "latin-1" in text else "utf-8")
        fast, slow = _both_readings(data)
        assert fast == slow, text
        code = compile(data, "x.py", "exec", dont_inherit=True, optimize=0)
        fast_used += scan.from_code(code, data) is not None
    assert fast_used >= 25  # the styles and the formatters' shapes take the fast path; odd shapes fall back


def test_a_first_run_with_an_empty_cache_equals_serial_parsing(tmp_path: Path) -> None:
    """A fresh checkout with an empty cache (every CI run): files are read, hashed and parsed on
    both cores, in chunks; records keep their order whatever process read them, an unreadable
    file stays an HC204 record, identical files both get their record, and the cache written
    then answers the same."""
    files: dict[str, object] = {f"r{n:04d}.py": (f"r{n:04d}", f"r{n - 1:04d}" if n else None) for n in range(450)}
    files["r0120.py"] = "revision = 'r0120'\ndown_revision = 'r0119'\nif (:\n"
    files["r0121.py"] = files["r0122.py"] = "revision = 'twin'\ndown_revision = None\n"
    versions = write_project(tmp_path / "p", files)
    (versions / "r0300_gone.py").symlink_to(versions / "missing-target.py")
    paths = sorted(versions.glob("*.py"))
    serial = [read_revision(p) for p in paths]
    cache = tmp_path / "cache"
    assert read_revisions(paths, cache) == serial
    assert [i.code for r in serial for i in r.issues] == ["HC201", "HC204"]
    assert read_revisions(paths, cache) == serial  # from the cache written by the first run


def test_header_from_bytecode_equals_the_syntax_tree_on_generated_files() -> None:
    """Generated headers, one binding a line or not, literal or not, with annotations, comments,
    line breaks, encodings and the shapes the compiler folds: the fast path answers exactly as
    the syntax tree, or hands the file to it."""
    import random

    import headcheck.scan as scan

    if not scan.FAST_PYTHON:
        import pytest

        pytest.skip("the bytecode fast path is only taken on the Python it was verified on")
    rng = random.Random(15)
    names = ["revision", "down_revision", "branch_labels", "depends_on", "revisions"]
    values = [
        "'a'",
        '"a"',
        "None",
        "('a', 'b')",
        '("a", "b")',
        "['a']",
        "'a' 'b'",
        "'a' + 'b'",
        "u'a'",
        "'a\\x41'",
        "1",
        "-1",
        "'é'",
        "''",
        "f'a'",
        "b'a'",
        "not 0",
        "'a'  # c",
        "'a';",
        "'a' if True else 'b'",
        "1 if 0 else 2",
        "'' or None",
        "x",
        "dict(revision = 'a')",
        "'#'",
        '(\n    "a",\n    "b",\n)',
        "[\n  'x',  # c\n]",
        "(\n  'a',\n) if 0 else 1",
        "(\n1\n) + 2j",
        "('a',\n 'b')",
    ]
    annotations = ["", ": str", ": Union[str, Sequence[str], None]", ": 'str'", ": f(x=1)", ': "a = b"']
    before = ["", "", "", "pass; ", "x = ", " "]
    heads = ['"""Doc\n\nRevises: a, b\n"""', "'Revises: x'", "# -*- coding: latin-1 -*-", "#c"]
    tails = ["def upgrade():\n    pass", "@dec\ndef upgrade():\n    pass", "upgrade = 1", "from x import upgrade"]
    compared = fast = 0
    for _ in range(1500):
        lines = [rng.choice(heads)] if rng.random() < 0.7 else []
        for _ in range(rng.randint(1, 5)):
            target = rng.choice(names)
            if rng.random() < 0.1:
                target = f"({target})"
            lines.append(f"{rng.choice(before)}{target}{rng.choice(annotations)} = {rng.choice(values)}")
        if rng.random() < 0.5:
            lines.append(rng.choice(tails))
        text = rng.choice(["\n", "\n", "\r\n"]).join(lines) + "\n"
        data = text.encode("latin-1" if "latin-1" in text else "utf-8")
        try:
            compile(data, "x.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        compared += 1
        fast += scan.from_code(compile(data, "x.py", "exec", dont_inherit=True), data) is not None
        quick, slow = _both_readings(data)
        assert quick == slow, text
    assert compared > 300, compared
    assert fast > 60, fast


def test_the_cache_file_is_named_by_the_folders_of_the_paths() -> None:
    """One cache file per set of folders (``os.path.dirname`` of every path): the name computed
    once per folder is the name computed once per path, for odd paths too."""
    import os

    from headcheck.parse_cache import _cache_file
    from headcheck.result_cache import digest

    groups = [
        ["/p/versions/a.py", "/p/versions/b.py", "/p/other/c.py"],
        ["/c.py", "c.py", "a/c.py"],
        ["//x/y.py", "/a//b/c.py", "/a/b/c.py"],
        ["/p/versions/sub/a.py", "/p/versions/a.py"],
    ]
    for group in groups:
        paths = [Path(name) for name in group]
        key = "\0".join([repr((3, 11)), *sorted({os.path.dirname(p) for p in paths})])
        expected = os.path.join("/cache", f"{digest(key.encode('utf-8', 'surrogatepass'))}.marshal")
        assert _cache_file(Path("/cache"), paths, (3, 11)) == expected
    assert _cache_file(Path("/cache"), [Path("/a/x.py")], None) != _cache_file(Path("/cache"), [Path("/b/x.py")], None)

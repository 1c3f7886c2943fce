"""headcheck.picture: the graph as text, Mermaid, dot and a table; folding and focus."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headcheck import picture
from headcheck.gate import EnvironmentResult, run_gate
from headcheck.settings import Settings
from tests.history_builder import Rev, gate, write_history
from tests.project import revision_file, write_project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _env(root: Path) -> EnvironmentResult:
    (env,) = run_gate(root, Settings()).environments
    return env


def _linear(count: int, prefix: str = "r", start: str | None = None) -> dict[str, object]:
    revisions: dict[str, object] = {}
    down = start
    for k in range(count):
        rev = f"{prefix}{k:03d}"
        revisions[f"{rev}_step_{k}.py"] = (rev, down)
        down = rev
    return revisions


def test_long_linear_history_with_a_fork_on_top_folds_into_a_few_boxes(tmp_path: Path) -> None:
    revisions = _linear(200)
    revisions["x001_left.py"] = ("x001", "r199")
    revisions["y001_right.py"] = ("y001", "r199")
    write_project(tmp_path, revisions)
    env = _env(tmp_path)
    v = picture.view(env)
    assert len(v.items) == 5  # base, 198 folded, branch point, two heads
    (run,) = [item for item in v.items if item.kind == "run"]
    assert run.label == "198 revisions"
    assert run.detail == "r001 … r198"
    marks = {item.label: item.marks for item in v.items if item.kind == "revision"}
    assert marks["r000"] == ("base",)
    assert marks["r199"] == ("branch point",)
    assert marks["x001"] == ("head", "HC101")
    assert marks["y001"] == ("head", "HC101")
    text = picture.render(env, "text")
    assert len(text.splitlines()) == 5
    assert text.splitlines()[-1].split()[:2] == ["o", "r000"]


def test_focus_on_two_heads_shows_the_fork_and_folds_older_history(tmp_path: Path) -> None:
    revisions = _linear(50)
    revisions.update(_linear(4, "x", "r049"))
    revisions.update(_linear(2, "y", "r049"))
    write_project(tmp_path, revisions)
    env = _env(tmp_path)
    v = picture.view(env, picture.focus_nodes(env))
    labels = [item.label for item in v.items]
    assert "r049" in labels  # the fork
    assert {"x003", "y001"} <= set(labels)  # both heads
    assert "49 older revisions" in labels
    assert not any(label.startswith("r04") and label != "r049" for label in labels)
    assert v.hidden == 49
    mermaid = picture.render(env, "mermaid", focus=True)
    assert mermaid.startswith("flowchart BT\n")
    assert "r049" in mermaid
    assert "older" in mermaid


def test_merge_points_and_dangling_references_are_marked(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "a1_x.py": ("a1", None),
            "b2_x.py": ("b2", "a1"),
            "c3_x.py": ("c3", "a1"),
            "d4_x.py": ("d4", ("b2", "c3")),
            "e5_x.py": ("e5", "d4_x"),
        },
    )
    env = _env(tmp_path)
    v = picture.view(env)
    by_label = {item.label: item for item in v.items}
    assert "merge point" in by_label["d4"].marks
    assert "branch point" in by_label["a1"].marks
    missing = by_label["d4_x"]
    assert missing.kind == "missing"
    assert missing.problem
    assert picture.Edge(missing.key, by_label["e5"].key, "missing") in v.edges
    focus = {item.label for item in picture.view(env, picture.focus_nodes(env)).items}
    assert {"e5", "d4_x", "d4"} <= focus  # the broken revision, its reference, and the other head


def test_mermaid_labels_cannot_break_out_of_their_quotes(tmp_path: Path) -> None:
    write_project(tmp_path, {'a1_say_"hi"_<b>.py': ("a1", None)})
    mermaid = picture.render(_env(tmp_path), "mermaid")
    node_line = next(line for line in mermaid.splitlines() if line.strip().startswith("r0"))
    inner = node_line.split('"', 1)[1].rsplit('"', 1)[0]
    assert '"' not in inner
    assert "<b>" not in inner.replace("<b>a1</b>", "")
    assert "#quot;hi#quot;" in inner
    assert "#lt;b#gt;" in inner


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_dot_output_is_accepted_by_graphviz() -> None:
    env = _env(EXAMPLES / "dangling")
    result = subprocess.run(["dot", "-Tsvg"], input=picture.render(env, "dot"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dot_output_shape() -> None:
    dot = picture.render(_env(EXAMPLES / "two-heads"), "dot")
    assert dot.startswith('digraph "alembic" {')
    assert dot.rstrip().endswith("}")
    assert "r1 -> r2;" in dot
    assert "r1 -> r3;" in dot
    assert dot.count("{") == dot.count("}")


def test_big_graphs_fall_back_to_a_table(tmp_path: Path) -> None:
    revisions: dict[str, object] = {"a000_base.py": ("a000", None)}
    for k in range(1, 80):  # 79 heads, each its own branch: nothing to fold
        revisions[f"h{k:03d}_x.py"] = (f"h{k:03d}", "a000")
    write_project(tmp_path, revisions)
    env = _env(tmp_path)
    markdown = picture.summary_picture(env)
    assert "```mermaid" not in markdown
    assert markdown.startswith("| revision | title | role / findings | revises |")
    small = picture.summary_picture(_env(EXAMPLES / "two-heads"))
    assert small.startswith("```mermaid\nflowchart BT")


def test_clean_focus_shows_the_latest_revisions(tmp_path: Path) -> None:
    write_project(tmp_path, _linear(20))
    env = _env(tmp_path)
    labels = [item.label for item in picture.view(env, picture.focus_nodes(env)).items]
    assert labels == ["17 older revisions", "r017", "r018", "r019"]


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown picture format"):
        picture.render(_env(EXAMPLES / "clean"), "png")


def _mermaid_tools() -> Path | None:
    """A folder whose node_modules has mermaid and jsdom (``npm install mermaid@11 jsdom@25``)."""
    folder = os.environ.get("HEADCHECK_NODE_TOOLS")
    if not folder or shutil.which("node") is None:
        return None
    path = Path(folder)
    return path if (path / "node_modules" / "mermaid").is_dir() and (path / "node_modules" / "jsdom").is_dir() else None


@pytest.mark.skipif(
    _mermaid_tools() is None, reason="set HEADCHECK_NODE_TOOLS to a folder with mermaid@11 and jsdom@25"
)
def test_mermaid_output_parses_with_mermaid_js(tmp_path: Path) -> None:
    tools = _mermaid_tools()
    assert tools is not None
    tricky = tmp_path / "tricky"
    revisions = _linear(30)
    revisions['x001_say_"hi"_<b>_#1_&_é.py'] = ("x001", "r029")
    revisions["y001_depends.py"] = revision_file("y001", "r029", depends_on="r010")
    revisions["z001_broken.py"] = ("z001", "nowhere")
    write_project(tricky, revisions)
    files = []
    for name, root in [("tricky", tricky), *((ex, EXAMPLES / ex) for ex in ("clean", "two-heads", "dangling"))]:
        env = _env(root)
        for focus in (False, True):
            target = tmp_path / f"{name}-{focus}.mmd"
            target.write_text(picture.render(env, "mermaid", focus=focus), encoding="utf-8")
            files.append(str(target))
    bad = tmp_path / "bad.mmd"
    bad.write_text('flowchart BT\n  a["x"] --> --> b\n', encoding="utf-8")
    script = Path(__file__).parent / "data" / "mermaid_parse.mjs"
    shutil.copy(script, tools / "mermaid_parse.mjs")
    good = subprocess.run(["node", "mermaid_parse.mjs", *files], cwd=tools, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stdout + good.stderr
    broken = subprocess.run(
        ["node", "mermaid_parse.mjs", str(bad)], cwd=tools, capture_output=True, text=True, timeout=120
    )
    assert broken.returncode == 1
    assert "Parse error" in broken.stdout


_IDS = [f"r{k}" for k in range(12)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_IDS),  # revision (duplicates allowed)
            st.lists(st.sampled_from([*_IDS, "gone1", "gone2"]), max_size=2),  # down_revision (cycles, dangling)
            st.lists(st.sampled_from(["r1", "r5", "lbl", "nope"]), max_size=1),  # depends_on
            st.booleans(),  # a branch label
        ),
        min_size=1,
        max_size=14,
    )
)
def test_any_history_draws_every_revision_once_in_every_format(
    tmp_path_factory: pytest.TempPathFactory, history: list[tuple[str, list[str], list[str], bool]]
) -> None:
    versions = tmp_path_factory.mktemp("h") / "versions"
    revs = [
        Rev(
            rev,
            tuple(down) if len(down) > 1 else (down[0] if down else None),
            "lbl" if label else None,
            tuple(deps) or None,
            filename=f"{k:02d}_{rev}.py",
        )
        for k, (rev, down, deps, label) in enumerate(history)
    ]
    write_history(versions, revs)
    env = gate(versions)
    v = picture.view(env)
    drawn = [node for item in v.items for node in item.nodes]
    assert sorted(drawn) == list(range(len(env.graph.nodes)))  # each revision exactly once
    keys = {item.key for item in v.items}
    assert len(keys) == len(v.items)
    assert all(edge.parent in keys and edge.child in keys for edge in v.edges)
    for fmt in picture.FORMATS:
        for focus in (False, True):
            assert picture.render(env, fmt, focus=focus)
    focused = picture.view(env, picture.focus_nodes(env))
    assert {i for item in focused.items for i in item.nodes} <= set(range(len(env.graph.nodes)))


def test_focus_on_a_broken_revision_counts_what_is_built_on_its_neighbours(tmp_path: Path) -> None:
    # HC301 on m1 (docstring disagrees): the focus is m1 with its parent and children; a1's other
    # child b1 (a labelled branch, so two heads are fine) and b2 on it fold into one "newer" box.
    text = revision_file("m1", "a1").replace("Revises: a1", "Revises: zz")
    write_project(
        tmp_path,
        {
            "a0_x.py": ("a0", None),
            "a1_x.py": ("a1", "a0"),
            "b1_x.py": revision_file("b1", "a1", labels=("feature",)),
            "b2_x.py": ("b2", "b1"),
            "m1_x.py": text,
            "n1_x.py": ("n1", "m1"),
        },
    )
    env = _env(tmp_path)
    v = picture.view(env, picture.focus_nodes(env))
    labels = {item.label for item in v.items}
    assert {"a1", "m1", "n1", "1 older revision", "2 newer revisions"} <= labels

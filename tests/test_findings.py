"""Messages and fixes a developer can act on, and the heads policy."""

from __future__ import annotations

from pathlib import Path

from headcheck.gate import GateResult, run_gate
from headcheck.settings import Settings
from tests.project import revision_file, write_project


def gate(root: Path, settings: Settings | None = None) -> GateResult:
    return run_gate(root, settings or Settings())


def only(result: GateResult, code: str) -> list:  # type: ignore[type-arg]
    return [f for env in result.environments for f in env.findings if f.code == code]


def test_two_heads_names_both_heads_fork_and_both_fixes(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1"), "c.py": ("cccc3", "bbbb2"), "d.py": ("dddd4", "bbbb2")},
    )
    result = gate(tmp_path)
    assert not result.ok
    (finding,) = only(result, "HC101")
    assert "cccc3 (alembic/versions/c.py:6)" in finding.message
    assert "dddd4 (alembic/versions/d.py:6)" in finding.message
    assert "both revise bbbb2" in finding.message
    assert "headcheck merge" in finding.fix
    assert "down_revision = ('cccc3', 'dddd4')" in finding.fix
    # the later branch moves on top of the other head; the location is its down_revision line
    assert "set down_revision = 'cccc3' in alembic/versions/d.py:7" in finding.fix
    assert (finding.path.name, finding.line) == ("d.py", 7)


def test_labelled_heads_pass_but_a_fork_inside_a_label_fails(tmp_path: Path) -> None:
    files = {
        "a.py": ("aaaa1", None),
        "b.py": ("bbbb2", "aaaa1"),
        "p.py": revision_file("pppp1", "aaaa1", labels=("plugin",)),
        "q.py": ("qqqq2", "pppp1"),
    }
    write_project(tmp_path, files)
    assert gate(tmp_path).ok  # trunk head + one labelled head
    (tmp_path / "alembic" / "versions" / "r.py").write_text(revision_file("rrrr3", "pppp1"))
    result = gate(tmp_path)
    assert only(result, "HC101"), "two heads on the 'plugin' label cannot be told apart"


def test_max_heads_replaces_the_policy(tmp_path: Path) -> None:
    write_project(tmp_path, {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1"), "c.py": ("cccc3", "aaaa1")})
    assert not gate(tmp_path).ok
    assert gate(tmp_path, Settings(max_heads=2)).ok


def test_dangling_down_revision_file_name_hint(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {"1111aaaa_init.py": ("1111aaaa", None), "2222bbbb_next.py": ("2222bbbb", "1111aaaa_init")},
    )
    result = gate(tmp_path)
    (finding,) = only(result, "HC102")
    assert "1111aaaa_init" in finding.message
    assert finding.fix.startswith("Set down_revision = '1111aaaa' in alembic/versions/2222bbbb_next.py:7")
    assert not only(result, "HC101"), "a branch cut off by a dangling ref is not a second head"


def test_dangling_prefix_hint(tmp_path: Path) -> None:
    write_project(tmp_path, {"a.py": ("aaaa1111", None), "b.py": ("bbbb2222", "aaaa")})
    (finding,) = only(gate(tmp_path), "HC102")
    assert "did you mean aaaa1111" in finding.fix


def test_down_revision_naming_a_label(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {"a.py": revision_file("aaaa1", None, labels="core"), "b.py": ("bbbb2", "aaaa1"), "c.py": ("cccc3", "core")},
    )
    (finding,) = only(gate(tmp_path), "HC104")
    assert "branch label 'core'" in finding.message
    assert "down_revision = 'bbbb2'" in finding.fix  # the tip of the 'core' branch


def test_cycle_names_the_loop(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {"a.py": ("aaaa1", None), "c.py": ("cccc3", "dddd4"), "d.py": ("dddd4", "cccc3"), "e.py": ("eeee5", "dddd4")},
    )
    (finding,) = only(gate(tmp_path), "HC105")
    assert "cccc3 -> dddd4 -> cccc3" in finding.message
    assert "Cycle is detected in revisions (cccc3, dddd4, eeee5)" in finding.message


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    write_project(tmp_path, {"a.py": ("aaaa1", None), "b1.py": ("bbbb2", "aaaa1"), "b2.py": ("bbbb2", "aaaa1")})
    result = gate(tmp_path)
    (finding,) = only(result, "HC107")
    assert "b1.py" in finding.message
    assert "b2.py" in finding.message
    assert result.environments[0].heads == ["bbbb2", "bbbb2"], "Alembic lists the phantom head too"
    assert not only(result, "HC101")


def test_revises_docstring_mismatch_is_a_warning(tmp_path: Path) -> None:
    text = revision_file("bbbb2", "aaaa1").replace("Revises: aaaa1", "Revises: zzzz9")
    write_project(tmp_path, {"a.py": ("aaaa1", None), "b.py": text})
    result = gate(tmp_path)
    (finding,) = only(result, "HC301")
    assert finding.severity == "warning"
    assert finding.line == 4
    assert result.ok
    assert not gate(tmp_path, Settings(strict=True)).ok


def test_ignored_subfolder_explains_the_dangling_child(tmp_path: Path) -> None:
    versions = write_project(tmp_path, {"a.py": ("aaaa1", None), "c.py": ("cccc3", "bbbb2")})
    (versions / "old").mkdir()
    (versions / "old" / "b.py").write_text(revision_file("bbbb2", "aaaa1"))
    result = gate(tmp_path)
    assert only(result, "HC302")
    (dangling,) = only(result, "HC102")
    assert "recursive_version_locations = true" in dangling.fix


def test_configured_missing_version_location(tmp_path: Path) -> None:
    ini = "[alembic]\nscript_location = %(here)s/alembic\nversion_locations = %(here)s/alembic/versoins\n"
    write_project(tmp_path, {}, ini=ini)
    (finding,) = only(gate(tmp_path), "HC405")
    assert finding.line == 3


def test_ignore_setting_drops_codes(tmp_path: Path) -> None:
    write_project(tmp_path, {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1"), "c.py": ("cccc3", "aaaa1")})
    assert gate(tmp_path, Settings(ignore=frozenset({"HC101"}))).ok


def test_heads_behind_a_cycle_or_an_unusable_ref_are_not_counted_again(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "a.py": ("aaaa1", None),
            "b.py": ("bbbb2", "aaaa1"),
            "c.py": ("cccc3", "dddd4"),
            "d.py": ("dddd4", "cccc3"),
            "e.py": ("eeee5", "dddd4"),
            "f.py": "revision = 'ffff6'\ndown_revision = 5\n",
        },
    )
    result = gate(tmp_path)
    assert only(result, "HC105")
    assert only(result, "HC206")
    assert not only(result, "HC101"), "eeee5 and ffff6 are heads only because of problems already reported"


def test_revision_count_is_alembics(tmp_path: Path) -> None:
    """A duplicated id counts once, as in Alembic's revision map; files are counted apart."""
    from tests.alembic_oracle import load_versions

    versions = write_project(
        tmp_path, {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1"), "c.py": ("bbbb2", "aaaa1")}
    )
    import warnings

    from alembic.script import ScriptDirectory

    (env,) = run_gate(tmp_path, Settings()).environments
    assert env.revision_count == 2
    assert env.file_count == 3
    assert load_versions(versions).ok
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Alembic warns about the duplicate
        script = ScriptDirectory(str(versions.parent), version_locations=[str(versions)])
        assert len(list(script.walk_revisions())) == env.revision_count

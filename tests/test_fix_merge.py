"""``headcheck merge``: the file Alembic would write, and Alembic sees one head afterwards."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from headcheck.cli import main
from tests.git_project import add_revision, alembic_heads, alembic_project, alembic_upgrade_heads


def two_heads(root: Path, ini_extra: str = "") -> Path:
    versions = alembic_project(root, ini_extra)
    add_revision(root, "aaaa", None)
    add_revision(root, "bbbb", "aaaa")
    add_revision(root, "cccc", "aaaa")
    return versions


def new_files(versions: Path, before: set[str]) -> list[Path]:
    return sorted(p for p in versions.rglob("*.py") if p.name not in before)


def test_merge_gives_one_head_and_upgrade_heads_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = two_heads(tmp_path)
    before = {p.name for p in versions.iterdir()}
    assert main(["merge", str(tmp_path), "-m", "join orders and users"]) == 0
    out = capsys.readouterr().out
    (written,) = new_files(versions, before)
    assert re.fullmatch(r"[0-9a-f]{12}_join_orders_and_users\.py", written.name)
    rev = written.name[:12]
    assert f"merged bbbb, cccc into {rev}; heads now: {rev}" in out
    assert alembic_heads(tmp_path) == [rev]
    assert alembic_upgrade_heads(tmp_path) == ["alembic_version", "t_aaaa", "t_bbbb", "t_cccc"]
    assert main(["check", str(tmp_path)]) == 0


def test_same_file_as_alembic_merge_heads(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    two_heads(ours)
    shutil.copytree(ours, theirs)
    before = {p.name for p in (ours / "alembic" / "versions").iterdir()}
    assert main(["merge", str(ours), "-m", "Merge heads!", "--rev-id", "feedbeef0001"]) == 0
    command.merge(Config(str(theirs / "alembic.ini")), "heads", message="Merge heads!", rev_id="feedbeef0001")
    (mine,) = new_files(ours / "alembic" / "versions", before)
    (alembics,) = new_files(theirs / "alembic" / "versions", before)
    assert mine.name == alembics.name == "feedbeef0001_merge_heads.py"
    date = re.compile(r"Create Date: .*")
    assert date.sub("", mine.read_text()) == date.sub("", alembics.read_text())


def test_file_template_timezone_and_folders(tmp_path: Path) -> None:
    versions = two_heads(
        tmp_path,
        "file_template = %%(year)d/%%(month).2d/%%(year)d_%%(month).2d_%%(day).2d-%%(rev)s_%%(slug)s\n"
        "truncate_slug_length = 8\ntimezone = UTC\nrecursive_version_locations = true\n",
    )
    before = {p.name for p in versions.iterdir()}
    assert main(["merge", str(tmp_path), "-m", "a rather long message", "--rev-id", "0123456789ab"]) == 0
    (written,) = new_files(versions, before)
    relative = written.relative_to(versions).as_posix()
    assert re.fullmatch(r"\d{4}/\d\d/\d{4}_\d\d_\d\d-0123456789ab_a_\.py", relative), (
        relative
    )  # slug cut at 8, back to "_"
    assert "+00:00" in written.read_text()  # Create Date is timezone-aware
    assert alembic_heads(tmp_path) == ["0123456789ab"]


def test_post_write_hooks_exec_and_console_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ruff = shutil.which("ruff")
    if ruff is None or shutil.which("pygmentize") is None:
        pytest.skip("needs ruff and pygmentize on PATH")
    versions = two_heads(
        tmp_path,
        f"""
        [post_write_hooks]
        hooks = ruff, pygments
        ruff.type = exec
        ruff.executable = {ruff}
        ruff.options = format --no-cache REVISION_SCRIPT_FILENAME
        pygments.type = console_scripts
        pygments.entrypoint = pygmentize
        pygments.options = -f html -o %(here)s/hooked.html REVISION_SCRIPT_FILENAME
        """,
    )
    before = {p.name for p in versions.iterdir()}
    assert main(["merge", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (written,) = new_files(versions, before)
    text = written.read_text()
    assert 'down_revision: Union[str, Sequence[str], None] = ("bbbb", "cccc")' in text  # ruff format ran
    assert "Running post write hook 'ruff' ... done" in out
    assert "Running post write hook 'pygments' ... done" in out
    assert "revision" in (tmp_path / "hooked.html").read_text()
    assert alembic_heads(tmp_path) == [written.name[:12]]


def test_pyproject_toml_hooks(tmp_path: Path) -> None:
    versions = two_heads(tmp_path)
    marker = tmp_path / "marker.py"
    marker.write_text("import sys\nopen(sys.argv[1], 'a').write('# touched by hook\\n')\n")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.alembic]\n"
        "[[tool.alembic.post_write_hooks]]\n"
        'name = "touch"\ntype = "exec"\n'
        f'executable = "{sys.executable}"\n'
        f'options = "{marker} REVISION_SCRIPT_FILENAME"\n'
    )
    before = {p.name for p in versions.iterdir()}
    assert main(["merge", str(tmp_path), "--config", str(tmp_path / "alembic.ini")]) == 0
    (written,) = new_files(versions, before)
    assert written.read_text().endswith("# touched by hook\n")


def test_unknown_hook_type_refuses_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = two_heads(tmp_path, "[post_write_hooks]\nhooks = custom\ncustom.type = spaces_to_tabs\n")
    before = {p.name for p in versions.iterdir()}
    assert main(["merge", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "type 'spaces_to_tabs', which env.py registers" in err
    assert new_files(versions, before) == []


def test_nothing_to_merge_and_broken_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "one"
    alembic_project(one)
    add_revision(one, "aaaa", None)
    assert main(["merge", str(one)]) == 0
    assert "nothing to merge" in capsys.readouterr().out

    broken = tmp_path / "broken"
    versions = two_heads(broken)
    add_revision(broken, "dddd", "missing")
    before = {p.name for p in versions.iterdir()}
    assert main(["merge", str(broken)]) == 1
    assert "HC102" in capsys.readouterr().err
    assert new_files(versions, before) == []


def test_missing_template_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two_heads(tmp_path)
    (tmp_path / "alembic" / "script.py.mako").unlink()
    assert main(["merge", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "script.py.mako does not exist" in err
    assert "Traceback" not in err


def test_never_imports_env_py_or_revisions(tmp_path: Path) -> None:
    versions = two_heads(tmp_path)
    (tmp_path / "alembic" / "env.py").write_text("raise RuntimeError('env.py ran')\n")
    for path in versions.glob("*.py"):
        path.write_text(path.read_text() + "\nraise RuntimeError('revision module ran')\n")
    before = {p.name for p in versions.iterdir()}
    assert main(["merge", str(tmp_path)]) == 0
    assert len(new_files(versions, before)) == 1


def test_module_hook_with_cwd_and_failing_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "stamp_hook.py").write_text(
        "import os, sys\nopen(sys.argv[1], 'a').write('# cwd ' + os.path.basename(os.getcwd()) + '\\n')\nsys.exit(3)\n"
    )
    monkeypatch.syspath_prepend(str(hooks))  # find_spec runs in this process, as in Alembic
    versions = two_heads(
        tmp_path,
        f"[post_write_hooks]\nhooks = stamp\nstamp.type = module\nstamp.module = stamp_hook\nstamp.cwd = {hooks}\n",
    )
    before = {p.name for p in versions.iterdir()}
    assert main(["merge", str(tmp_path)]) == 0  # Alembic ignores a hook's exit status
    assert "Running post write hook 'stamp' ... exit 3" in capsys.readouterr().out
    (written,) = new_files(versions, before)
    assert written.read_text().endswith("# cwd hooks\n")


def test_git_merge_then_headcheck_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.git_project import forked_repo, git

    repo = forked_repo(tmp_path)
    git(repo, "merge", "-q", "--no-edit", "main")  # git merges cleanly; Alembic now has two heads
    assert alembic_heads(repo) == ["cccc", "dddd"]
    assert main(["check", str(repo), "--base", "main"]) == 1
    assert main(["merge", str(repo)]) == 0
    capsys.readouterr()
    assert main(["check", str(repo), "--base", "main"]) == 0
    (head,) = alembic_heads(repo)
    assert head not in ("cccc", "dddd")
    assert alembic_upgrade_heads(repo) == ["alembic_version", "t_aaaa", "t_bbbb", "t_cccc", "t_dddd"]

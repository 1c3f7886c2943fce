"""Environment discovery: alembic.ini, pyproject [tool.alembic], Flask-Migrate, several envs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headcheck.config import ConfigError, EnvironmentSelection, find_environments
from tests.project import write_project


def codes(env: object) -> list[str]:
    return [p.code for p in env.problems]  # type: ignore[attr-defined]


def test_standard_ini_with_here(tmp_path: Path) -> None:
    versions = write_project(tmp_path, {"a.py": ("aaaa1", None)})
    (env,) = find_environments(tmp_path)
    assert env.kind == "ini"
    assert env.script_location == (tmp_path / "alembic").absolute()
    assert env.versions_dirs == (versions.absolute(),)
    assert env.problems == ()


def test_relative_script_location_resolves_against_ini_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path / "svc", {}, ini="[alembic]\nscript_location = alembic\n")
    monkeypatch.chdir("/")
    (env,) = find_environments(tmp_path)
    assert env.script_location == (tmp_path / "svc" / "alembic").absolute()


def test_default_section_interpolation_and_version_locations(tmp_path: Path) -> None:
    ini = """
    [DEFAULT]
    base = %(here)s/db
    [alembic]
    script_location = %(base)s
    version_locations = %(base)s/core;%(base)s/plugins
    path_separator = ;
    recursive_version_locations = true
    """
    write_project(tmp_path, {}, ini=ini, script="db")
    (env,) = find_environments(tmp_path)
    assert [p.name for p in env.versions_dirs] == ["core", "plugins"]
    assert env.recursive is True


def test_ini_boolean_must_be_exactly_true(tmp_path: Path) -> None:
    ini = "[alembic]\nscript_location = %(here)s/alembic\nrecursive_version_locations = True\n"
    write_project(tmp_path, {}, ini=ini)
    (env,) = find_environments(tmp_path)
    assert env.recursive is False  # Alembic: only the string "true" counts


@pytest.mark.parametrize(
    ("separator", "expected"),
    [("space", ["a", "b"]), ("os", ["a", "b"]), ("newline", ["a b"])],
)
def test_path_separators(tmp_path: Path, separator: str, expected: list[str]) -> None:
    sep = {"space": " ", "os": os.pathsep, "newline": " "}[separator]
    ini = f"[alembic]\nscript_location = %(here)s/alembic\nversion_locations = a{sep}b\npath_separator = {separator}\n"
    write_project(tmp_path, {}, ini=ini)
    (env,) = find_environments(tmp_path)
    assert [p.name for p in env.versions_dirs] == expected


def test_legacy_split_without_path_separator(tmp_path: Path) -> None:
    ini = "[alembic]\nscript_location = %(here)s/alembic\nversion_locations = a, b c\n"
    write_project(tmp_path, {}, ini=ini)
    (env,) = find_environments(tmp_path)
    assert [p.name for p in env.versions_dirs] == ["a", "b", "c"]


def test_bad_path_separator_is_a_problem_with_a_line(tmp_path: Path) -> None:
    ini = "[alembic]\nscript_location = %(here)s/alembic\nversion_locations = a b\npath_separator = comma\n"
    write_project(tmp_path, {}, ini=ini)
    (env,) = find_environments(tmp_path)
    (problem,) = env.problems
    assert problem.code == "HC403"
    assert problem.line == 4
    assert "'comma' is not a valid value for path_separator" in problem.message


def test_missing_script_location_dir(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/nope\n")
    (env,) = find_environments(tmp_path)
    assert codes(env) == ["HC402"]


def test_unknown_interpolation_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    ini = "[alembic]\nscript_location = %(here)s/alembic\nversion_locations = %(nope)s/v\n"
    write_project(tmp_path, {}, ini=ini)
    (env,) = find_environments(tmp_path)
    assert "HC407" in codes(env)


def test_broken_ini_raises_config_error(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("script_location = x\n[alembic\n")
    with pytest.raises(ConfigError, match="cannot parse ini file"):
        find_environments(tmp_path)


def test_pyproject_alone(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[tool.alembic]\nscript_location = "%(here)s/migrations"\n')
    (env,) = find_environments(tmp_path)
    assert env.kind == "pyproject"
    assert env.script_location == (tmp_path / "migrations").absolute()


def test_pyproject_with_logging_only_ini(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.alembic]\nscript_location = "%(here)s/migrations"\nversion_locations = ["%(here)s/migrations/versions"]\n'
    )
    (tmp_path / "alembic.ini").write_text("[loggers]\nkeys = root\n")
    (env,) = find_environments(tmp_path)
    assert env.kind == "pyproject"
    assert env.versions_dirs == ((tmp_path / "migrations" / "versions").absolute(),)


def test_ini_key_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "a" / "versions").mkdir(parents=True)
    (tmp_path / "b" / "versions").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[tool.alembic]\nscript_location = "%(here)s/b"\n')
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/a\n")
    (env,) = find_environments(tmp_path)
    assert env.script_location.name == "a"


def test_toml_boolean_must_be_boolean(tmp_path: Path) -> None:
    (tmp_path / "m" / "versions").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.alembic]\nscript_location = "%(here)s/m"\nrecursive_version_locations = "true"\n'
    )
    (env,) = find_environments(tmp_path)
    assert codes(env) == ["HC404"]
    assert env.problems[0].line == 3


def test_broken_toml_raises_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.alembic\nscript_location = 1\n")
    with pytest.raises(ConfigError, match="cannot parse TOML"):
        find_environments(tmp_path)


def test_flask_migrate_layout(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text("")
    (migrations / "alembic.ini").write_text(
        "[alembic]\n# template used to generate migration files\n\n[loggers]\nkeys = root\n"
    )
    (env,) = find_environments(tmp_path)
    assert env.kind == "flask"
    assert env.script_location == migrations.absolute()


def test_several_environments_sections_and_files(tmp_path: Path) -> None:
    ini = "[alembic]\nscript_location = %(here)s/one\n[reporting]\nscript_location = %(here)s/two\n"
    (tmp_path / "one" / "versions").mkdir(parents=True)
    (tmp_path / "two" / "versions").mkdir(parents=True)
    (tmp_path / "alembic.ini").write_text(ini)
    write_project(tmp_path / "service", {})
    envs = find_environments(tmp_path)
    assert sorted(env.name for env in envs) == ["one", "service/alembic", "two [reporting]"]
    (only,) = find_environments(tmp_path, EnvironmentSelection(config=tmp_path / "alembic.ini", name="reporting"))
    assert only.section == "reporting"


def test_config_pin_with_unknown_section(tmp_path: Path) -> None:
    write_project(tmp_path, {})
    (env,) = find_environments(tmp_path, EnvironmentSelection(config=tmp_path / "alembic.ini", name="nope"))
    assert codes(env) == ["HC401"]


def test_missing_root_and_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or directory"):
        find_environments(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no such config file"):
        find_environments(tmp_path, EnvironmentSelection(config=tmp_path / "x.ini"))


def test_skips_virtualenvs_and_hidden_dirs(tmp_path: Path) -> None:
    write_project(tmp_path / ".venv" / "lib", {})
    write_project(tmp_path / "node_modules" / "x", {})
    assert find_environments(tmp_path) == []


def test_versions_pin(tmp_path: Path) -> None:
    versions = write_project(tmp_path, {})
    (env,) = find_environments(tmp_path, EnvironmentSelection(versions=versions))
    assert env.kind == "versions"
    assert env.versions_dirs == (versions.absolute(),)


def test_flask_migrate_layout_without_alembic_section(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text("")
    (migrations / "alembic.ini").write_text("[loggers]\nkeys = root\n")
    (env,) = find_environments(tmp_path)
    assert (env.kind, env.script_location) == ("flask", migrations.absolute())


def test_flask_keeps_its_ini_version_locations(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    (migrations / "extra").mkdir(parents=True)
    (migrations / "env.py").write_text("")
    (migrations / "alembic.ini").write_text("[alembic]\nversion_locations = %(here)s/extra\n")
    (env,) = find_environments(tmp_path)
    assert env.kind == "flask"
    assert env.versions_dirs == ((migrations / "extra").absolute(),)


def test_uninterpolatable_script_location_is_reported_not_hidden(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(nope)s/alembic\n")
    (env,) = find_environments(tmp_path)
    assert codes(env) == ["HC407"]
    assert env.problems[0].line == 2
    (pinned,) = find_environments(tmp_path, EnvironmentSelection(config=tmp_path / "alembic.ini"))
    assert codes(pinned) == ["HC407"], "no extra 'no script_location' on top"


def test_unreadable_alembic_ini_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").mkdir()  # a folder where the file should be: unreadable as a file
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "alembic.ini").symlink_to(tmp_path / "sub" / "missing.ini")
    with pytest.raises(ConfigError, match=r"sub/alembic.ini: cannot read"):
        find_environments(tmp_path)


def test_binary_pyproject_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"\xff\xfe[tool.alembic]\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        find_environments(tmp_path)


# -- relative and package locations, as Alembic resolves them (issue 10, item 6) -----------------


def _nested_layout(repo: Path, script_location: str) -> Path:
    """repo/pkg/db_migrations/{alembic.ini, env.py, versions/}: meant for `alembic -c pkg/db_migrations/alembic.ini`."""
    from tests.project import revision_file

    folder = repo / "pkg" / "db_migrations"
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text("raise RuntimeError('never run')\n")
    (folder / "alembic.ini").write_text(f"[alembic]\nscript_location = {script_location}\n")
    (folder / "versions" / "a.py").write_text(revision_file("aaaa1", None))
    return folder


def test_relative_location_resolves_against_the_working_directory_as_alembic_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from headcheck.cli import main
    from tests.alembic_oracle import load_ini

    folder = _nested_layout(tmp_path, "pkg/db_migrations")
    monkeypatch.chdir(tmp_path)
    assert load_ini(folder / "alembic.ini").heads == ["aaaa1"]  # Alembic, run from the root
    (env,) = find_environments(tmp_path)
    assert env.script_location == folder.absolute()
    assert env.problems == ()
    assert "resolved against the working directory" in env.notes[0]
    monkeypatch.setenv("HEADCHECK_NO_CACHE", "1")
    assert main([]) == 0  # was a false HC402
    assert "resolved against the working directory" in capsys.readouterr().err


def test_relative_location_falls_back_to_the_config_folder_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _nested_layout(tmp_path, "mig")  # meant to be run from pkg/db_migrations
    (folder / "mig" / "versions").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    (env,) = find_environments(tmp_path)
    assert env.script_location == (folder / "mig").absolute()
    assert env.problems == ()
    assert "resolved against the config file's folder" in env.notes[0]
    assert "where Alembic would look" in env.notes[0]
    (folder / "mig").rename(folder / "gone")
    (env,) = find_environments(tmp_path)
    assert codes(env) == ["HC402"]  # nowhere: the working directory's answer, as Alembic says it
    assert env.script_location == (tmp_path / "elsewhere" / "mig").absolute()


def test_package_resource_is_found_on_sys_path_without_importing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    site = tmp_path / "site"
    package = site / "hc_installed_app"
    (package / "migrations" / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    project = tmp_path / "project"
    project.mkdir()
    ini = "[alembic]\nscript_location = hc_installed_app:migrations\nversion_locations = hc_installed_app:migrations/versions\n"
    (project / "alembic.ini").write_text(ini)
    monkeypatch.chdir(project)
    (env,) = find_environments(project)
    assert codes(env) == ["HC402", "HC402"]  # not installed: cannot be found
    monkeypatch.syspath_prepend(str(site))
    (env,) = find_environments(project)
    assert env.problems == ()
    assert env.script_location == (package / "migrations").absolute()
    assert env.versions_dirs == ((package / "migrations" / "versions").absolute(),)
    assert "hc_installed_app" not in sys.modules
    assert "found as a package folder on the sys.path" in env.notes[0]

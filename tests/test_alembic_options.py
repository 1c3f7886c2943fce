"""``headcheck.alembic_options`` against real ``alembic.config.Config``: the same keys, read without Alembic."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.util import CommandError

from headcheck.alembic_options import (
    ConfigError,
    OptionSource,
    ini_section,
    option_line,
    read_ini,
    toml_alembic,
    version_location_strings,
)


def _source(ini: Path, toml: Path | None = None) -> OptionSource:
    """The [alembic] section, completed by [tool.alembic], as headcheck.config builds it."""
    values, _ = ini_section(read_ini(ini), ini, "alembic")
    table = toml_alembic(toml)[0] if toml is not None else None
    return OptionSource(ini, "alembic", values, toml if table is not None else None, table)


def _alembic(ini: Path, toml: Path | None = None) -> Config:
    return Config(str(ini), toml_file=str(toml) if toml is not None else None)


def _quietly(read: object) -> object:
    """Alembic warns (deprecations) on some spellings; the suite turns warnings into errors."""
    assert callable(read)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read()


@pytest.mark.parametrize(
    ("separator", "raw"),
    [
        (None, "a b,c, d"),  # legacy: commas and spaces
        ("space", "a  b c"),
        ("newline", "\n    a\n    b c\n"),
        ("os", f"a{os.pathsep}b c{os.pathsep} d"),
        (":", "a:b"),
        (";", "a; b ;c"),
    ],
)
def test_version_locations_split_as_alembic_splits_them(tmp_path: Path, separator: str | None, raw: str) -> None:
    ini = tmp_path / "alembic.ini"
    sep_line = f"path_separator = {separator}\n" if separator else ""
    ini.write_text(f"[alembic]\nscript_location = x\n{sep_line}version_locations = {raw}\n")
    alembic = _quietly(_alembic(ini).get_version_locations_list)
    assert isinstance(alembic, list)
    source = _source(ini)
    assert version_location_strings(source) == [item.strip() for item in alembic if item.strip()]
    assert source.problems == []


def test_an_unknown_path_separator_is_what_alembic_refuses(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = x\npath_separator = comma\nversion_locations = a,b\n")
    with pytest.raises(ValueError, match="'comma' is not a valid value for path_separator") as raised:
        _alembic(ini).get_version_locations_list()
    source = _source(ini)
    assert version_location_strings(source) == []
    (problem,) = source.problems
    assert problem.code == "HC403"
    assert problem.message == str(raised.value)
    assert (problem.path, problem.line) == (ini, 3)


def test_ini_wins_over_tool_alembic_and_toml_strings_know_here(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = %(here)s/from_ini\n")
    toml = tmp_path / "pyproject.toml"
    toml.write_text(
        '[tool.alembic]\nscript_location = "%(here)s/from_toml"\nversion_locations = ["%(here)s/v1", "%(here)s/v2"]\n'
    )
    config = _alembic(ini, toml)
    source = _source(ini, toml)
    for key in ("script_location", "version_locations"):
        assert source.get(key) == config.get_alembic_option(key), key
    assert source.get("script_location") == f"{tmp_path.absolute().as_posix()}/from_ini"
    assert version_location_strings(source) == config.get_version_locations_list()


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "false"])
def test_ini_booleans_are_exactly_the_string_true(tmp_path: Path, value: str) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = x\nrecursive_version_locations = {value}\n")
    expected = _alembic(ini).get_alembic_boolean_option("recursive_version_locations")
    assert _source(ini).boolean("recursive_version_locations") is expected


def test_a_toml_boolean_must_be_a_boolean(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = x\n")
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[tool.alembic]\nrecursive_version_locations = "true"\n')
    with pytest.raises(CommandError, match="boolean value expected") as raised:
        _alembic(ini, toml).get_alembic_boolean_option("recursive_version_locations")
    source = _source(ini, toml)
    assert source.boolean("recursive_version_locations") is False
    (problem,) = source.problems
    assert problem.code == "HC404"
    assert problem.message == str(raised.value)
    assert (problem.path, problem.line) == (toml, 2)


def test_a_key_that_cannot_interpolate_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = x\nversion_locations = %(nowhere)s/versions\n")
    with pytest.raises(Exception, match="nowhere"):  # configparser.InterpolationMissingOptionError
        _alembic(ini).get_version_locations_list()
    values, problems = ini_section(read_ini(ini), ini, "alembic")
    assert "version_locations" not in values
    assert values["script_location"] == "x"
    (problem,) = problems
    assert problem.code == "HC407"
    assert problem.line == 3
    assert "nowhere" in problem.message


def test_an_unparsable_ini_is_one_config_error(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("script_location = x\n[alembic\n")
    with pytest.raises(ConfigError, match=r"alembic\.ini: cannot parse ini file: ") as raised:
        read_ini(ini)
    assert "\n" not in str(raised.value)


def test_option_line_counts_only_inside_the_section(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("[other]\nscript_location = a\n\n[alembic]\n# script_location = b\nscript_location: c\n")
    assert option_line(ini, "script_location", "alembic") == 6
    assert option_line(ini, "script_location", "other") == 2
    assert option_line(ini, "version_locations", "alembic") is None

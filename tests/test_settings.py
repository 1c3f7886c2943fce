"""``[tool.headcheck]`` settings: what is accepted, and one-line errors for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from headcheck.alembic_options import ConfigError
from headcheck.settings import Settings, load_settings


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(body)
    return tmp_path


def test_defaults_without_a_table(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == Settings()
    assert load_settings(_write(tmp_path, "[tool.other]\nx = 1\n")) == Settings()


def test_every_key(tmp_path: Path) -> None:
    root = _write(tmp_path, '[tool.headcheck]\nignore = ["HC301"]\nmax-heads = 2\nstrict = true\n')
    assert load_settings(root) == Settings(ignore=frozenset({"HC301"}), max_heads=2, strict=True)
    assert load_settings(root / "pyproject.toml") == load_settings(root)  # a file path reads its folder


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('ignore = ["HC999"]', "unknown rule code(s): HC999"),
        ('ignore = "HC301"', "ignore must be a list of rule codes"),
        ("max-heads = 0", "max-heads must be a positive integer"),
        ("max-heads = true", "max-heads must be a positive integer"),
        ('strict = "yes"', "strict must be true or false"),
        ("colour = 1", "unknown key(s): colour"),
    ],
)
def test_bad_values_are_one_line_config_errors(tmp_path: Path, body: str, message: str) -> None:
    root = _write(tmp_path, f"[tool.headcheck]\n{body}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(root)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert "[tool.headcheck]" in str(raised.value)

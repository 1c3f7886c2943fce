"""The rule catalogue is the single source of truth, and the README table matches it."""

from __future__ import annotations

import re
from pathlib import Path

from headcheck.rules import RULES, markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_codes_are_well_formed_and_unique() -> None:
    names = [rule.name for rule in RULES.values()]
    assert len(set(names)) == len(names)
    for code, rule in RULES.items():
        assert re.fullmatch(r"HC\d{3}", code)
        assert rule.code == code
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
        assert rule.severity in ("error", "warning")
        assert rule.summary
        assert rule.why
        assert rule.fix


def test_readme_rule_table_is_generated_from_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "README drifted: paste `python -m headcheck.rules` into README.md"


def test_every_code_used_in_the_source_is_in_the_catalogue() -> None:
    used = set()
    for path in (ROOT / "headcheck").rglob("*.py"):
        used |= set(re.findall(r'"(HC\d{3})"', path.read_text()))
    assert used <= set(RULES), sorted(used - set(RULES))

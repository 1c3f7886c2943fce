"""The CLI's last line of defence: a bug is still one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import pytest

import headcheck.gate
from headcheck.cli import main


def _boom(*_args: object, **_kwargs: object) -> object:
    raise ZeroDivisionError("a bug\nspanning lines")


def test_an_internal_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HEADCHECK_DEBUG", raising=False)
    monkeypatch.setattr(headcheck.gate, "run_gate", _boom)
    assert main(["examples/clean"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("headcheck: internal error: ZeroDivisionError: a bug")
    assert "Traceback" not in captured.err
    assert "HEADCHECK_DEBUG=1" in lines[0]


def test_headcheck_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADCHECK_DEBUG", "1")
    monkeypatch.setattr(headcheck.gate, "run_gate", _boom)
    with pytest.raises(ZeroDivisionError):
        main(["examples/clean"])


def test_ctrl_c_is_exit_130_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt(*_args: object, **_kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(headcheck.gate, "run_gate", interrupt)
    assert main(["examples/clean"]) == 130
    assert capsys.readouterr().err == "headcheck: interrupted\n"

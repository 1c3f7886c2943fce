"""What the cold gate does for speed must not change what callers see.

The gate runs without the cyclic garbage collector; an in-process caller (a test, an editor
integration) gets the collector back as it was. The parse queue between this process and its
worker holds at most 1,024 chunk numbers, so a huge history is cut into bigger chunks, not lost.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path

import pytest

from headcheck.cli import main
from headcheck.gate import run_gate
from headcheck.settings import Settings
from tests.project import write_project


@pytest.mark.parametrize("enabled", [True, False])
def test_the_gate_leaves_the_collector_as_it_found_it(tmp_path: Path, enabled: bool) -> None:
    write_project(tmp_path, {"a.py": ("aaaa1", None), "b.py": ("bbbb2", "aaaa1")})
    was = gc.isenabled()
    try:
        if enabled:
            gc.enable()
        else:
            gc.disable()
        result = run_gate(tmp_path, Settings())
        assert gc.isenabled() is enabled
        assert result.ok
        assert result.environments[0].heads == ["bbbb2"]
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


def test_an_in_process_command_line_keeps_the_collector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the check command's own process (argv from its command line) runs without it."""
    write_project(tmp_path, {"a.py": ("aaaa1", None)})
    assert gc.isenabled()
    assert main(["--no-cache", str(tmp_path)]) == 0
    assert gc.isenabled()
    assert "aaaa1" in capsys.readouterr().out


def test_a_queue_of_more_chunks_than_the_pipe_holds_gets_bigger_chunks() -> None:
    """Both processes still share the work (the queue is not refused and done here alone)."""
    import os
    import time

    from headcheck.parse_cache import _CHUNK, _MAX_CHUNKS, _on_two_cores

    items = list(range(_CHUNK * 16_384 + 1))  # one chunk number more than a 64 KiB pipe buffer holds
    assert _MAX_CHUNKS * 4 <= 4096

    def tagged(chunk: Sequence[int]) -> list[tuple[int, int]]:
        time.sleep(0.001)
        return [(n, os.getpid()) for n in chunk]

    def delivered(_chunk: Sequence[int], results: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return results

    results = _on_two_cores(tagged, items, tagged, delivered)
    assert [n for n, _ in results] == items
    assert {pid for _, pid in results} - {os.getpid()}, "the worker took no chunk"


def test_a_worker_that_dies_midway_keeps_what_it_delivered() -> None:
    """Chunks the worker finished before it was killed are used; the one it held is done here."""
    import os
    import time

    from headcheck.parse_cache import _on_two_cores

    parent = os.getpid()
    items = list(range(32 * 200))
    taken = [0]

    def tagged(chunk: Sequence[int]) -> list[tuple[int, int]]:
        if os.getpid() != parent:
            taken[0] += 1
            if taken[0] > 3:
                os._exit(9)  # as abrupt as a kill: no cleanup, the chunk it held never delivered
        time.sleep(0.001)
        return [(n, os.getpid()) for n in chunk]

    def delivered(_chunk: Sequence[int], results: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return results

    def children() -> set[str]:
        return set(Path(f"/proc/{parent}/task/{parent}/children").read_text().split())

    before = children()
    results = _on_two_cores(tagged, items, tagged, delivered)
    assert [n for n, _ in results] == items
    by_worker = [n for n, pid in results if pid != parent]
    assert 0 < len(by_worker) <= 3 * 32
    assert children() == before, "a worker process was left behind"

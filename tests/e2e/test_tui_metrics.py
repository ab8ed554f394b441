"""F2 on the Thespian engine: the panel lists the mailboxes of the core's cells, which run
in processes of their own, with their figures fetched while it is open.

``aiway --engine thespian`` runs in tmux against the fake Ollama server; F2 opens
the panel, which must show the registry's, the avatar's and the Conductor's
mailboxes (``NAME (thespian)``) beside the local ones, and their figures must
follow what those cells handle while it stays open. Deadlines only.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_tui import Tui
from tests.e2e.test_tui_signals import ollama, started_by  # noqa: F401 (a fixture)
from tests.fakes import FakeOllamaProcess
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until_sync

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def thespian_tui(tmp_path: Path, ollama: FakeOllamaProcess) -> Iterator[Tui]:  # noqa: F811
    ollama.configure(script=["Hello", " there", "."], tokens=None, rate=0)
    tui = Tui(tmp_path, f"127.0.0.1:{ollama.port}", height=40, args=("--engine", "thespian"))
    try:
        tui.wait_for("Ready", timeout=60)
        yield tui
    finally:
        tui.close()
        processes.kill(started_by(tmp_path))


def accepted(screen: str, name: str) -> int | None:
    """The ``accepted`` column of the panel's row for ``name`` (None: no such row)."""
    for row in screen.split("\n"):
        found = re.match(rf"\s*{re.escape(name)}\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", row)
        if found:
            return int(found.group(4))
    return None


def test_f2_lists_the_cells_mailboxes_with_figures_that_follow_them(thespian_tui: Tui) -> None:
    tui = thespian_tui
    tui.keys("F2")
    screen = tui.wait_for("conductor (thespian)", timeout=20)
    for name in ("registry (thespian)", "avatar (thespian)"):
        assert name in screen, screen
    before = accepted(screen, "conductor (thespian)")
    assert before is not None, screen
    tui.say("hi")
    # the panel stays open over the answer: the Conductor's row counts what it took since
    wait_until_sync(
        lambda: (accepted(tui.screen(), "conductor (thespian)") or 0) > before,
        timeout=20,
        what="the Conductor's figures to move",
    )

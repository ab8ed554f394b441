"""A disk that refuses the history's writes: the queue stays bounded and the person is told why.

The refusal is real: SQLite's ``max_page_count`` caps the file at the pages it
has, so every write that needs a new page fails with ``SQLITE_FULL`` ("database
or disk is full"), exactly as on a full disk. The session runs on loopback
against the fake Ollama server.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest

from aiway.actors.protocol import NotifyLevel
from aiway.actors.store import HistoryDatabase
from aiway.actors.store.records import WriteOp
from aiway.config import Settings
from tests.fakes import FakeOllama
from tests.integration.test_store_session import (
    _rows,
    ask,
    count_rows,
    fake,
    settings_for,
    start,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio
__all__ = ["fake"]

BIG = "ñ" * 3000  # each message needs pages of its own: a capped file refuses it


class FullDisk(HistoryDatabase):
    """The real database, with a switch that makes its file refuse to grow."""

    full = threading.Event()
    largest = 0

    def apply(self, ops: Sequence[WriteOp]) -> None:
        conn = self._connection()
        if FullDisk.full.is_set():
            FullDisk.largest = max(FullDisk.largest, len(ops))
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        else:
            conn.execute("PRAGMA max_page_count = 1073741823")
        super().apply(ops)


async def test_a_full_disk_bounds_the_queue_and_says_so_once(
    fake: FakeOllama, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    FullDisk.full.clear()
    FullDisk.largest = 0
    base = settings_for(fake.url, tmp_path)
    settings = attrs.evolve(base, history=attrs.evolve(base.history, max_queued_writes=6))
    fake.configure(script=("ok",))
    assistant, screen = await start(settings, database=FullDisk)
    await ask(assistant, screen, "before")

    def notified(level: NotifyLevel) -> bool:
        return any(n.level is level for n in screen.notices("history"))

    await wait_until(lambda: saved_turns(settings) == 1, timeout=10, what="the first turn")

    FullDisk.full.set()
    await ask(assistant, screen, f"first {BIG}")
    await wait_until(lambda: notified(NotifyLevel.WARNING), timeout=10, what="the failure")
    for n in range(8):
        await ask(assistant, screen, f"{n} {BIG}")
    await wait_until(lambda: notified(NotifyLevel.ERROR), timeout=10, what="the refusal")
    FullDisk.full.clear()
    await wait_until(lambda: notified(NotifyLevel.INFO), timeout=20, what="the recovery")
    await assistant.stop()

    levels = [n.level for n in screen.notices("history")]
    assert levels == [NotifyLevel.WARNING, NotifyLevel.ERROR, NotifyLevel.INFO]
    error = screen.notices("history")[1].text
    assert "database or disk is full" in error and "6 writes wait" in error
    assert "were lost" in screen.notices("history")[2].text
    assert 0 < FullDisk.largest <= 6, "never more than max_queued_writes held"
    refusals = [r for r in caplog.records if "refuses them" in r.getMessage()]
    assert len(refusals) == 1, "one log line, not one per write"
    rows = await _rows(settings)
    assert rows[:2] == [("user", "before", "complete"), ("assistant", "ok", "complete")]
    assert 2 < len(rows) < 18, "what waited is saved; what came past the bound is not"


def saved_turns(settings: Settings) -> int:
    path = settings.history.path
    assert path is not None
    return count_rows(path, "messages") // 2

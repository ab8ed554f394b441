"""A core placed anew is seeded with the conversation saved so far: no surface shows it twice.

When the member holding the core goes away, the session loads the conversation
from its history and gives it to the new Conductor, which restores the
registry's mirror; every surface then gets a snapshot of it. The loaded turns
must come back under the ids the surfaces already showed them with, or the
headless log writes them a second time (and the Store saves them again).

The host here is the asyncio one with the Thespian host's ``core_listeners``
seam: the test tells the session what the host would (the core lost, then
placed again), and the session runs its real re-seeding path.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
import pytest_asyncio

from aiway.actors.app import Assistant
from aiway.actors.backends.selection import select_backend
from aiway.actors.protocol import StreamEnd, UserMessage
from aiway.actors.runtime import ActorSystem
from aiway.actors.store import HistoryStore, open_history
from aiway.config import Settings
from aiway.ui.headless import SURFACE_ID, LogSurface
from aiway.ui.output import Output
from aiway.ui.tui.surface import CAPABILITIES, TuiSurface
from aiway.ui.tui.viewmodel import ViewModel
from tests.fakes import FakeOllama
from tests.integration.test_store_session import SURFACE, Screen, count_rows, settings_for
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


@attrs.frozen
class Moved:
    """What the Thespian host tells the session about its core (``CoreEvent``)."""

    kind: str
    text: str


class MovableSystem(ActorSystem):
    """The asyncio host, with the seam a host whose core can move offers the session."""

    def __init__(self) -> None:
        super().__init__()
        self.core_listeners: list[object] = []

    def move_core(self) -> None:
        for kind in ("lost", "placed"):
            for listener in self.core_listeners:
                listener(Moved(kind, f"the core was {kind}"))  # type: ignore[operator]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama(models=("tiny:latest",)) as server:
        yield server


async def start(settings: Settings) -> tuple[Assistant, MovableSystem]:
    system = MovableSystem()
    history = await open_history(settings)
    selection = await select_backend(settings)
    assistant = Assistant.start(
        settings, selection.backend, model=selection.model, system=system, history=history
    )
    return assistant, system


async def test_a_core_placed_again_brings_back_no_turn_a_surface_has_shown(
    fake: FakeOllama, tmp_path: Path
) -> None:
    settings = settings_for(fake.url, tmp_path)
    assistant, system = await start(settings)
    written = io.BytesIO()
    log = LogSurface(Output(None, written), json_mode=False)
    assistant.attach(SURFACE_ID, lambda: log, surface_type="headless", capabilities=SURFACE)
    view = ViewModel()
    assistant.attach("tui", lambda: TuiSurface(view), surface_type="tui", capabilities=CAPABILITIES)
    screen = Screen()
    assistant.attach("screen", lambda: screen, surface_type="test", capabilities=SURFACE)
    try:
        await wait_until(lambda: screen.snapshots, what="the first snapshot")
        fake.configure(script=("first ", "answer"))
        assistant.conductor.tell(UserMessage("hi", SURFACE_ID))
        await wait_until(lambda: screen.of(StreamEnd), what="the first answer")
        # the turn is on disk (the member goes away seconds after, in a real convention)
        path = settings.history.path
        assert path is not None
        await wait_until(lambda: count_rows(path, "messages") == 2, what="the turn saved")

        snapshots = len(screen.snapshots)
        system.move_core()
        # seeded: the restored conversation reached the registry, and the surfaces
        # were registered again (each takes a snapshot of it)
        await wait_until(
            lambda: len(screen.snapshots) >= snapshots + 2,
            timeout=10,
            what="the seeded conversation's snapshot and the one of registering again",
        )
        seeded = screen.snapshots[-1]
        published = [m.id for m in screen.got if hasattr(m, "role")]  # the user message
        assert [e.id for e in seeded.history] == [
            published[0],
            screen.of(StreamEnd)[0].message_id,
        ], "the conversation comes back under the ids the surfaces showed"

        fake.configure(script=("second ", "answer"))
        assistant.conductor.tell(UserMessage("again", SURFACE_ID))
        await wait_until(lambda: len(screen.of(StreamEnd)) == 2, what="the second answer")
        await wait_until(
            lambda: b"second answer" in written.getvalue(), what="the second answer written"
        )
    finally:
        await assistant.stop()

    lines = written.getvalue().decode().splitlines()
    assert lines.count("you> hi") == 1, lines
    assert lines.count("yollayah> first answer") == 1, lines
    assert lines.count("you> again") == 1 and lines.count("yollayah> second answer") == 1, lines
    assert lines.index("you> hi") < lines.index("you> again"), lines
    # the core went between two answers: the error says so, on no empty answer line
    assert "   ! error: the core was placed" in lines and "yollayah> " not in lines, lines
    # the terminal UI starts over from each snapshot: each turn once, in order
    texts = [(e.kind, e.text) for e in view.take().entries if e.kind != "note"]
    assert [text for _, text in texts] == ["hi", "first answer", "again", "second answer"]
    # the Store took the seeded snapshot as what it had saved: each turn saved once
    assert assistant.history is not None
    store = await HistoryStore.open(path)
    try:
        transcript = await store.transcript(assistant.history.session_id)
    finally:
        await store.close()
    assert [m.content for m in transcript.messages] == [
        "hi",
        "first answer",
        "again",
        "second answer",
    ]

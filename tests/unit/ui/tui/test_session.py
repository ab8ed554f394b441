"""The session thread: a real actor system on its own loop, fed from here, stopped cleanly."""

from __future__ import annotations

from collections.abc import Callable

from aiway.actors.app import Assistant
from aiway.actors.backends.base import BackendError, OnText
from aiway.actors.protocol import ChatTurn, ResponseMetadata, UserMessage
from aiway.config import Settings
from aiway.ui.tui.controller import SURFACE_ID
from aiway.ui.tui.session import Session
from aiway.ui.tui.viewmodel import ASSISTANT, Changes, ViewModel
from tests.waiting import wait_until_sync


class ScriptedBackend:
    """Answers every request with the same pieces."""

    name = "scripted"

    def __init__(self, pieces: tuple[str, ...]) -> None:
        self.pieces = pieces
        self.closed = False

    async def stream(
        self, model: str, messages: tuple[ChatTurn, ...], on_text: OnText
    ) -> ResponseMetadata:
        for piece in self.pieces:
            await on_text(piece)
        return ResponseMetadata(model=model, backend=self.name, tokens=len(self.pieces))

    async def list_models(self) -> list[str]:
        return ["fake"]

    async def close(self) -> None:
        self.closed = True


def starter(backend: ScriptedBackend) -> Callable[[Settings, Callable[[str], None]], Assistant]:
    def start(settings: Settings, notice: Callable[[str], None]) -> Assistant:
        return Assistant.start(settings, backend, model="fake")

    return start


class Collected:
    """Everything the view model handed over, taken as a UI thread would."""

    def __init__(self, view: ViewModel) -> None:
        self.view = view
        self.changes: list[Changes] = []

    def answer_text(self) -> str:
        self.changes.append(self.view.take())
        finished = [
            entry.text
            for changes in self.changes
            for entry in changes.entries
            if entry.kind == ASSISTANT and entry.full and entry.status == "complete"
        ]
        return finished[-1] if finished else ""


def test_a_message_sent_before_the_session_is_ready_is_answered() -> None:
    view = ViewModel()
    wakes: list[int] = []
    backend = ScriptedBackend(("Hel", "lo [yolla:wave]", " there"))
    session = Session(Settings(), view, lambda: wakes.append(1), start=starter(backend))
    session.start()
    session.send(UserMessage("hi", SURFACE_ID))
    session.resized(60, 20)
    collected = Collected(view)
    try:
        wait_until_sync(lambda: collected.answer_text() == "Hello  there", what="the answer")
        assert session.ready and wakes
    finally:
        session.stop()
    assert not session.thread_alive
    assert session.error is None
    assert backend.closed


def test_a_session_that_cannot_start_keeps_the_error_for_the_ui() -> None:
    def fail(settings: Settings, notice: Callable[[str], None]) -> Assistant:
        raise BackendError("no Ollama server at http://127.0.0.1:1", "start it")

    wakes: list[int] = []
    session = Session(Settings(), ViewModel(), lambda: wakes.append(1), start=fail)
    session.start()
    try:
        wait_until_sync(lambda: session.error is not None, what="the start-up error")
    finally:
        session.stop()
    assert isinstance(session.error, BackendError)
    assert wakes
    assert not session.ready

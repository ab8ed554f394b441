"""The whole session (backend, StreamManager, Conductor, registry, avatar) on loopback.

A real OllamaBackend talks to the fake Ollama server over 127.0.0.1; a
collecting surface sees what any surface would.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import pytest_asyncio

from aiway.actors.app import Assistant
from aiway.actors.backends.base import BackendError
from aiway.actors.backends.selection import make_ollama, select_backend
from aiway.actors.protocol import (
    AnswerStatus,
    Cancel,
    Capability,
    ConversationState,
    Notify,
    Published,
    State,
    StateSnapshot,
    StreamEnd,
    StreamError,
    TaskCreated,
    Token,
    UserMessage,
)
from aiway.actors.runtime import Behaviour, Context, handles
from aiway.config import Settings, load_settings
from profiling.bench_idle import callback_module, live_timers, wakeups_in_window
from tests.fakes import ErrorLine, FakeOllama, Split, Stall
from tests.waiting import wait_until


class Screen(Behaviour):
    """A surface that keeps everything it takes, unwrapped."""

    def __init__(self) -> None:
        self.got: list[object] = []

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        self.got.append(msg.message)

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.got.append(msg)

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.got if isinstance(m, kind)]

    def visible_text(self) -> str:
        return "".join(t.text for t in self.of(Token))


def settings_for(url: str, **ollama: Any) -> Settings:
    base = load_settings(env={}, config_path=None, overrides={"ollama.host": url}).settings
    return attrs.evolve(
        base,
        backend="ollama",
        ollama=attrs.evolve(base.ollama, default_model="tiny", **ollama),
    )


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama(models=("tiny:latest", "other:latest")) as server:
        yield server


async def session(settings: Settings) -> tuple[Assistant, Screen]:
    selection = await select_backend(settings)
    assistant = Assistant.start(
        settings, selection.backend, model=selection.model, system_prompt="be brief"
    )
    screen = Screen()
    assistant.attach(
        "screen",
        lambda: screen,
        surface_type="test",
        capabilities=frozenset({Capability.STREAMING, Capability.TASKS}),
    )
    return assistant, screen


@pytest.mark.asyncio
async def test_an_answer_streams_with_tags_stripped_and_commands_applied(
    fake: FakeOllama,
) -> None:
    fake.configure(
        script=(
            "Hola",
            Split(" amigo [yolla:wa", at=9),
            "ve] ",
            '[yolla:task start backend-engineer "Draft the API"]',
            "ñandú 🦎",
        )
    )
    assistant, screen = await session(settings_for(fake.url))
    assistant.conductor.tell(UserMessage("hi"))
    await wait_until(lambda: screen.of(StreamEnd), what="the answer to end")
    (end,) = screen.of(StreamEnd)
    assert end.content == "Hola amigo  ñandú 🦎"
    assert screen.visible_text() == end.content
    assert "[yolla:" not in end.content
    assert end.status is AnswerStatus.COMPLETE
    assert end.metadata.tokens > 0 and end.metadata.model == "tiny"
    (task,) = screen.of(TaskCreated)
    assert (task.task_id, task.agent_name) == ("t1", "Uncle Marco")
    states = [s.state for s in screen.of(State)]
    assert states[-3:] == [
        ConversationState.THINKING,
        ConversationState.RESPONDING,
        ConversationState.READY,
    ]
    sent = fake.chat_bodies[-1]
    assert sent["model"] == "tiny"
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent["messages"][-1] == {"role": "user", "content": "hi"}
    await assistant.stop()


@pytest.mark.asyncio
async def test_cancel_stops_the_stream_quickly_and_keeps_the_partial_text(
    fake: FakeOllama,
) -> None:
    fake.configure(script=("partial ", "answer ", Stall(None)))
    assistant, screen = await session(settings_for(fake.url))
    assistant.conductor.tell(UserMessage("talk"))
    await wait_until(lambda: screen.visible_text() == "partial answer ")
    cancelled_at = time.perf_counter()
    assistant.conductor.tell(Cancel())
    await wait_until(lambda: screen.of(StreamEnd), what="the cancelled answer to end")
    took = time.perf_counter() - cancelled_at
    (end,) = screen.of(StreamEnd)
    assert end.status is AnswerStatus.CANCELLED
    assert end.content == "partial answer "
    await fake.wait_for_disconnects(1)
    assert took < 1.0  # a responsiveness bound (the design asks for 100 ms), not a benchmark
    # the session is usable again
    fake.configure(script=("again",))
    assistant.conductor.tell(UserMessage("more"))
    await wait_until(lambda: len(screen.of(StreamEnd)) == 2)
    assert screen.of(StreamEnd)[-1].content == "again"
    await assistant.stop()


@pytest.mark.asyncio
async def test_an_error_line_mid_stream_becomes_a_stream_error_with_the_partial_text(
    fake: FakeOllama,
) -> None:
    fake.configure(script=("half ", ErrorLine("out of memory")))
    assistant, screen = await session(settings_for(fake.url))
    assistant.conductor.tell(UserMessage("hi"))
    await wait_until(lambda: screen.of(StreamError))
    (error,) = screen.of(StreamError)
    assert error.partial == "half "
    assert "out of memory" in error.error
    assert any("out of memory" in n.text for n in screen.of(Notify))
    await wait_until(lambda: screen.of(State)[-1].state is ConversationState.READY)
    await assistant.stop()


@pytest.mark.asyncio
async def test_a_stalled_server_fails_after_the_idle_timeout_not_never(
    fake: FakeOllama,
) -> None:
    fake.configure(script=("slow ", Stall(None)))
    assistant, screen = await session(settings_for(fake.url, idle_timeout=0.3))
    assistant.conductor.tell(UserMessage("hi"))
    await wait_until(lambda: screen.of(StreamError), timeout=5)
    assert "0.3" in screen.of(StreamError)[0].error
    await assistant.stop()


@pytest.mark.asyncio
async def test_a_second_message_during_a_slow_answer_is_queued_and_answered(
    fake: FakeOllama,
) -> None:
    fake.configure(script=("one ", "two ", "three"), rate=40)
    assistant, screen = await session(settings_for(fake.url))
    assistant.conductor.tell(UserMessage("first"))
    await wait_until(screen.visible_text)
    assistant.conductor.tell(UserMessage("second"))
    await wait_until(lambda: len(screen.of(StreamEnd)) == 2, timeout=10)
    assert [b["messages"][-1]["content"] for b in fake.chat_bodies] == ["first", "second"]
    await assistant.stop()


@pytest.mark.asyncio
async def test_unknown_model_names_what_is_installed(fake: FakeOllama) -> None:
    settings = attrs.evolve(settings_for(fake.url), model="nope")
    with pytest.raises(BackendError, match=r"model 'nope' not found.*installed: tiny:latest"):
        await select_backend(settings)


@pytest.mark.asyncio
async def test_no_server_gives_one_clear_message() -> None:
    settings = settings_for("127.0.0.1:9")  # discard port: nobody listens
    with pytest.raises(BackendError, match=re.escape("no Ollama server at http://127.0.0.1:9")):
        await select_backend(settings)


@pytest.mark.asyncio
async def test_model_command_lists_installed_models(fake: FakeOllama) -> None:
    assistant, screen = await session(settings_for(fake.url))
    assistant.conductor.tell(UserMessage("/models"))
    await wait_until(lambda: any("installed" in n.text for n in screen.of(Notify)))
    assert "tiny:latest, other:latest" in screen.of(Notify)[-1].text
    await assistant.stop()


@pytest.mark.asyncio
async def test_late_joining_surface_gets_the_conversation_in_its_snapshot(
    fake: FakeOllama,
) -> None:
    fake.configure(script=("remember me",))
    assistant, screen = await session(settings_for(fake.url))
    assistant.conductor.tell(UserMessage("hi"))
    await wait_until(lambda: screen.of(StreamEnd))
    late = Screen()
    assistant.attach("late", lambda: late, surface_type="test", capabilities=frozenset())
    await wait_until(lambda: late.of(StateSnapshot))
    (snapshot,) = late.of(StateSnapshot)
    assert [e.content for e in snapshot.history] == ["hi", "remember me"]
    assert snapshot.session is not None and snapshot.session.model == "tiny"
    await assistant.stop()


@pytest.mark.asyncio
async def test_auto_selection_prefers_a_live_ollama(fake: FakeOllama) -> None:
    settings = attrs.evolve(settings_for(fake.url), backend="auto")
    selection = await select_backend(settings)
    assert selection.backend.name == "ollama"
    assert "Ollama answered" in selection.reason
    await selection.backend.close()
    ollama = make_ollama(settings)
    assert await ollama.health(1.0)
    await ollama.close()


@pytest.mark.asyncio
async def test_auto_selection_falls_back_to_the_embedded_model_without_a_server() -> None:
    settings = attrs.evolve(settings_for("127.0.0.1:9"), backend="auto")
    selection = await select_backend(settings)
    try:
        assert selection.backend.name == "embedded"
        assert "no Ollama server" in selection.reason
    finally:
        await selection.backend.close()


#: the idle window over which wake-ups are counted, each side
IDLE_WINDOW = 0.5


@pytest.mark.asyncio
async def test_idle_session_holds_no_timer_of_ours_and_wakes_no_more_than_a_bare_loop(
    fake: FakeOllama,
) -> None:
    loop = asyncio.get_running_loop()
    bare = await wakeups_in_window(IDLE_WINDOW)  # this loop, the fake server, no session
    settings = settings_for(fake.url)
    settings = attrs.evolve(settings, avatar=attrs.evolve(settings.avatar, enabled=False))
    assistant, _ = await session(settings)
    try:
        await wait_until(lambda: not loop._ready)  # type: ignore[attr-defined]
        # Every live timer, whatever it calls: only aiohttp's connection housekeeping (the
        # fake server's and the backend's) may be there; no name filter lets ours through.
        timers = live_timers(loop)
        ours = [h for h in timers if not callback_module(h).startswith("aiohttp.")]
        ours_idle = await wakeups_in_window(IDLE_WINDOW)
    finally:
        await assistant.stop()
    assert not ours, f"live timers in an idle session: {ours}"
    assert ours_idle <= bare, f"{ours_idle} loop wake-ups in {IDLE_WINDOW} s idle; bare: {bare}"

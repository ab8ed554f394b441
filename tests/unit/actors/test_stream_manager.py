"""The StreamManager's hand-over of text to the Conductor: told when there is room,
awaited (backpressure) when the Conductor's mailbox is full, counted past 256."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest

from aiway.actors.backends.base import OnText
from aiway.actors.protocol import StartStream, StreamChunk, StreamDone
from aiway.actors.protocol.conductor import ResponseMetadata
from aiway.actors.protocol.stream import CancelStream, ChatTurn, StreamFailed
from aiway.actors.runtime import (
    ActorRef,
    ActorSystem,
    Delivery,
    EdgeActor,
    MailboxConfig,
    handles,
)
from aiway.actors.stream_manager import StreamManager
from tests.waiting import wait_until

PROMPT = (ChatTurn("user", "hi"),)


@attrs.frozen
class Hold:
    """Keeps the stand-in Conductor busy until ``release`` is set."""

    release: asyncio.Event


@attrs.frozen
class Note:
    """Something else in the Conductor's mailbox (does not merge with a chunk)."""

    n: int


class FakeBackend:
    """Hands over ``texts`` one by one, then waits for ``finish`` if it is given."""

    def __init__(self, texts: list[str], finish: asyncio.Event | None = None) -> None:
        self.texts = texts
        self.finish = finish
        self.handed = 0
        self.all_handed = asyncio.Event()

    @property
    def name(self) -> str:
        return "fake"

    async def stream(
        self, model: str, messages: tuple[ChatTurn, ...], on_text: OnText
    ) -> ResponseMetadata:
        for text in self.texts:
            await on_text(text)
            self.handed += 1
        self.all_handed.set()
        if self.finish is not None:
            await self.finish.wait()
        return ResponseMetadata(model=model, backend="fake", tokens=len(self.texts))

    async def list_models(self) -> list[str]:
        return []

    async def close(self) -> None:
        pass


class StandIn(EdgeActor):
    """The Conductor's place: records what it is told, in order."""

    def __init__(self) -> None:
        self.seen: list[object] = []
        self.busy = asyncio.Event()
        self.ended = asyncio.Event()

    @handles(Hold)
    async def on_hold(self, ctx: Any, msg: Hold) -> None:
        self.busy.set()
        await msg.release.wait()

    @handles(Note, StreamChunk)
    def on_message(self, ctx: Any, msg: object) -> None:
        self.seen.append(msg)

    @handles(StreamDone, StreamFailed)
    def on_end(self, ctx: Any, msg: object) -> None:
        self.seen.append(msg)
        self.ended.set()


def text_of(seen: list[object]) -> str:
    return "".join(m.text for m in seen if isinstance(m, StreamChunk))


@pytest.mark.asyncio
async def test_a_full_conductor_mailbox_holds_the_stream_back_and_loses_nothing() -> None:
    system = ActorSystem()
    stand_in = StandIn()
    conductor = system.spawn("conductor", lambda: stand_in, mailbox=MailboxConfig(capacity=3))
    backend = FakeBackend(["Hel", "lo", " there"])
    streams = system.spawn("streams", lambda: StreamManager(backend, conductor))
    release = asyncio.Event()
    conductor.tell(Hold(release))
    await stand_in.busy.wait()
    for n in range(3):
        assert conductor.tell(Note(n)) is Delivery.ACCEPTED
    assert conductor.tell(Note(3)) is Delivery.REJECTED  # full

    streams.tell(StartStream("r1", "m", PROMPT))
    await wait_until(lambda: system.metrics()[0].blocked_puts == 1, what="a waiting put")
    assert backend.handed == 0  # held back: the first text waits for room

    release.set()
    await asyncio.wait_for(stand_in.ended.wait(), 5)

    assert [m for m in stand_in.seen if isinstance(m, Note)] == [Note(0), Note(1), Note(2)]
    assert stand_in.seen[:3] == [Note(0), Note(1), Note(2)]  # the text came after them
    assert text_of(stand_in.seen) == "Hello there"
    assert isinstance(stand_in.seen[-1], StreamDone)
    stats = system.metrics()[0]
    assert stats.rejected == 1  # the test's own tell; the stream's put waited instead
    assert stats.blocked_puts == 1
    await system.stop()


@pytest.mark.asyncio
async def test_text_with_room_goes_on_at_once_and_whole() -> None:
    system = ActorSystem()
    stand_in = StandIn()
    conductor = system.spawn("conductor", lambda: stand_in)
    texts = [f"<{n}>" for n in range(2000)]
    backend = FakeBackend(texts)
    streams = system.spawn("streams", lambda: StreamManager(backend, conductor))

    streams.tell(StartStream("r1", "m", PROMPT))
    await asyncio.wait_for(stand_in.ended.wait(), 5)

    assert text_of(stand_in.seen) == "".join(texts)
    assert system.metrics()[0].blocked_puts == 0
    await system.stop()


@pytest.mark.asyncio
async def test_a_cancelled_stream_counts_its_chunks_past_256() -> None:
    system = ActorSystem()
    stand_in = StandIn()
    conductor = system.spawn("conductor", lambda: stand_in)
    backend = FakeBackend(["x"] * 600, finish=asyncio.Event())
    streams = system.spawn("streams", lambda: StreamManager(backend, conductor))

    streams.tell(StartStream("r1", "m", PROMPT))
    await asyncio.wait_for(backend.all_handed.wait(), 5)
    streams.tell(CancelStream("r1"))
    await asyncio.wait_for(stand_in.ended.wait(), 5)

    done = stand_in.seen[-1]
    assert isinstance(done, StreamDone)
    assert done.metadata.done_reason == "cancelled"
    assert done.metadata.tokens == 600
    assert text_of(stand_in.seen) == "x" * 600
    await system.stop()


@pytest.mark.asyncio
async def test_a_conductor_elsewhere_is_told_every_chunk() -> None:
    told: list[object] = []

    class Elsewhere:
        def offer(self, msg: object) -> Delivery:
            told.append(msg)
            return Delivery.ACCEPTED

    system = ActorSystem()
    remote = ActorRef("remote-conductor", Elsewhere(), lambda name, msg: None)
    assert remote.local_mailbox is None
    streams = system.spawn("streams", lambda: StreamManager(FakeBackend(["a", "b"]), remote))

    streams.tell(StartStream("r1", "m", PROMPT))
    await wait_until(lambda: any(isinstance(m, StreamDone) for m in told), what="StreamDone")

    assert [m.text for m in told if isinstance(m, StreamChunk)] == ["a", "b"]
    await system.stop()

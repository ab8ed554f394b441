"""The remote-surface actor: one frame per message, and no taking while the peer is behind."""

from __future__ import annotations

import asyncio

import pytest

from aiway.actors.daemon.remote_surface import RemoteSurface
from aiway.actors.protocol import Published, Quit, Token
from aiway.actors.runtime import ActorSystem, MailboxConfig
from tests.waiting import wait_until


class Sink:
    """A connection double: records writes; ``behind`` makes the actor wait for a drain."""

    def __init__(self) -> None:
        self.written: list[object] = []
        self.finished: list[str] = []
        self.drained: asyncio.Future[None] | None = None

    def write_message(self, msg: object) -> None:
        self.written.append(msg)

    def blocked(self) -> asyncio.Future[None] | None:
        return self.drained

    def finish(self, reason: str) -> None:
        self.finished.append(reason)


@pytest.mark.asyncio
async def test_every_message_is_written_in_order() -> None:
    system = ActorSystem()
    sink = Sink()
    ref = system.spawn("surface:r", lambda: RemoteSurface(sink))
    messages = [Published(n, Token(f"a{n}", "x")) for n in range(3)]
    for msg in messages:
        ref.tell(msg)
    await wait_until(lambda: len(sink.written) == 3, what="three writes")
    assert sink.written == messages
    await system.stop()


@pytest.mark.asyncio
async def test_while_the_peer_is_behind_the_outbox_fills_and_then_drains() -> None:
    system = ActorSystem()
    sink = Sink()
    sink.drained = asyncio.get_running_loop().create_future()
    ref = system.spawn("surface:r", lambda: RemoteSurface(sink), mailbox=MailboxConfig(capacity=2))
    ref.tell(Published(1, Token("a1", "x")))
    await wait_until(lambda: len(sink.written) == 1, what="the first write")
    results = [ref.tell(Published(n, Token(f"a{n}", "x"))).value for n in (2, 3, 4)]
    assert results == ["accepted", "accepted", "rejected"]  # full: the registry would lag it
    assert len(sink.written) == 1
    drained, sink.drained = sink.drained, None
    drained.set_result(None)
    await wait_until(lambda: len(sink.written) == 3, what="the queued writes")
    await system.stop()


@pytest.mark.asyncio
async def test_a_published_quit_closes_the_connection_after_it_is_written() -> None:
    system = ActorSystem()
    sink = Sink()
    ref = system.spawn("surface:r", lambda: RemoteSurface(sink))
    ref.tell(Published(9, Quit("bye")))
    await wait_until(lambda: sink.finished, what="the connection finished")
    assert sink.written == [Published(9, Quit("bye"))]
    await system.stop()

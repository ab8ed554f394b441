"""The remote-surface actor: a surface in another process, as the daemon's actors see it.

It is registered with the registry like any local surface, so its mailbox is
the same bounded, coalescing outbox. Each message it takes is written as one
frame to its connection's transport; it never waits for the peer, except when
the transport's write buffer is above its high-water mark: then the handler
awaits the buffer's drain, the actor takes nothing more, its outbox fills
(tokens merge meanwhile), and the registry marks it lagging and later resyncs
it from a ``StateSnapshot``, exactly as for a slow local surface.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiway.actors.protocol import AvatarFrame, Metrics, Published, Quit, StateSnapshot
from aiway.actors.runtime import EdgeActor, EdgeContext, handles


class FrameSink(Protocol):
    """What the actor writes to: one connection (``connection``), or a test double."""

    def write_message(self, msg: object) -> None:
        """Write one message as a frame; never blocks (the transport buffers)."""
        ...

    def blocked(self) -> asyncio.Future[None] | None:
        """A future resolved when the write buffer drains, or None when it is not full."""
        ...

    def finish(self, reason: str) -> None:
        """Close after what is buffered has been written (the session ended)."""
        ...


class RemoteSurface(EdgeActor):
    """Forwards every outgoing message to its connection, pausing while the peer is behind."""

    def __init__(self, sink: FrameSink) -> None:
        self.sink = sink

    @handles(Published)
    def on_published(self, ctx: EdgeContext, msg: Published) -> asyncio.Future[None] | None:
        sink = self.sink
        sink.write_message(msg)
        if type(msg.message) is Quit:
            sink.finish("the session ended")
            return None
        return sink.blocked()

    @handles(StateSnapshot, AvatarFrame, Metrics)
    def on_state(
        self, ctx: EdgeContext, msg: StateSnapshot | AvatarFrame | Metrics
    ) -> asyncio.Future[None] | None:
        sink = self.sink
        sink.write_message(msg)
        return sink.blocked()

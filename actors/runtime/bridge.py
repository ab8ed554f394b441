"""The thread bridge: how other threads (the UI, the model worker) talk to actors."""

from __future__ import annotations

import asyncio

from aiway.actors.runtime.ref import ActorRef


class ThreadBridge:
    """A thread-safe tell. Never blocks the calling thread.

    Messages are handed to the loop with ``call_soon_threadsafe`` and offered
    to the mailbox there, so the mailbox itself stays single-threaded. After
    the loop has closed, ``tell`` returns False and counts the message in
    ``dropped_after_close``.
    """

    __slots__ = ("dropped_after_close", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.dropped_after_close = 0

    def tell(self, ref: ActorRef, msg: object) -> bool:
        """Offer ``msg`` to ``ref`` from any thread; False when the loop is gone."""
        try:
            self.loop.call_soon_threadsafe(ref.tell, msg)
        except RuntimeError:  # loop closed
            self.dropped_after_close += 1
            return False
        return True

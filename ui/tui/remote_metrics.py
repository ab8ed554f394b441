"""F2 on a host with actors in other processes: their mailboxes' figures, fetched first.

On the Thespian host the core's cells run in other processes, often on another
machine; their ``MailboxStats`` are not this process's to read. While the F2
panel is open, each request of the ``MetricsClock`` first fetches them over the
host's control channel (``ThespianHost.refresh_metrics``: the guardian asks every
cell), then publishes ``Metrics`` as usual, so the panel lists the remote
mailboxes with the local ones. With F2 closed (the status bar during an answer)
nothing is fetched, and on the asyncio host (or attached to a daemon) the request
is the plain one. One fetch at a time: a request while one is under way waits for
its figures instead of adding another.

When F2 closes (``close``), the remote figures are dropped (``forget_remote_metrics``
of the host) and the figures published again without them: the status bar's lag and
depth are then this process's own, not the last fetch's, which would only grow
older. A fetch that ends after the close drops what it brought.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

#: seconds a fetch may take before the panel shows what it has (the clock asks every second)
FETCH_TIMEOUT = 0.9


class MetricsSession(Protocol):
    """What is asked of the session (``ui.tui.session.Session``)."""

    @property
    def ready(self) -> bool: ...

    def request_metrics(self) -> None:
        """Publish ``Metrics`` of what this process can read (any thread)."""
        ...


class RemoteMetrics:
    """Fetches the remote mailboxes' figures before a publish (see the module docstring)."""

    def __init__(self, timeout: float = FETCH_TIMEOUT) -> None:
        self.timeout = timeout
        self._fetching: asyncio.Task[None] | None = None
        #: fetches started (for tests and the curious)
        self.fetches = 0
        #: F2 is open: set by ``request``, cleared by ``close`` (read on the loop thread)
        self._open = False

    def request(self, session: MetricsSession) -> None:
        """UI thread: F2 is open and figures are due: fetch the remote ones, then publish."""
        assistant = getattr(session, "assistant", None)
        loop: asyncio.AbstractEventLoop | None = getattr(session, "loop", None)
        system = getattr(assistant, "system", None)
        refresh: Callable[..., Awaitable[None]] | None = getattr(system, "refresh_metrics", None)
        if assistant is None or loop is None or refresh is None or not session.ready:
            session.request_metrics()
            return
        self._open = True
        publish: Callable[[], None] = assistant.publish_metrics
        forget: Callable[[], None] | None = getattr(system, "forget_remote_metrics", None)
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
            loop.call_soon_threadsafe(self.fetch, refresh, publish, forget)

    def close(self, session: MetricsSession) -> None:
        """UI thread: F2 closed: drop the remote figures and publish without them."""
        if not self._open:
            return
        self._open = False
        assistant = getattr(session, "assistant", None)
        loop: asyncio.AbstractEventLoop | None = getattr(session, "loop", None)
        system = getattr(assistant, "system", None)
        forget: Callable[[], None] | None = getattr(system, "forget_remote_metrics", None)
        if assistant is None or loop is None or forget is None:
            return
        publish: Callable[[], None] = assistant.publish_metrics
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
            loop.call_soon_threadsafe(self._forget, forget, publish)

    def _forget(self, forget: Callable[[], None], publish: Callable[[], None]) -> None:
        """Loop thread: the remote figures go, and the status bar gets figures without them."""
        forget()
        publish()

    def fetch(
        self,
        refresh: Callable[..., Awaitable[None]],
        publish: Callable[[], None],
        forget: Callable[[], None] | None = None,
    ) -> None:
        """Loop thread: start a fetch unless one is under way (its publish covers this one)."""
        if self._fetching is not None and not self._fetching.done():
            return
        self.fetches += 1
        fetching = self._fetch(refresh, publish, forget)
        self._fetching = asyncio.get_running_loop().create_task(fetching)

    async def _fetch(
        self,
        refresh: Callable[..., Awaitable[None]],
        publish: Callable[[], None],
        forget: Callable[[], None] | None,
    ) -> None:
        try:
            await refresh(timeout=self.timeout)
        except Exception:
            log.exception("fetching the remote mailboxes' figures failed")
        if not self._open and forget is not None:  # F2 closed while it ran: not shown
            forget()
        publish()

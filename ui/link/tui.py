"""``aiway --connect``: the terminal UI attached to a daemon instead of a session of its own.

``RemoteSession`` is the TUI's ``Session`` with another transport: on its
loop thread it runs a small actor system holding the very ``TuiSurface``
actor, fed by a ``DaemonLink``; what the person types goes out over the link.
The UI thread sees the same interface (``start``, ``stop``, ``send``,
``resized``, ``ready``, ``error``), so the screen code does not change.

Link changes show in the status bar ("reconnecting to ..."). A ``Quit`` the
daemon publishes as it stops is kept from the screen, so the UI stays open
and reconnects when the daemon is back; Ctrl+Q or ``/quit`` detach this
surface only, and the daemon goes on for the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiway.actors.daemon.address import Address
from aiway.actors.daemon.errors import DaemonError
from aiway.actors.protocol import (
    LinkState,
    LinkStatus,
    Notify,
    NotifyLevel,
    Published,
    Quit,
    Resized,
    StateSnapshot,
)
from aiway.actors.runtime import ActorRef, ActorSystem, MailboxConfig
from aiway.config import Settings
from aiway.ui.link.client import DaemonLink, actor_sink, token_for
from aiway.ui.tui.controller import SURFACE_ID
from aiway.ui.tui.session import Session
from aiway.ui.tui.surface import CAPABILITIES, TuiSurface
from aiway.ui.tui.viewmodel import ViewModel

log = logging.getLogger(__name__)


class RemoteSession(Session):
    """The TUI's session over a ``DaemonLink`` (see the module docstring)."""

    def __init__(
        self, settings: Settings, view: ViewModel, wake: Callable[[], None], address: Address
    ) -> None:
        super().__init__(settings, view, wake)
        self.address = address
        self.link: DaemonLink | None = None
        self._surface: ActorRef | None = None
        #: a note for the conversation, shown after the next snapshot (which starts over)
        self._note: Notify | None = None

    # -- from the UI thread ------------------------------------------------------------

    def send(self, msg: object) -> None:
        """Send ``msg`` to the daemon (any thread; never blocks)."""
        self._call(self._send_on_loop, msg)

    def resized(self, width: int, height: int) -> None:
        self._call(self._send_on_loop, Resized(width, height, SURFACE_ID))

    def request_metrics(self) -> None:
        """The daemon's mailboxes are not this process's: nothing to ask for."""

    # -- on the loop thread ---------------------------------------------------------------

    def _send_on_loop(self, msg: object) -> None:
        if self.link is not None:
            self.link.send(msg)
        else:
            self._pending.append(msg)

    def _on_status(self, status: LinkStatus) -> None:
        """Link changes become notes in the conversation (the status bar shows the model)."""
        if status.state is LinkState.CONNECTED:
            self._note = Notify(NotifyLevel.INFO, "daemon", f"{status.detail} at {status.address}")
        elif status.state is LinkState.RECONNECTING and status.attempt == 1:
            self._show(
                Notify(
                    NotifyLevel.WARNING,
                    "daemon",
                    f"{status.detail}; reconnecting to {status.address}…",
                )
            )
        elif status.state is LinkState.CLOSED:
            self._show(Notify(NotifyLevel.ERROR, "daemon", f"disconnected: {status.detail}"))

    def _show(self, note: Notify) -> None:
        surface, link = self._surface, self.link
        if surface is not None:
            seq = link.last_seq if link is not None and link.last_seq is not None else 0
            surface.tell(Published(seq, note))

    async def _run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._loop_ready.set()
        self.assembled.set()  # nothing to load here: curses may start at once
        system = ActorSystem()
        surface = system.spawn(
            f"surface:{SURFACE_ID}",
            lambda: TuiSurface(self.view),
            mailbox=MailboxConfig(capacity=self.settings.mailbox.surface_capacity),
        )
        self._surface = surface
        deliver = actor_sink(system, surface)

        def shown(msg: object) -> Awaitable[object] | None:
            if type(msg) is Published and type(msg.message) is Quit:
                # The daemon is stopping: stay open, the link reconnects.
                return None
            pending = deliver(msg)
            if type(msg) is StateSnapshot and self._note is not None:
                note, self._note = self._note, None
                self._show(note)
            return pending

        self.view.notice(f"connecting to {self.address}…")
        try:
            token = await asyncio.to_thread(token_for, self.settings, self.address)
            link = DaemonLink.from_settings(
                self.settings,
                self.address,
                surface_type="tui",
                capabilities=CAPABILITIES,
                deliver=shown,
                on_status=self._on_status,
                token=token,
            )
            await link.connect()
        except Exception as exc:
            log.warning("could not attach to the daemon: %s", exc)
            self.error = exc
            self._wake()
            await self._stop.wait()
            await system.stop()
            return
        self.link = link
        pending, self._pending = self._pending, []
        for msg in pending:
            link.send(msg)
        self.ready = True
        self._wake()
        try:
            await self._first(self._stop.wait(), link.wait_closed())
            if link.closed and not self._stop.is_set():
                self.error = DaemonError(link.close_reason)  # the screen exits and shows it
                self._wake()
        finally:
            await link.close()
            await system.stop()

    @staticmethod
    async def _first(*waits: Awaitable[object]) -> None:
        tasks = [asyncio.ensure_future(wait) for wait in waits]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

"""The actor system's thread: backend selection, the assembled assistant, and the way in.

``Session`` runs an asyncio loop in a second thread (curses keeps the main
one). There it selects the backend, starts the ``Assistant`` and attaches the
TUI surface actor. The UI thread talks to it only through thread-safe calls:
``send`` and ``resized`` tell through the runtime's ``ThreadBridge``;
``request_metrics`` runs ``publish_metrics`` on the loop with
``call_soon_threadsafe``. What is sent before the session is ready waits on
the loop thread and goes out, in order, once it is. ``stop``
stops the assistant gracefully on its own loop and joins the thread; a
selection failure is kept in ``error`` for the caller to report once curses
has let go of the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

from aiway.actors.app import Assistant
from aiway.actors.backends.selection import select_backend
from aiway.actors.errors import AiwayError
from aiway.actors.protocol import Resized
from aiway.actors.runtime import ActorSystem, ThreadBridge
from aiway.actors.store import open_history
from aiway.config import Settings, load_persona
from aiway.ui.tui.controller import SURFACE_ID
from aiway.ui.tui.surface import CAPABILITIES, TuiSurface
from aiway.ui.tui.viewmodel import ViewModel

log = logging.getLogger(__name__)


class Session:
    """One assistant on its own event-loop thread; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        view: ViewModel,
        wake: Callable[[], None],
        *,
        start: Callable[[Settings, Callable[[str], None]], Assistant] | None = None,
        resume: str | None = None,
        open_system: Callable[[], Awaitable[ActorSystem | None]] | None = None,
    ) -> None:
        self.settings = settings
        #: the saved conversation to continue (an id, a prefix, or "last")
        self.resume = resume
        self.view = view
        self._wake = wake
        self._start = start
        #: starts the actor system the session runs on (``--engine thespian``), else asyncio
        self._open_system = open_system
        self.assistant: Assistant | None = None
        self.error: BaseException | None = None
        self.ready = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._bridge: ThreadBridge | None = None
        self._stop: asyncio.Event | None = None
        self._pending: list[object] = []
        self._area: tuple[int, int] | None = None
        self._loop_ready = threading.Event()
        #: set once the backend is chosen and the session built (or failed to be)
        self.assembled = threading.Event()
        self._thread = threading.Thread(target=self._main, name="aiway-actors", daemon=True)

    # -- life ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; returns once its loop runs (selection goes on in the background)."""
        self._thread.start()
        self._loop_ready.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the assistant gracefully on its loop, then join the thread (bounded)."""
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the actor thread did not stop within %ss", timeout)

    @property
    def thread_alive(self) -> bool:
        """True while the actor thread runs (its wake-ups may still come)."""
        return self._thread.is_alive()

    # -- from the UI thread ------------------------------------------------------------

    def send(self, msg: object) -> None:
        """Tell the Conductor ``msg`` (any thread; never blocks)."""
        assistant, bridge = self.assistant, self._bridge
        if self.ready and assistant is not None and bridge is not None:
            bridge.tell(assistant.conductor, msg)
        else:  # not ready yet: the loop thread keeps it until the session is
            self._call(self._send_on_loop, msg)

    def resized(self, width: int, height: int) -> None:
        """The avatar's area (the conversation pane) is now ``width`` x ``height`` cells."""
        assistant, bridge = self.assistant, self._bridge
        if self.ready and assistant is not None and bridge is not None:
            bridge.tell(assistant.conductor, Resized(width, height, SURFACE_ID))
            if assistant.avatar is not None:
                bridge.tell(assistant.avatar, Resized(width, height, SURFACE_ID))
        else:
            self._call(self._resized_on_loop, (width, height))

    def request_metrics(self) -> None:
        """Ask for a ``Metrics`` publish (it runs on the loop thread)."""
        assistant = self.assistant
        loop = self.loop
        if assistant is not None and loop is not None and self.ready:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(assistant.publish_metrics)

    def _call(self, fn: Callable[[object], None], arg: object) -> None:
        loop = self.loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
            loop.call_soon_threadsafe(fn, arg)

    # -- on the loop thread ---------------------------------------------------------------

    def _send_on_loop(self, msg: object) -> None:
        assistant = self.assistant
        if assistant is None or not self.ready:
            self._pending.append(msg)
        else:
            assistant.conductor.tell(msg)

    def _resized_on_loop(self, area: object) -> None:
        assert isinstance(area, tuple)
        self._area = area
        if self.assistant is not None:
            self._tell_area(self.assistant)

    def _tell_area(self, assistant: Assistant) -> None:
        if self._area is None:
            return
        width, height = self._area
        assistant.conductor.tell(Resized(width, height, SURFACE_ID))
        if assistant.avatar is not None:
            assistant.avatar.tell(Resized(width, height, SURFACE_ID))

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported to the UI, which exits and shows it
            log.exception("the actor thread failed")
            if self.error is None:
                self.error = exc
        finally:
            self._loop_ready.set()
            self.assembled.set()
            self._wake()

    async def _run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._bridge = ThreadBridge(self.loop)
        self._loop_ready.set()
        try:
            assistant = await self._assemble_unless_stopped(self._stop)
        except asyncio.CancelledError:  # stopped while it started (a signal, a quit)
            self.assembled.set()
            return
        except Exception as exc:
            self.assembled.set()
            if isinstance(exc, AiwayError):
                log.warning("the session could not start: %s", exc)
            else:
                log.exception("the session could not start")
            self.error = exc
            self._wake()
            await self._stop.wait()
            return
        self.assistant = assistant
        self.assembled.set()
        try:
            assistant.attach(
                SURFACE_ID,
                lambda: TuiSurface(self.view),
                surface_type="tui",
                capabilities=CAPABILITIES,
            )
            self._tell_area(assistant)
            pending, self._pending = self._pending, []
            for msg in pending:
                assistant.conductor.tell(msg)
            self.ready = True
            self._wake()
            await self._stop.wait()
        finally:
            await assistant.stop()

    async def _assemble_unless_stopped(self, stop: asyncio.Event) -> Assistant:
        """``_assemble``, cancelled when ``stop`` is set first (starting an engine and waiting
        for a member to place the core on can take long): what started is stopped again."""
        assembling = asyncio.ensure_future(self._assemble())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((assembling, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not assembling.done():
            assembling.cancel()
        assistant = await assembling
        if stop.is_set():  # done just as it was stopped: it stops at once
            await assistant.stop()
            raise asyncio.CancelledError
        return assistant

    async def _assemble(self) -> Assistant:
        if self._start is not None:
            return self._start(self.settings, self.view.notice)
        history = await open_history(self.settings, resume=self.resume)
        for note in history.store.notes if history is not None else ():
            self.view.notice(note)
        system: ActorSystem | None = None
        try:
            if self._open_system is not None:
                self.view.notice("starting the Thespian engine…")
                system = await self._open_system()
            self.view.notice("choosing a backend…")
            if system is None:
                selection = await select_backend(self.settings, on_progress=self.view.notice)
            else:  # the model may run on a member of the convention
                from aiway.actors.model_member import session_backend

                selection = await session_backend(self.settings, system)
            persona = await asyncio.to_thread(load_persona, self.settings)
        except BaseException:
            if system is not None:
                await system.stop()
            if history is not None:
                await history.store.close()
            raise
        return Assistant.start(
            self.settings,
            selection.backend,
            model=selection.model,
            backend_reason=selection.reason,
            system_prompt=persona,
            session_id="tui",
            history=history,
            system=system,
        )

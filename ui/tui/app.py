"""``run_tui``: the terminal UI on the full actor system, from start to a restored terminal.

The actor system starts on its own thread (``Session``) while npyscreen takes
the terminal on this one. On the way out, in this order: curses lets go of
the terminal, the assistant stops gracefully on its loop, the thread is
joined. A session that could not start (no backend) raises its error only
then, so the message prints on a normal terminal.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
import types
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiway.actors.errors import AiwayError
from aiway.config import Settings
from aiway.ui.tui.screen import TuiApp, Waker
from aiway.ui.tui.session import Session
from aiway.ui.tui.viewmodel import ViewModel

if TYPE_CHECKING:
    from aiway.actors.daemon.address import Address
    from aiway.actors.runtime import ActorSystem

log = logging.getLogger(__name__)


class TerminalRequired(AiwayError):
    """The terminal UI was started without a terminal."""


def run_tui(
    settings: Settings,
    connect: Address | None = None,
    resume: str | None = None,
    open_system: Callable[[], Awaitable[ActorSystem | None]] | None = None,
) -> int:
    """Run the terminal UI until the person quits; the process's exit code.

    With ``connect``, the UI attaches to the daemon there instead of starting a session;
    ``open_system`` starts the actor system the session runs on (``--engine thespian``).
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise TerminalRequired(
            "the terminal UI needs a terminal on standard input and output; "
            "use `aiway headless` to pipe prompts in and text out"
        )
    _keep_logs_off_the_screen()
    view = ViewModel(history_limit=settings.conversation.history_limit)
    waker = Waker()
    view.set_wake(waker.wake)
    if connect is None:
        session = Session(settings, view, waker.wake, resume=resume, open_system=open_system)
    else:
        from aiway.ui.link.tui import RemoteSession

        session = RemoteSession(settings, view, waker.wake, connect)
    app = TuiApp(session, view, waker)
    # Handlers installed before curses starts, so ncurses keeps its own SIGWINCH handler
    # out; the wake-up fd gets a byte for each signal, so the UI's select wakes at once.
    flags = _SignalFlags(app)
    previous = {sig: signal.signal(sig, flags.on_signal) for sig in _HANDLED}
    previous_fd = signal.set_wakeup_fd(waker.write_fd, warn_on_full_buffer=False)
    session.start()
    # Curses starts once the backend is ready: loading the embedded model briefly
    # points the process's stdout at /dev/null, and a screen drawn then would be lost.
    # A signal meanwhile (waiting for a member to place the core on can take seconds)
    # ends the wait, and the UI never starts.
    assembled = getattr(session, "assembled", None)
    if assembled is not None:
        deadline = time.monotonic() + STARTUP_WAIT_SECONDS
        while not app.stop_requested and time.monotonic() < deadline:
            if assembled.wait(timeout=_SIGNAL_CHECK_SECONDS):
                break
    try:
        if not app.stop_requested:
            app.run(fork=False)
    finally:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        session.stop()
        if not session.thread_alive:
            waker.close()
    if session.error is not None:
        raise session.error
    return 0


# SIGINT too: in the UI Ctrl+C is a key (raw mode), so the signal comes only from kill -INT
_HANDLED = (signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
STARTUP_WAIT_SECONDS = 30.0
"""How long the UI waits for the backend before it draws anyway (and shows progress)."""
_SIGNAL_CHECK_SECONDS = 0.1
"""How often that wait looks whether a signal asked to stop."""


class _SignalFlags:
    """Signal handlers that only set a flag on the form: resize, or stop gracefully."""

    def __init__(self, app: TuiApp) -> None:
        self.app = app

    def on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        form = self.app.form
        if signum == signal.SIGWINCH:
            if form is not None:
                form.resize_pending = True
            return
        # SIGTERM, SIGHUP, SIGINT: leave the loop, so the terminal is restored and the
        # actors stop
        self.app.stop_requested = True
        if form is not None:
            form.stop_requested = True


def _keep_logs_off_the_screen() -> None:
    """Nothing may write to the terminal curses draws on: warnings go to the log file."""
    logging.captureWarnings(True)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())

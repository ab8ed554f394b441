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
import types

from actors.errors import AiwayError
from config import Settings
from ui.tui.screen import TuiApp, Waker
from ui.tui.session import Session
from ui.tui.viewmodel import ViewModel

log = logging.getLogger(__name__)


class TerminalRequired(AiwayError):
    """The terminal UI was started without a terminal."""


def run_tui(settings: Settings) -> int:
    """Run the terminal UI until the person quits; the process's exit code."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise TerminalRequired(
            "the terminal UI needs a terminal on standard input and output; "
            "use `aiway headless` to pipe prompts in and text out"
        )
    _keep_logs_off_the_screen()
    view = ViewModel(history_limit=settings.conversation.history_limit)
    waker = Waker()
    view.set_wake(waker.wake)
    session = Session(settings, view, waker.wake)
    app = TuiApp(session, view, waker)
    previous_handler = signal.signal(signal.SIGWINCH, _ResizeFlag(app).on_signal)
    previous_fd = signal.set_wakeup_fd(waker.write_fd, warn_on_full_buffer=False)
    session.start()
    try:
        app.run(fork=False)
    finally:
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGWINCH, previous_handler)
        session.stop()
        if not session.thread_alive:
            waker.close()
    if session.error is not None:
        raise session.error
    return 0


class _ResizeFlag:
    """The SIGWINCH handler: marks the form for a resize (the wake-up fd wakes its loop)."""

    def __init__(self, app: TuiApp) -> None:
        self.app = app

    def on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        form = getattr(self.app, "form", None)
        if form is not None:
            form.resize_pending = True


def _keep_logs_off_the_screen() -> None:
    """Nothing may write to the terminal curses draws on: warnings go to the log file."""
    logging.captureWarnings(True)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())

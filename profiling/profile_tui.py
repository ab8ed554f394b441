"""Profile scenario ``tui``: the real terminal UI in a pseudo-terminal while an answer streams.

This process becomes the terminal program: a pseudo-terminal (120 x 40,
``TERM=xterm-256color``) is made its standard input, output and error, and
``run_tui`` runs on the main thread as ``aiway`` runs it (curses there, the
actors on their own thread), against the fake Ollama server (its own process,
not traced) streaming ``RATE`` tokens a second. The avatar is off (the
``avatar`` scenario has it), so what is counted follows the tokens; the
history goes to a temporary directory. A driver thread reads the terminal
(keeping it drained, looking for text) and types.

Start-up is kept out: the driver waits for ``Ready`` on the status bar and a
short warm-up answer (the connection, lazy imports, first paints), and only
then enters the tracker, types the question, waits for the answer's metadata
line (``N tokens``) and leaves it. memray's tracker, entered on the driver
thread, sees every thread already running: the UI's main thread and the
actors' thread (checked: allocations of both show, with their Python stacks).
Inside the window are, besides the tokens, the UI's paints (at most 20 a
second, so about ten tokens a paint at 200 tokens/s), its metrics request
once a second, and the driver's own few reads of the terminal. At this rate
every token comes in a read of its own, so each pays a whole event-loop
wake-up (``stream``, at full speed, reads many tokens at once).

``python -m profiling.profile_tui [--quick] [--flamegraph]``
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from aiway.config import Settings, load_settings
from profiling.profile import Tracking, Unavailable, scenario_main
from tests.fakes import FakeOllamaProcess

UNIT = "token"
TOKENS = 4000
QUICK_TOKENS = 600
WARM_TOKENS = 20
RATE = 200.0
ROWS, COLUMNS = 40, 120
MODEL = "smollm2:135m"
WAIT = 30.0  # seconds for any one thing to show (the measured answer: plus its length)
CTRL_Q = b"\x11"


class Terminal:
    """The pty's master side: what the UI wrote, kept, and keys typed into it."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.seen = bytearray()
        self.closed = threading.Event()  # run_tui has returned

    def pump(self, timeout: float) -> None:
        """Read what the UI wrote, waiting up to ``timeout`` s for it."""
        readable, _, _ = select.select([self.master], [], [], timeout)
        if readable:
            self.seen += os.read(self.master, 1 << 16)

    def wait_for(self, text: str, since: int, timeout: float = WAIT) -> int:
        """Read until ``text`` shows after offset ``since``; the offset just past it."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while (found := self.seen.find(wanted, since)) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed.is_set():
                tail = self.seen[-400:].decode(errors="replace")
                raise TimeoutError(f"{text!r} never showed on the terminal; it ended {tail!r}")
            self.pump(min(left, 0.5))
        return found + len(wanted)

    def ask(self, question: str, until: str, since: int, timeout: float = WAIT) -> int:
        """Type ``question`` and Enter; read until ``until`` shows."""
        os.write(self.master, question.encode() + b"\r")
        return self.wait_for(until, since, timeout)

    def quit(self) -> None:
        """Ctrl+Q, drained until run_tui returns; SIGTERM (its graceful stop) if it does not."""
        os.write(self.master, CTRL_Q)
        for ask_again in (True, False):
            deadline = time.monotonic() + WAIT
            while not self.closed.is_set() and time.monotonic() < deadline:
                self.pump(0.1)
            if self.closed.is_set():
                return
            if ask_again:
                os.kill(os.getpid(), signal.SIGTERM)
        os.write(2, b"profile_tui: the UI would not stop; exiting\n")  # fds 0-2 are the pty
        os._exit(1)


def drive(terminal: Terminal, server: FakeOllamaProcess, tracking: Tracking, tokens: int) -> None:
    """Ready, a warm-up answer, then the traced one; always Ctrl+Q at the end."""
    try:
        mark = terminal.wait_for("Ready", 0)
        mark = terminal.ask("warm up", f" {WARM_TOKENS} tokens", mark)
        server.configure(tokens=tokens)
        with tracking():
            terminal.ask("count for me", f" {tokens} tokens", mark, WAIT + tokens / RATE)
    finally:
        terminal.quit()


def settings_in(home: Path, url: str) -> Settings:
    """Defaults, files under ``home``, the fake server, the avatar off."""
    env = {f"XDG_{name.upper()}_HOME": str(home / name) for name in ("config", "state", "data")}
    env |= {"XDG_RUNTIME_DIR": str(home / "run"), "OLLAMA_HOST": url}
    overrides = {"backend": "ollama", "model": MODEL, "avatar.enabled": False}
    return load_settings(env=env, config_path=None, overrides=overrides).settings


def play(tracking: Tracking, quick: bool, variant: str | None) -> int:
    """Trace one answer of ``TOKENS`` tokens in the running TUI; returns the tokens streamed."""
    try:
        from aiway.ui.tui.app import run_tui
    except ImportError as exc:
        raise Unavailable(f"the terminal UI (ui/tui) cannot be imported: {exc}") from None
    if not hasattr(os, "openpty"):
        raise Unavailable("this platform has no pseudo-terminals")
    tokens = QUICK_TOKENS if quick else TOKENS
    errors: list[BaseException] = []
    with (
        FakeOllamaProcess("--tokens", str(WARM_TOKENS), "--rate", str(RATE)) as server,
        tempfile.TemporaryDirectory(prefix="aiway-profile-tui-") as home,
    ):
        settings = settings_in(Path(home), server.url)
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        terminal = Terminal(master)

        def driver() -> None:
            try:
                drive(terminal, server, tracking, tokens)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=driver, name="profile-tui-driver", daemon=True)
        saved = [os.dup(fd) for fd in (0, 1, 2)]
        term = os.environ.get("TERM")
        os.environ["TERM"] = "xterm-256color"
        try:
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            thread.start()
            run_tui(settings)
        finally:
            terminal.closed.set()
            thread.join(2 * WAIT)
            for fd, original in enumerate(saved):
                os.dup2(original, fd)
                os.close(original)
            os.close(slave)
            os.close(master)
            if term is None:
                os.environ.pop("TERM", None)
            else:
                os.environ["TERM"] = term
    if thread.is_alive():
        raise RuntimeError("the driver thread did not finish")
    if errors:
        raise errors[0]
    return tokens


def main(argv: Sequence[str] | None = None) -> int:
    return scenario_main("tui", argv)


if __name__ == "__main__":
    sys.exit(main())

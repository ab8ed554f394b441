"""``/copy``: text onto the clipboard through the terminal (OSC 52), and into a file as well.

The TUI writes the OSC 52 sequence itself, with the text base64-encoded, so
nothing a model says can reach the terminal as a control sequence: answers
are drawn sanitised, and the clipboard sequence is built here from the
answer's text, never taken from it. Terminals differ (some ignore OSC 52,
some cap its size, tmux passes it on with ``set-clipboard on``), so the text
is also written to a file that only its owner can read (0600), and the note
says where.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

OSC52_MAX_BYTES = 100_000
"""The largest text sent through OSC 52 (several terminals drop longer sequences)."""


def osc52(text: str) -> str:
    """The escape sequence that asks the terminal to put ``text`` on the clipboard."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"\x1b]52;c;{payload}\x1b\\"


class Clipboard:
    """Copies text: OSC 52 through ``write`` (the terminal), and the fallback file."""

    def __init__(self, write: Callable[[str], None], fallback: Path | None) -> None:
        self._write = write
        self.fallback = fallback

    def copy(self, text: str, what: str) -> tuple[str, str]:
        """Copy ``text`` (``what`` names it); ``(level, note)`` to show the person."""
        size = len(text.encode("utf-8"))
        sent = size <= OSC52_MAX_BYTES
        if sent:
            self._write(osc52(text))
        saved = self._save(text)
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        parts = [f"{what}: {lines} line{'s' if lines != 1 else ''}, {size} bytes"]
        if sent:
            parts.append("sent to the terminal's clipboard (OSC 52; not every terminal takes it)")
        else:
            parts.append(f"too long for the terminal's clipboard ({OSC52_MAX_BYTES} bytes at most)")
        if saved is not None:
            parts.append(f"also saved to {saved}")
        elif not sent:
            return "warning", f"{what} could not be copied: the file could not be written either"
        return "info", "; ".join(parts)

    def _save(self, text: str) -> Path | None:
        path = self.fallback
        if path is None:
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        except OSError:
            return None
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o600)  # an older file may have been looser
            file.write(text)
        return path

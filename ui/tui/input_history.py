"""What you sent, kept across restarts: a bounded file of JSON strings, one a line, 0600.

``InputHistory.load`` reads the newest ``limit`` entries (a line that does
not parse is skipped, and a file grown huge is read only from its last
``MAX_READ_BYTES``); ``append`` adds one line. When the file holds more than
twice ``limit`` lines it is rewritten with the newest ``limit`` (through a
temporary file and a rename), so it never grows without bound. A file that
cannot be read or written costs the history, never the UI.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

MAX_READ_BYTES = 8 * 1024 * 1024
"""The most of the file read at start (its newest part)."""


class InputHistory:
    """The input history file; see the module docstring."""

    def __init__(self, path: Path | None, limit: int) -> None:
        self.path = path
        self.limit = max(1, limit)
        self._lines = 0

    def load(self) -> list[str]:
        """The newest ``limit`` entries, oldest first ([] when there is no file)."""
        if self.path is None:
            return []
        try:
            with open(self.path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size > MAX_READ_BYTES:
                    file.seek(size - MAX_READ_BYTES)
                    file.readline()  # a partial line
                data = file.read(MAX_READ_BYTES)
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("the input history could not be read: %s", exc)
            return []
        entries: list[str] = []
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, str) and entry:
                entries.append(entry)
        self._lines = len(entries)
        return entries[-self.limit :]

    def append(self, text: str, entries: list[str]) -> None:
        """Add ``text`` (``entries`` is the whole history now, for when the file is cut back)."""
        if self.path is None:
            return
        line = json.dumps(text, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self._lines + 1 > 2 * self.limit:
                self._rewrite(entries[-self.limit :])
                return
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as file:
                with contextlib.suppress(OSError):
                    os.fchmod(fd, 0o600)
                file.write(line)
            self._lines += 1
        except OSError as exc:
            log.warning("the input history could not be written: %s", exc)

    def _rewrite(self, entries: list[str]) -> None:
        assert self.path is not None
        temporary = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            for entry in entries:
                file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        os.replace(temporary, self.path)
        self._lines = len(entries)

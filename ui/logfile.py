"""The log file: the owner's alone, rotated, and never a channel for a peer's escape sequences.

A log line may quote what a model or a peer sent (an error text, a refused
frame). ``SafeFormatter`` strips control sequences from the whole record and
caps its message, so ``less aiway.log`` or ``tail -f`` cannot be driven by
that text and one hostile message cannot write megabytes.
``PrivateRotatingFileHandler`` creates each file 0600 and tightens an
existing one.
"""

from __future__ import annotations

import io
import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from aiway.actors.untrusted import strip_controls

MESSAGE_CAP = 4096
"""Characters of one record's message (a traceback comes on top, stripped too)."""


class SafeFormatter(logging.Formatter):
    """A formatter whose output holds no control characters but newline and tab."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if len(message) > MESSAGE_CAP:
            record.msg = f"{message[:MESSAGE_CAP]}… ({len(message) - MESSAGE_CAP} more characters)"
            record.args = None
        return strip_controls(super().format(record))


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A size-rotated log file created with mode 0600; an existing one is tightened."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        if path.exists():
            os.chmod(path, 0o600)
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, "a", encoding="utf-8")  # the handler owns and closes it

"""Writing a surface's text without ever blocking the event loop, and never a control sequence.

Pipes, terminals and sockets get an asyncio write transport: ``write`` buffers
and returns at once, and the loop writes when the descriptor is ready. Regular
files (``--log-file``) are written directly: a write to a regular file does not
wait on a reader.

This is the one door from a headless surface to the terminal, and most of what
goes through it was written by someone else (a model, another surface, a
server's error): a terminal obeys an escape sequence wherever it comes from
(a window title, a cleared screen, the clipboard through OSC 52). ``write``
therefore strips every escape sequence and control character but newline and
tab; ``write_json_line`` keeps the data whole and escapes the controls that
JSON allows raw (C1 and DEL), so no byte that starts a sequence is written.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from typing import IO

from aiway.actors.untrusted import strip_controls

# JSON escapes C0 controls but may carry DEL and the C1 controls raw; in UTF-8
# a C1 character is 0xC2 then 0x80-0x9F (0xC2 is only ever a lead byte).
_RAW_JSON_CONTROL = re.compile(rb"\x7f|\xc2[\x80-\x9f]")


def _escape_json_control(match: re.Match[bytes]) -> bytes:
    code = match.group()[-1]
    return b"\\u%04x" % code


class _Closed(asyncio.Protocol):
    """Resolves ``closed`` when the transport has written everything and let go."""

    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class Output:
    """A text sink for one surface; ``write`` never blocks."""

    def __init__(
        self,
        transport: asyncio.WriteTransport | None,
        file: IO[bytes] | None,
        protocol: _Closed | None = None,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._file = file

    @classmethod
    async def open(cls, path: str | None) -> Output:
        """Standard output when ``path`` is None, else that file (appended)."""
        if path is not None:
            file = await asyncio.to_thread(open, path, "ab")
            return cls(None, file)
        fd = os.dup(1)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return cls(None, os.fdopen(fd, "ab"))
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(fd, "wb")
        transport, protocol = await loop.connect_write_pipe(_Closed, pipe)
        return cls(transport, None, protocol)

    def write(self, text: str) -> None:
        """Queue ``text`` for writing (UTF-8) without its control sequences; never blocks.

        Newline and tab stay; every escape sequence and other control
        character (carriage return included) is dropped.
        """
        self._put(strip_controls(text).encode())

    def write_json_line(self, document: bytes) -> None:
        """Queue one JSON document and a newline; raw DEL and C1 controls become ``\\u`` escapes.

        ``document`` must be UTF-8 JSON (what orjson writes); it decodes to
        the same value after the escaping.
        """
        if b"\x7f" in document or b"\xc2" in document:
            document = _RAW_JSON_CONTROL.sub(_escape_json_control, document)
        self._put(document + b"\n")

    def _put(self, data: bytes) -> None:
        if self._transport is not None:
            if not self._transport.is_closing():
                self._transport.write(data)
        elif self._file is not None:
            self._file.write(data)
            self._file.flush()

    async def close(self) -> None:
        """Flush what is buffered (bounded wait), then close."""
        if self._transport is not None and self._protocol is not None:
            transport, self._transport = self._transport, None
            transport.close()  # a pipe transport writes its buffer out before it lets go
            try:
                await asyncio.wait_for(asyncio.shield(self._protocol.closed), 5)
            except TimeoutError:
                transport.abort()
        if self._file is not None:
            self._file.close()
            self._file = None

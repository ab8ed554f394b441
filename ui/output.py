"""Writing a surface's text without ever blocking the event loop.

Pipes, terminals and sockets get an asyncio write transport: ``write`` buffers
and returns at once, and the loop writes when the descriptor is ready. Regular
files (``--log-file``) are written directly: a write to a regular file does not
wait on a reader.
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import IO


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
        """Queue ``text`` for writing (UTF-8)."""
        data = text.encode()
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

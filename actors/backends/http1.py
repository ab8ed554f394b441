"""One HTTP/1.1 response read straight off the transport: the chat stream's reader.

``ResponseReader`` is an ``asyncio.Protocol`` that parses one response as the
network hands it over: the status line and headers (at most ``MAX_HEAD_BYTES``),
then the body framed by ``Transfer-Encoding: chunked``, by ``Content-Length``,
or by the end of the connection. A subclass receives the head once
(``on_head``), each stretch of body bytes as ``(data, begin, end)`` offsets into
the network read (``on_body``: nothing is copied to frame the body; a paced
stream's one-chunk read is never sliced), the end of each read
(``on_read_end``), the end of the body (``on_body_end``) and a broken response
(``on_failure``: malformed framing, a head past its cap, the connection lost
before the body ended). Everything runs inside the transport's callback: no
task is woken and no future is made per read.

Why not aiohttp for this one request: with aiohttp every network read of the
body goes through its ``StreamReader`` (buffer bookkeeping, a waiter future
resolved per read, a ``Handle`` to wake the reading task, the task's step and
the coroutines of ``readany``), and then one more turn of the event loop before
the text moves on. Paced at one token per read that was about 10 allocations
per token in aiohttp and about 9 in the extra loop turn. aiohttp cannot hand a
response's body over: its C parser feeds a ``StreamReader`` it creates itself
(``__slots__``, not replaceable), and its chunk state is not readable, so the
connection cannot be taken over mid-body either. h11, the sans-IO parser,
would fit the shape but makes an event object and a bytes copy per chunk,
which is the cost this reader exists to remove. Only the streaming
``/api/chat`` request uses this reader; everything else stays on aiohttp.

What a hostile server can do is bounded here as aiohttp bounded it: a head
past ``MAX_HEAD_BYTES``, a chunk-size line past ``MAX_CHUNK_LINE_BYTES``,
trailers past ``MAX_TRAILER_BYTES``, a chunk size that is not hexadecimal, a
chunk not followed by CRLF, a transfer or content coding that was not asked
for: each is an ``HttpError`` naming it. Body sizes are the subclass's to
bound (the chat reader caps a line; an error body is read up to a cap).
"""

from __future__ import annotations

import asyncio

from aiway.actors.untrusted import capped

MAX_HEAD_BYTES = 64 * 1024
"""The largest status line and headers accepted (aiohttp's field limits are 8 KiB each)."""

MAX_CHUNK_LINE_BYTES = 1024
"""The longest chunk-size line (size and extensions) accepted."""

MAX_TRAILER_BYTES = 8 * 1024
"""The most trailer bytes accepted after the last chunk."""

_SIZE_ENDS = frozenset(b"; \t")
SMALL_READ = 256
"""What a read is offered while reads are small (CPython caches ints up to 256)."""

LARGE_READ = 256 * 1024
"""What a read is offered once one filled ``SMALL_READ`` (asyncio's own read size)."""

_MAX_SIZE_DIGITS = 15  # chunk sizes below 16**15 bytes

# Framing states.
_HEAD = 0
_SIZE = 1  # a chunk-size line
_DATA = 2  # inside a chunk
_CRLF = 3  # the CRLF after a chunk's data
_TRAILERS = 4
_LENGTH = 5  # inside a Content-Length body
_UNTIL_CLOSE = 6
_DONE = 7


class HttpError(Exception):
    """The response broke HTTP/1.1 framing; the message says how (safe to show)."""


class EndedEarly(HttpError):
    """The connection ended before the response's body did."""


class ResponseReader(asyncio.BufferedProtocol):
    """Reads one HTTP/1.1 response; subclasses receive its parts (see the module doc).

    The transport reads into this reader's own buffer (``buffer``, ``view``),
    reused by every read: the bytes a hook is given are only valid during the
    call, and a hook that keeps any must copy them (slice ``data``). A read is
    offered ``SMALL_READ`` bytes, then the whole buffer once a read filled
    that, until one does not: the paced stream's reads (one chunk, about 130
    bytes) make no bytes object and not even an int for their length.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray(LARGE_READ)
        """What the transport reads into; ``data`` of a hook that came from the network."""
        self.view = memoryview(self.buffer)
        """``buffer`` as a memoryview: a slice of it is one object and copies nothing."""
        self._small = self.view[:SMALL_READ]
        self._wide = False
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        """Lower-cased names; a repeated header's values joined with ``", "``."""
        self._state = _HEAD
        # A head or a chunk-size / trailer line not yet complete, in the pieces it came in.
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._left = 0  # bytes left in the chunk (_DATA) or the body (_LENGTH)
        self._crlf = 0  # bytes of a chunk's CRLF already seen (_CRLF)
        self._trailer_bytes = 0

    @property
    def body_ended(self) -> bool:
        """Whether the whole response has been read (or reading it failed)."""
        return self._state == _DONE

    # -- what a subclass receives --------------------------------------------------------

    def on_head(self) -> None:
        """The status and headers are in (``status``, ``reason``, ``headers``)."""

    def on_body(self, data: bytes | bytearray, begin: int, end: int) -> None:
        """Body bytes ``data[begin:end]`` (never empty; valid during the call only)."""

    def on_read_end(self) -> None:
        """One network read has been taken apart."""

    def on_body_end(self) -> None:
        """The body ended as its framing said."""

    def on_failure(self, error: HttpError) -> None:
        """The response is broken (or cut short); nothing more will come."""

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view if self._wide else self._small

    def buffer_updated(self, nbytes: int) -> None:
        self._wide = nbytes >= SMALL_READ
        self.take(self.buffer, nbytes)

    def data_received(self, data: bytes) -> None:
        self.take(data, len(data))

    def take(self, data: bytes | bytearray, end: int) -> None:
        """One network read: ``data[:end]`` (``buffer``, or bytes kept aside)."""
        if self._state == _DONE:
            return
        try:
            self._feed(data, end)
        except HttpError as error:
            self._state = _DONE
            self.on_failure(error)
            return
        self.on_read_end()

    def eof_received(self) -> bool | None:
        return None  # the transport closes; connection_lost says what that meant

    def connection_lost(self, exc: Exception | None) -> None:
        state = self._state
        if state == _DONE:
            return
        self._state = _DONE
        if state == _UNTIL_CLOSE:
            self.on_body_end()
        else:
            self.on_failure(EndedEarly("the connection ended before the response did"))

    # -- framing ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Read nothing more of this response (the subclass has what it needs)."""
        self._state = _DONE

    def _feed(self, data: bytes | bytearray, end: int) -> None:
        pos = 0
        while pos < end:
            state = self._state
            if state == _DATA:
                # Offsets past 256 are new ints: the paced case (one chunk per read)
                # makes none, and a longer read as few as it can.
                left = self._left
                if end - pos >= left:
                    stop = pos + left
                    self._left = 0
                    self._state = _CRLF
                    self._crlf = 0
                else:
                    stop = end
                    self._left = left - (end - pos)
                self.on_body(data, pos, stop)
                pos = stop
            elif state == _SIZE:
                pos = self._size_line(data, pos, end)
            elif state == _CRLF:
                # Both bytes of the CRLF, which may come one read apart.
                if data[pos] != (13 if self._crlf == 0 else 10):
                    raise HttpError("a chunk of the response is not followed by CRLF")
                pos += 1
                self._crlf += 1
                if self._crlf == 2:
                    self._state = _SIZE
            elif state == _LENGTH:
                left = self._left
                stop = pos + left if end - pos >= left else end
                self._left = left - (stop - pos)
                self.on_body(data, pos, stop)
                pos = stop
                if not self._left and self._state == _LENGTH:
                    self._state = _DONE
                    self.on_body_end()
                    return
            elif state == _UNTIL_CLOSE:
                self.on_body(data, pos, end)
                return
            elif state == _HEAD:
                pos = self._head(data, pos, end)
            elif state == _TRAILERS:
                pos = self._trailer_line(data, pos, end)
            else:  # _DONE: the subclass stopped, or the body ended
                return

    def _line(
        self, data: bytes | bytearray, pos: int, end: int, limit: int, what: str
    ) -> bytes | None:
        """A CRLF-ended line from ``pos`` (pieces held across reads), or None if unfinished."""
        newline = data.find(b"\n", pos, end)
        if newline < 0:
            self._held.append(bytes(data[pos:end]))
            self._held_bytes += end - pos
            if self._held_bytes > limit:
                raise HttpError(f"{what} longer than {limit} bytes")
            return None
        if self._held:
            self._held.append(bytes(data[pos:newline]))
            line = b"".join(self._held)
            self._held = []
            self._held_bytes = 0
        else:
            line = bytes(data[pos:newline])
        if len(line) > limit:
            raise HttpError(f"{what} longer than {limit} bytes")
        return line[:-1] if line.endswith(b"\r") else line

    def _size_line(self, data: bytes | bytearray, pos: int, end: int) -> int:
        """Read a chunk-size line from ``pos``; the offset after it (``end`` if unfinished)."""
        newline = data.find(b"\n", pos, end)
        if newline < 0 or self._held:
            line = self._line(data, pos, end, MAX_CHUNK_LINE_BYTES, "a chunk-size line")
            if line is None:
                return end
            size = _chunk_size(line, 0, len(line))
        else:
            # The common case, parsed in place: nothing sliced.
            if newline - pos > MAX_CHUNK_LINE_BYTES:
                raise HttpError(f"a chunk-size line longer than {MAX_CHUNK_LINE_BYTES} bytes")
            stop = newline - 1 if newline > pos and data[newline - 1] == 13 else newline
            size = _chunk_size(data, pos, stop)
        if size:
            self._state = _DATA
            self._left = size
        else:
            self._state = _TRAILERS
        return newline + 1 if newline >= 0 else end

    def _trailer_line(self, data: bytes | bytearray, pos: int, end: int) -> int:
        newline = data.find(b"\n", pos, end)
        line = self._line(data, pos, end, MAX_TRAILER_BYTES, "a trailer line")
        if line is None:
            return end
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > MAX_TRAILER_BYTES:
            raise HttpError(f"trailers longer than {MAX_TRAILER_BYTES} bytes")
        if not line:
            self._state = _DONE
            self.on_body_end()
            return end
        return newline + 1

    def _head(self, data: bytes | bytearray, pos: int, end: int) -> int:
        """Collect the head from ``pos``; once whole, parse it and return where the body starts."""
        base = self._held_bytes
        if self._held:
            self._held.append(bytes(data[pos:end]))
            joined: bytes | bytearray = b"".join(self._held)
            offset = 0
            limit = len(joined)
        else:
            joined = data
            offset = pos
            limit = end
        stop = joined.find(b"\r\n\r\n", offset, limit)
        if stop < 0:
            if limit - offset > MAX_HEAD_BYTES:
                raise HttpError(f"a response head longer than {MAX_HEAD_BYTES // 1024} KiB")
            self._held = [bytes(joined[offset:limit])]
            self._held_bytes = limit - offset
            return end
        if stop - offset > MAX_HEAD_BYTES:
            raise HttpError(f"a response head longer than {MAX_HEAD_BYTES // 1024} KiB")
        self._held = []
        self._held_bytes = 0
        self._parse_head(joined[offset:stop])
        body = stop + 4 - offset - base + pos if base else stop + 4
        if 100 <= self.status < 200:  # an interim response: the real one follows
            self._state = _HEAD
            self.headers = {}
            return body
        self._state = self._framing()
        self.on_head()
        if self._state == _DONE:
            # No body (or the subclass stopped): the response is over.
            if self._framing_had_no_body:
                self.on_body_end()
            return end
        return body

    _framing_had_no_body = False

    def _parse_head(self, head: bytes | bytearray) -> None:
        lines = head.split(b"\r\n")
        status_line = lines[0].decode("latin-1")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise HttpError(f"not an HTTP/1.1 response: {capped(status_line, 80)!r}")
        self.status = int(code)
        self.reason = capped(reason.strip(), 80)
        headers: dict[str, str] = {}
        for raw in lines[1:]:
            name, colon, value = raw.partition(b":")
            if not colon or not name or name != name.strip() or b" " in name:
                raise HttpError(f"a malformed header line: {capped(raw.decode('latin-1'), 80)!r}")
            key = name.decode("latin-1").lower()
            text = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        self.headers = headers

    def _framing(self) -> int:
        headers = self.headers
        if self.status in (204, 304):
            self._framing_had_no_body = True
            return _DONE
        coding = headers.get("content-encoding", "identity").strip().lower()
        if coding not in ("identity", ""):
            raise HttpError(
                f"a response compressed with {capped(coding, 40)!r}, which was not asked for"
            )
        transfer = headers.get("transfer-encoding")
        if transfer is not None:
            if transfer.strip().lower() != "chunked":
                raise HttpError(f"a transfer coding that is not read: {capped(transfer, 40)!r}")
            return _SIZE
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or len(length) > 18:
                raise HttpError(f"a malformed Content-Length: {capped(length, 40)!r}")
            self._left = int(length)
            if not self._left:
                self._framing_had_no_body = True
                return _DONE
            return _LENGTH
        return _UNTIL_CLOSE


def _chunk_size(data: bytes | bytearray, pos: int, stop: int) -> int:
    """The hexadecimal size at the start of ``data[pos:stop]`` (extensions after ``;`` ignored)."""
    size = 0
    digits = 0
    while pos < stop:
        byte = data[pos]
        if 48 <= byte <= 57:
            size = size * 16 + byte - 48
        elif 97 <= byte <= 102:
            size = size * 16 + byte - 87
        elif 65 <= byte <= 70:
            size = size * 16 + byte - 55
        elif byte in _SIZE_ENDS:  # ";" begins an extension
            break
        else:
            raise HttpError("a chunk size that is not hexadecimal")
        digits += 1
        pos += 1
    if not digits or digits > _MAX_SIZE_DIGITS:
        raise HttpError("a chunk size that is not hexadecimal")
    return size

"""Incremental NDJSON splitting over raw bytes: the hot path of every HTTP stream.

``NdjsonSplitter`` takes bytes exactly as the network hands them over and
returns the JSON objects of the lines those bytes complete. It splits on
``b"\\n"`` only (``str.splitlines`` would also split on U+0085 and friends,
which Ollama sends unescaped inside tokens), decodes each complete line once
with orjson (so a UTF-8 character cut between two reads is only ever decoded
whole), skips blank lines, and bounds the bytes it holds with a maximum line
length. The cost per read is one ``bytes.split`` and one list comprehension;
everything else happens only when something is wrong. ``feed`` returns
decoded objects; a hot reader that needs one field of each line calls
``split`` and decodes the lines itself, so it keeps no object alive past its
line (the Ollama backend does; holding a read's objects costs more than
decoding them).
"""

from __future__ import annotations

from typing import Any

import orjson

from aiway.actors.errors import AiwayError

DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024
"""The longest line accepted by default (4 MiB), newline excluded."""

JsonObject = dict[str, Any]
"""One decoded NDJSON line. JSON values have no closer static type."""

_loads = orjson.loads


class NdjsonError(AiwayError):
    """A stream broke the NDJSON rules; ``line_number`` (1-based) says where."""

    def __init__(self, message: str, line_number: int) -> None:
        super().__init__(message)
        self.line_number = line_number


class LineTooLong(NdjsonError):
    """A line grew past the limit; ``limit`` is the limit in bytes."""

    def __init__(self, line_number: int, limit: int) -> None:
        super().__init__(
            f"line {line_number} is longer than the limit of {_describe_size(limit)}",
            line_number,
        )
        self.limit = limit


class MalformedLine(NdjsonError):
    """A complete line is not one JSON object."""


class NdjsonSplitter:
    """Turns network reads into decoded lines. One splitter per stream; not thread-safe.

    Splitting is linear in the bytes fed, however a line is cut: a read with
    no newline is only searched once and kept aside, and the held pieces of a
    line are joined once, when its newline comes (``bytes_scanned`` counts the
    work).
    """

    __slots__ = ("_held", "_held_bytes", "_lines_seen", "_max_line_bytes", "_scanned", "_whole")

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be at least 1, got {max_line_bytes}")
        self._max_line_bytes = max_line_bytes
        # The unfinished line, in the pieces it came in: joined only when it ends.
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._lines_seen = 0
        # Lines taken by ``whole_line`` since ``_lines_seen`` last took them, below 256
        # (CPython caches those ints: counting one line per read makes none).
        self._whole = 0
        self._scanned = 0

    @property
    def max_line_bytes(self) -> int:
        """The longest line accepted, in bytes, newline excluded."""
        return self._max_line_bytes

    @property
    def pending_bytes(self) -> int:
        """Bytes held of a line not yet complete."""
        return self._held_bytes

    @property
    def lines_seen(self) -> int:
        """Complete lines split so far, blank ones included."""
        return self._lines_seen + self._whole

    @property
    def bytes_scanned(self) -> int:
        """Bytes ``split`` searched for newlines so far: at most twice the bytes it was fed,
        whatever the cuts (lines taken whole by ``whole_line`` are not counted)."""
        return self._scanned

    def split(self, data: bytes) -> list[bytes]:
        """The complete lines that ``data`` finishes (blank ones included, newlines removed).

        Holds the unfinished rest, never more than ``max_line_bytes`` of it.
        Raises ``LineTooLong`` naming the line; the stream is then broken.
        This is the hot path's entry: a reader that wants only part of each
        object decodes the lines itself and keeps nothing else alive.
        """
        held = self._held
        newline = data.find(b"\n")
        if newline < 0:
            self._scanned += len(data)
            if data:
                held.append(data)
                self._held_bytes += len(data)
                if self._held_bytes > self._max_line_bytes:
                    raise LineTooLong(self.lines_seen + 1, self._max_line_bytes)
            return []
        if held:
            # The held part is joined once, with the read that ends it, and never
            # searched again: the first line runs up to ``newline`` of this read.
            if self._held_bytes + newline > self._max_line_bytes:
                raise LineTooLong(self.lines_seen + 1, self._max_line_bytes)
            held.append(data[:newline])
            first = b"".join(held)
            rest = data[newline + 1 :]
            self._scanned += newline + 1 + len(rest)
            lines = rest.split(b"\n")
            lines.insert(0, first)
        else:
            self._scanned += len(data)
            lines = data.split(b"\n")
        tail = lines.pop()
        self._held = [tail] if tail else []
        self._held_bytes = len(tail)
        # One comparison per read covers the common case: no line in a chunk
        # can be longer than the chunk (the held part was checked above).
        if len(data) > self._max_line_bytes:
            self._check_lengths(lines)
        self._lines_seen += len(lines)
        return lines

    def whole_line(self, data: bytes | bytearray, begin: int = 0, end: int | None = None) -> bool:
        """Whether ``data[begin:end]`` is exactly one complete line, with nothing held before it.

        If so it counts as split (line numbers stay right) and the caller
        decodes that line itself (orjson ignores the newline). Nothing is
        allocated, not even an offset (``bytes_scanned`` leaves these lines
        out: it is ``split``'s work). Otherwise nothing changes: call
        ``split``. This is the paced stream's path, one line per network read.
        """
        if end is None:
            end = len(data)
        if self._held or not data.endswith(b"\n", begin, end):
            return False
        if data.count(b"\n", begin, end) != 1 or end - begin - 1 > self._max_line_bytes:
            return False  # ``split`` says which line and why
        whole = self._whole + 1
        if whole == 256:
            self._lines_seen += 256
            whole = 0
        self._whole = whole
        return True

    def flush(self) -> list[bytes]:
        """At end of stream: the last line if it had no newline (a list of one), else ``[]``."""
        rest = b"".join(self._held)
        self._held = []
        self._held_bytes = 0
        if not rest.strip():
            return []
        self._lines_seen += 1
        return [rest]

    def decode(self, lines: list[bytes]) -> list[JsonObject]:
        """The objects of ``lines`` as the latest ``split`` or ``flush`` returned them.

        Skips blank and whitespace-only lines; raises ``MalformedLine`` naming
        the first line that is not a JSON object.
        """
        first_line = self.lines_seen - len(lines) + 1
        objects: list[JsonObject] = []
        for number, line in enumerate(lines, first_line):
            if not line.strip():
                continue
            try:
                item = _loads(line)
            except orjson.JSONDecodeError as error:
                raise MalformedLine(
                    f"line {number} is not valid JSON ({error}): {_preview(line)}", number
                ) from None
            if type(item) is not dict:
                raise MalformedLine(
                    f"line {number} is JSON but not an object: {_preview(line)}", number
                )
            objects.append(item)
        return objects

    def feed(self, data: bytes) -> list[JsonObject]:
        """The objects of every line that ``data`` completes, in order.

        ``split`` then one decode per line. Raises ``LineTooLong`` or
        ``MalformedLine`` (naming the line) and then must not be fed again:
        the stream is broken.
        """
        lines = self.split(data)
        if not lines:
            return []
        try:
            objects = [_loads(line) for line in lines if line]
        except orjson.JSONDecodeError:
            return self.decode(lines)
        for item in objects:
            if type(item) is not dict:
                return self.decode(lines)
        return objects

    def finish(self) -> list[JsonObject]:
        """At end of stream: the object of a last line that had no newline, if any."""
        return self.decode(self.flush())

    def _check_lengths(self, lines: list[bytes]) -> None:
        limit = self._max_line_bytes
        for offset, line in enumerate(lines):
            if len(line) > limit:
                raise LineTooLong(self.lines_seen + offset + 1, limit)
        if self._held_bytes > limit:
            raise LineTooLong(self.lines_seen + len(lines) + 1, limit)


def _preview(line: bytes, limit: int = 80) -> str:
    text = line[:limit].decode("utf-8", "replace")
    return repr(text) + ("..." if len(line) > limit else "")


def _describe_size(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB ({size} bytes)"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB ({size} bytes)"
    return f"{size} bytes"

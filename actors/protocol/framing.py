"""Frames on the daemon link: a 4-byte big-endian length, then that many bytes of wire JSON.

``encode_frame`` builds one frame; ``FrameDecoder`` takes bytes as they come
off a socket, split anywhere, and returns the complete frames. A header that
announces more than the decoder's limit fails at once, before the body is
read, so a peer cannot make the daemon buffer an oversized frame. A decoder's
limit can change between frames (``max_frames`` stops after the frames a
caller wants to see under the current limit): both ends take only a small
frame before the handshake (``PRE_AUTH_FRAME_BYTES``), and more after it.
``FrameEncoder`` turns messages into frames and remembers the last few it
encoded by identity: the registry shares one ``Published`` object with every
surface, so N remote surfaces cost one encoding, not N.
"""

from __future__ import annotations

import struct

from aiway.actors.protocol import AvatarFrame, Metrics, ProtocolError, Published, to_wire


class FrameError(ProtocolError):
    """A frame on the link broke the framing rules; the connection cannot go on."""


class FrameTooLarge(FrameError):
    """A frame's header announced more bytes than the limit allows."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"a frame of {length} bytes is over the limit of {limit} bytes")
        self.length = length
        self.limit = limit


HEADER = struct.Struct(">I")
"""The length prefix: an unsigned 32-bit big-endian integer."""

HEADER_BYTES = HEADER.size

MAX_FRAME_LIMIT = 2**32 - 1
"""The largest length a header can carry."""

PRE_AUTH_FRAME_BYTES = 4 * 1024
"""The largest frame either end takes before the handshake is done (a Handshake, a challenge,
a Welcome or a Refused all fit many times over); a longer one is refused unread."""

MAX_FRAME_BYTES = 1024 * 1024
"""The default largest frame the daemon takes from an authenticated surface
(``daemon.max_frame_bytes``)."""

CLIENT_FRAME_LIMIT = 64 * 1024 * 1024
"""The largest frame a client takes from the daemon after the handshake. Whatever the daemon
sends a surface, a ``StateSnapshot`` above all, must encode within this many bytes."""

# Shared by every surface, so worth remembering; snapshots are per surface and large.
_SHARED = (Published, AvatarFrame, Metrics)


def encode_frame(payload: bytes) -> bytes:
    """One frame: the length of ``payload``, then ``payload``. Raises ``FrameError`` past 4 GiB."""
    if len(payload) > MAX_FRAME_LIMIT:
        raise FrameError(f"a payload of {len(payload)} bytes cannot be framed")
    return HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Splits a byte stream into frames of at most ``max_frame_bytes`` bytes each.

    ``feed`` returns the frames completed by ``data`` (possibly none) and keeps
    a partial frame for the next call. It raises ``FrameTooLarge`` as soon as a
    header announces too long a frame; after that the stream has no known
    boundary, so every later ``feed`` raises ``FrameError``.
    """

    __slots__ = ("_buffer", "_failed", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int) -> None:
        if not 0 <= max_frame_bytes <= MAX_FRAME_LIMIT:
            raise ValueError(f"max_frame_bytes must be within 0..{MAX_FRAME_LIMIT}")
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._failed = False

    @property
    def pending(self) -> int:
        """Bytes held back: the start of a frame not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes, max_frames: int | None = None) -> list[bytes]:
        """The frames completed by ``data``, in order; at most ``max_frames`` of them.

        Frames past ``max_frames`` stay buffered, unchecked, for a later call
        (``feed(b"")`` to go on), so a caller can raise the limit in between.
        """
        if self._failed:
            raise FrameError("the stream lost its frame boundaries after an oversized frame")
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        size = len(buffer)
        position = 0
        limit = self.max_frame_bytes
        while size - position >= HEADER_BYTES:
            if max_frames is not None and len(frames) >= max_frames:
                break
            (length,) = HEADER.unpack_from(buffer, position)
            if length > limit:
                self._failed = True
                buffer.clear()
                raise FrameTooLarge(length, limit)
            end = position + HEADER_BYTES + length
            if end > size:
                break
            frames.append(bytes(buffer[position + HEADER_BYTES : end]))
            position = end
        if position:
            del buffer[:position]
        return frames


class FrameEncoder:
    """Messages to frames, remembering the last ``size`` shared messages by identity.

    The cache holds a reference to each message it remembers, so an ``id`` in
    it cannot be reused by another object while the entry lives. Messages are
    immutable, so a remembered frame is always that message's frame.
    """

    __slots__ = ("_cache", "encoded", "hits", "size")

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._cache: dict[int, tuple[object, bytes]] = {}
        self.hits = 0
        self.encoded = 0

    def encode(self, msg: object) -> bytes:
        """The frame of ``msg`` (its wire form, length-prefixed)."""
        if type(msg) not in _SHARED:
            self.encoded += 1
            return encode_frame(to_wire(msg))
        key = id(msg)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is msg:
            self.hits += 1
            return cached[1]
        frame = encode_frame(to_wire(msg))
        self.encoded += 1
        cache = self._cache
        if len(cache) >= self.size:
            del cache[next(iter(cache))]
        cache[key] = (msg, frame)
        return frame

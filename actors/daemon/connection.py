"""One connection to the daemon: framing, handshake, input checks, heartbeats, flow control.

A ``Connection`` is the asyncio protocol of one accepted socket. Until its
handshake it is nobody and costs almost nothing: it may send one frame of at
most ``PRE_AUTH_FRAME_BYTES`` (a longer header is refused before its body is
read), only a frame whose ``type`` is ``Handshake`` is decoded at all, and it
must come within the handshake timeout. Over TCP the daemon first sends a
challenge, and the handshake must answer it (see ``challenge``); the token
itself never crosses the wire. Then its ``ConnectionHost`` (the server)
attaches a surface for it. From then on frames may be up to
``max_frame_bytes``, at most ``input_rate`` a second (bursts of
``input_burst``), and only the types a surface may send are decoded:
``Ping`` is answered here, the rest goes to the host with the surface id
stamped on.

Bad input never reaches the actors: it gets one short ``Refused`` frame (its
reason capped), is counted, and closes this connection only. Closing is
lingering: the daemon stops reading frames, writes what is buffered, shuts
its side, and discards (unread) a bounded amount of what the peer still
sends, so the peer reads the refusal instead of a reset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

import attrs

from aiway.actors.daemon import challenge
from aiway.actors.daemon.auth import PeerCredentials, peer_credentials
from aiway.actors.daemon.errors import FrameError, FrameTooLarge
from aiway.actors.daemon.ratelimit import TokenBucket
from aiway.actors.protocol import (
    PROTOCOL_VERSION,
    Cancel,
    Handshake,
    Ping,
    Pong,
    ProtocolError,
    Quit,
    QuitRequested,
    RefusalCode,
    Refused,
    Resized,
    UserCommand,
    UserMessage,
    UserTyping,
    Welcome,
)
from aiway.actors.protocol.converter import from_dict
from aiway.actors.protocol.framing import PRE_AUTH_FRAME_BYTES, FrameDecoder, encode_frame
from aiway.actors.untrusted import capped

log = logging.getLogger(__name__)

# What a surface may send on to the Conductor (its surface id is stamped on each).
FORWARDED: tuple[type, ...] = (UserMessage, UserCommand, Cancel, UserTyping, Resized)
# Every type decoded after the handshake; anything else is refused by its tag, unbuilt.
_ACCEPTED = {kind.__name__: kind for kind in (*FORWARDED, Ping, Pong, QuitRequested)}
_QUIT_COMMANDS = frozenset({"quit", "exit"})
# Seconds a closing connection gets to flush its last frames before it is cut.
CLOSE_GRACE = 2.0
# Bytes a closing connection discards from its peer (so the peer reads the refusal, not a
# reset) before it is cut.
LINGER_BYTES = 2 * 1024 * 1024
# Longest reason a Refused frame carries.
REASON_CAP = 300
_SURFACE_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@attrs.frozen(slots=True)
class ConnectionLimits:
    """What one connection may cost: the bounds it is held to, from ``DaemonSettings``."""

    max_frame_bytes: int
    """Largest frame after the handshake."""
    input_rate: float
    """Messages per second on average, after the handshake."""
    input_burst: int
    """Messages in a burst above that rate."""
    handshake_timeout: float
    """Seconds from accept to a valid handshake."""
    write_buffer_bytes: int
    """High-water mark of the write buffer (the surface's actor waits above it)."""
    heartbeat_interval: float
    """Told to the surface in its ``Welcome``."""


@attrs.define(slots=True)
class LinkCounters:
    """Counters every connection of one daemon adds to."""

    frames_in: int = 0
    frames_out: int = 0
    dead_peers: int = 0
    refused: dict[str, int] = attrs.Factory(dict)


class ConnectionHost(Protocol):
    """What a connection needs of the daemon that accepted it (the ``DaemonServer``)."""

    def admit(self, conn: Connection) -> Refused | None:
        """Take ``conn`` in (counted until ``closed``); a refusal when it may not stay."""

    def token(self) -> str | None:
        """The secret TCP peers must prove they know; None: no TCP peer can authenticate."""

    def attach(self, conn: Connection, handshake: Handshake) -> str:
        """The handshake passed: attach a surface for ``conn``; its surface id."""

    def forward(self, conn: Connection, msg: object) -> None:
        """Hand one input message (the surface id stamped on) to the session."""

    def closed(self, conn: Connection) -> None:
        """``conn`` is gone; the surface it attached (if any) leaves."""


class Connection(asyncio.Protocol):
    """One peer of the daemon, over a Unix socket (``kind`` "unix") or TCP ("tcp")."""

    def __init__(
        self,
        host: ConnectionHost,
        kind: str,
        limits: ConnectionLimits,
        counters: LinkCounters,
        encode: Callable[[object], bytes],
    ) -> None:
        self.host = host
        self.kind = kind
        self.limits = limits
        self.counters = counters
        self._encode = encode
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder(PRE_AUTH_FRAME_BYTES)
        self.bucket = TokenBucket(limits.input_rate, limits.input_burst, self.loop.time())
        self.last_received = self.loop.time()
        self.peer = kind
        #: the kernel's word on a Unix peer (None over TCP, or where the platform cannot tell)
        self.credentials: PeerCredentials | None = None
        self.surface_id: str | None = None
        self.closing = False
        self.close_reason = ""
        self._nonce: str | None = None
        self._paused = False
        self._lingered = 0
        self._drained: asyncio.Future[None] | None = None
        self._handshake_timer: asyncio.TimerHandle | None = None
        self._abort_timer: asyncio.TimerHandle | None = None

    # -- asyncio protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        high = self.limits.write_buffer_bytes
        transport.set_write_buffer_limits(high=high, low=high // 4)
        if self.kind == "unix":
            self.credentials = peer_credentials(transport.get_extra_info("socket"))
        self.peer = _describe_peer(self.kind, transport, self.credentials)
        refusal = self.host.admit(self)
        if refusal is not None:
            self.refuse(refusal.code, refusal.reason)
            return
        self._handshake_timer = self.loop.call_later(
            self.limits.handshake_timeout, self._handshake_overdue
        )
        if self.kind == "tcp":
            self._nonce = challenge.new_nonce()
            self._write_frame(encode_frame(challenge.challenge_payload(self._nonce)))

    def data_received(self, data: bytes) -> None:
        if self.closing:
            self._linger(len(data))
            return
        attached = self.surface_id is not None
        try:
            # Before the handshake, one frame at a time: the next is checked against the
            # limit that holds once this one is handled.
            frames = self.decoder.feed(data, None if attached else 1)
        except FrameTooLarge as exc:
            self.refuse(RefusalCode.OVERSIZE, str(exc))
            return
        except FrameError as exc:
            self.refuse(RefusalCode.MALFORMED, str(exc))
            return
        if not frames:
            return
        now = self.loop.time()
        self.last_received = now
        self.counters.frames_in += len(frames)
        if not attached:
            self._before_handshake(frames[0])
            if self.closing or self.decoder.pending == 0:
                return
            self.data_received(b"")  # what came behind the handshake, under the full limit
            return
        bucket = self.bucket
        for frame in frames:
            if not bucket.allow(now):
                self.refuse(
                    RefusalCode.RATE,
                    f"more than {bucket.rate:g} messages per second "
                    f"(bursts of {bucket.burst:g}); slow down",
                )
                return
            self._on_frame(frame)
            if self.closing:
                return

    def eof_received(self) -> bool | None:
        return None  # the peer is done: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if not self.close_reason:
            self.close_reason = "the peer closed the connection" if exc is None else str(exc)
        self._cancel_timers()
        self._release_writer()
        self.host.closed(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._release_writer()

    # -- FrameSink (the RemoteSurface actor writes here) -------------------------------

    def write_message(self, msg: object) -> None:
        """Write ``msg`` as one frame; dropped once the connection is closing."""
        if self.closing:
            return
        self._write_frame(self._encode(msg))

    def blocked(self) -> asyncio.Future[None] | None:
        """While the write buffer is above its high-water mark: a future resolved on drain."""
        if not self._paused or self.closing:
            return None
        waiter = self._drained
        if waiter is None or waiter.done():
            waiter = self._drained = self.loop.create_future()
        return waiter

    def finish(self, reason: str) -> None:
        """Close once what is buffered is written (cut after a grace period)."""
        self._close(reason)

    # -- closing -------------------------------------------------------------------------

    def refuse(self, code: str, reason: str) -> None:
        """Tell the peer why in a short ``Refused`` frame, count it, and close this connection."""
        if self.closing:
            return
        reason = capped(reason, REASON_CAP)
        refused = self.counters.refused
        refused[code] = refused.get(code, 0) + 1
        log.warning("refused %s (%s): %s", self.surface_id or self.peer, code, reason)
        self.write_message(Refused(code, reason))
        self._close(f"refused ({code}): {reason}")

    def drop_dead(self, silent_for: float) -> None:
        """The peer sent nothing for too long: cut the connection at once, and count it."""
        if self.closing:
            return
        self.counters.dead_peers += 1
        log.warning(
            "dropped %s: nothing received for %.1fs (heartbeats missed)",
            self.surface_id or self.peer,
            silent_for,
        )
        self.abort("heartbeats missed")

    def abort(self, reason: str) -> None:
        """Cut the connection now, dropping what is buffered."""
        self.closing = True
        self.close_reason = self.close_reason or reason
        if self.transport is not None:
            self.transport.abort()

    def _close(self, reason: str) -> None:
        transport = self.transport
        if self.closing or transport is None:
            return
        self.closing = True
        self.close_reason = reason
        self._cancel_handshake_timer()
        self._release_writer()
        if transport.can_write_eof():
            # Shut our side once the last frames are out, and go on reading (discarding) so
            # that unread input does not turn the close into a reset the peer sees first.
            transport.write_eof()
        else:
            transport.close()
        self._abort_timer = self.loop.call_later(CLOSE_GRACE, transport.abort)

    def _linger(self, size: int) -> None:
        self._lingered += size
        if self._lingered > LINGER_BYTES and self.transport is not None:
            self.transport.abort()

    def _write_frame(self, frame: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(frame)
        self.counters.frames_out += 1

    def _release_writer(self) -> None:
        waiter, self._drained = self._drained, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _cancel_handshake_timer(self) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_handshake_timer()
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None

    def _handshake_overdue(self) -> None:
        self._handshake_timer = None
        if self.surface_id is None:
            timeout = self.limits.handshake_timeout
            self.refuse(RefusalCode.HANDSHAKE, f"no handshake within {timeout:g}s")

    # -- input ---------------------------------------------------------------------------

    def _before_handshake(self, frame: bytes) -> None:
        """The one frame an unknown peer may send: a Handshake, checked before it is built."""
        try:
            kind, data = challenge.frame_type(frame)
        except ProtocolError as exc:
            self.refuse(RefusalCode.MALFORMED, str(exc))
            return
        if kind != "Handshake":
            self.refuse(
                RefusalCode.HANDSHAKE,
                f"the first message must be a Handshake, not {kind!r:.40}",
            )
            return
        try:
            msg = from_dict(data)
        except ProtocolError as exc:
            self.refuse(RefusalCode.MALFORMED, str(exc))
            return
        assert isinstance(msg, Handshake)
        self._on_handshake(msg)

    def _on_frame(self, frame: bytes) -> None:
        try:
            tag, data = challenge.frame_type(frame)
            kind = _ACCEPTED.get(tag or "")
            if kind is None:
                if tag == "Handshake":
                    self.refuse(RefusalCode.HANDSHAKE, "a second Handshake on one connection")
                else:
                    what = (tag or "a frame without a type")[:60]
                    self.refuse(
                        RefusalCode.MALFORMED, f"{what} is not a message a surface may send"
                    )
                return
            msg = from_dict(data)
        except ProtocolError as exc:
            self.refuse(RefusalCode.MALFORMED, str(exc))
            return
        except Exception as exc:  # the decoder's own bug must not take the daemon down
            log.exception("decoding a frame from %s failed", self.peer)
            self.refuse(RefusalCode.MALFORMED, f"undecodable frame ({type(exc).__name__})")
            return
        match msg:
            case Ping(nonce=nonce):
                self.write_message(Pong(nonce))
            case Pong():
                pass
            case QuitRequested():
                self._detach()
            case _:
                self._forward(msg)

    def _on_handshake(self, msg: Handshake) -> None:
        if msg.protocol_version != PROTOCOL_VERSION:
            self.refuse(
                RefusalCode.VERSION,
                f"the daemon speaks protocol version {PROTOCOL_VERSION}, this surface "
                f"{msg.protocol_version}; run the same aiway version on both sides",
            )
            return
        proof = None
        if self.kind == "tcp":
            proof = self._check_response(msg.token)
            if proof is None:
                self.refuse(
                    RefusalCode.TOKEN,
                    "the answer to the challenge is missing or wrong: give this surface the "
                    "daemon's current token file (daemon.token_file)",
                )
                return
        surface_type = msg.surface_type
        if not surface_type or len(surface_type) > 32 or set(surface_type) - _SURFACE_TYPE_CHARS:
            self.refuse(
                RefusalCode.HANDSHAKE,
                f"surface_type {surface_type[:40]!r} must be 1-32 letters, digits, '_', '-' or '.'",
            )
            return
        self._cancel_handshake_timer()
        self.decoder.max_frame_bytes = self.limits.max_frame_bytes
        if proof is not None:
            self._write_frame(encode_frame(challenge.proof_payload(proof)))
        surface_id = self.host.attach(self, msg)
        self.surface_id = surface_id
        self.write_message(Welcome(surface_id, self.limits.heartbeat_interval, PROTOCOL_VERSION))

    def _check_response(self, response: str | None) -> str | None:
        """The daemon's proof for a right answer to the challenge; None for a wrong one."""
        token = self.host.token()
        unpacked = challenge.unpack_response(response)
        if token is None or unpacked is None or self._nonce is None:
            return None
        client_nonce, given = unpacked
        expected = challenge.client_proof(token, self._nonce, client_nonce)
        if not challenge.proofs_match(given, expected):
            return None
        return challenge.server_proof(token, self._nonce, client_nonce)

    def _forward(self, msg: object) -> None:
        if (type(msg) is UserMessage and _is_quit(msg.text)) or (
            type(msg) is UserCommand and msg.command.lower().lstrip("/") in _QUIT_COMMANDS
        ):
            self._detach()
            return
        self.host.forward(self, attrs.evolve(msg, surface_id=self.surface_id))  # type: ignore[misc]

    def _detach(self) -> None:
        """This surface leaves; the session goes on for the others."""
        self.write_message(Quit("this surface left; the daemon goes on for the others"))
        self._close("the surface left")


def _is_quit(text: str) -> bool:
    word = text.strip()
    return word.startswith("/") and word[1:].split(" ", 1)[0].lower() in _QUIT_COMMANDS


def _describe_peer(
    kind: str, transport: asyncio.Transport, credentials: PeerCredentials | None
) -> str:
    if kind == "tcp":
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            return f"tcp {peer[0]}:{peer[1]}"
        return "tcp peer"
    return "unix peer" if credentials is None else f"unix pid {credentials.pid}"

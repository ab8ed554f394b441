"""One connection to the daemon: framing, handshake, input checks, heartbeats, flow control.

A ``Connection`` is the asyncio protocol of one accepted socket. Until its
handshake it is nobody: the first frame must be a ``Handshake`` with the
daemon's protocol version (and, over TCP, the token), within the handshake
timeout. Then the server spawns a ``RemoteSurface`` actor for it and
registers it with the registry. From then on the connection reads the
surface's input (answering ``Ping`` itself, forwarding what a surface may send
to the Conductor with its surface id stamped on) and is the ``FrameSink`` its
actor writes to.

Bad input never reaches the actors: a malformed or oversized frame, an
unknown type, a message before the handshake, or more messages than the rate
limit allows get a ``Refused`` frame naming the problem, are counted, and
close this connection only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import attrs

from aiway.actors.daemon.auth import PeerCredentials, check_peer, peer_credentials, token_matches
from aiway.actors.daemon.errors import FrameTooLarge
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
    from_wire,
)
from aiway.actors.protocol.framing import FrameDecoder
from aiway.actors.runtime import ActorRef

if TYPE_CHECKING:
    from aiway.actors.daemon.server import DaemonServer

log = logging.getLogger(__name__)

# What a surface may send on to the Conductor (its surface id is stamped on each).
FORWARDED: tuple[type, ...] = (UserMessage, UserCommand, Cancel, UserTyping, Resized)
_QUIT_COMMANDS = frozenset({"quit", "exit"})
# Seconds a closing connection gets to flush its last frames before it is cut.
CLOSE_GRACE = 2.0
_SURFACE_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class Connection(asyncio.Protocol):
    """One peer of the daemon, over a Unix socket (``kind`` "unix") or TCP ("tcp")."""

    def __init__(self, server: DaemonServer, kind: str) -> None:
        self.server = server
        self.kind = kind
        settings = server.settings
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder(settings.max_frame_bytes)
        self.bucket = TokenBucket(settings.input_rate, settings.input_burst, self.loop.time())
        self.last_received = self.loop.time()
        self.peer = kind
        self.surface_id: str | None = None
        self.ref: ActorRef | None = None
        self.closing = False
        self.close_reason = ""
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self._handshake_timer: asyncio.TimerHandle | None = None
        self._abort_timer: asyncio.TimerHandle | None = None

    # -- asyncio protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        high = self.server.settings.write_buffer_bytes
        transport.set_write_buffer_limits(high=high, low=high // 4)
        server = self.server
        credentials = None
        if self.kind == "unix":
            credentials = peer_credentials(transport.get_extra_info("socket"))
        self.peer = _describe_peer(self.kind, transport, credentials)
        server.opened(self)
        if server.closing:
            self.refuse(RefusalCode.STOPPING, "the daemon is stopping")
            return
        limit = server.settings.max_connections
        if len(server.connections) > limit:
            self.refuse(RefusalCode.BUSY, f"the daemon holds {limit} connections already")
            return
        if self.kind == "unix":
            problem = check_peer(credentials, server.uid)
            if problem is not None:
                self.refuse(RefusalCode.PEER, problem)
                return
        self._handshake_timer = self.loop.call_later(
            server.settings.handshake_timeout, self._handshake_overdue
        )

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            frames = self.decoder.feed(data)
        except FrameTooLarge as exc:
            self.refuse(RefusalCode.OVERSIZE, str(exc))
            return
        if not frames:
            return
        now = self.loop.time()
        self.last_received = now
        self.server.frames_in += len(frames)
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
        self.server.closed(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._release_writer()

    # -- FrameSink (the RemoteSurface actor writes here) -------------------------------

    def write_message(self, msg: object) -> None:
        """Write ``msg`` as one frame; dropped once the connection is closing."""
        transport = self.transport
        if self.closing or transport is None:
            return
        transport.write(self.server.encoder.encode(msg))
        self.server.frames_out += 1

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
        """Tell the peer why in a ``Refused`` frame, count it, and close this connection."""
        if self.closing:
            return
        self.server.count_refusal(code)
        log.warning("refused %s (%s): %s", self.surface_id or self.peer, code, reason)
        self.write_message(Refused(code, reason))
        self._close(f"refused ({code}): {reason}")

    def drop_dead(self, silent_for: float) -> None:
        """The peer sent nothing for too long: cut the connection at once, and count it."""
        if self.closing:
            return
        self.server.dead_peers += 1
        log.warning(
            "dropped %s: nothing received for %.1fs (heartbeats missed)",
            self.surface_id or self.peer,
            silent_for,
        )
        self.closing = True
        self.close_reason = "heartbeats missed"
        if self.transport is not None:
            self.transport.abort()

    def abort(self, reason: str) -> None:
        """Cut the connection now, dropping what is buffered."""
        self.closing = True
        self.close_reason = self.close_reason or reason
        if self.transport is not None:
            self.transport.abort()

    def _close(self, reason: str) -> None:
        if self.closing or self.transport is None:
            return
        self.closing = True
        self.close_reason = reason
        self._cancel_handshake_timer()
        self._release_writer()
        self.transport.close()
        self._abort_timer = self.loop.call_later(CLOSE_GRACE, self.transport.abort)

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
            timeout = self.server.settings.handshake_timeout
            self.refuse(RefusalCode.HANDSHAKE, f"no handshake within {timeout:g}s")

    # -- input ---------------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        try:
            msg = from_wire(frame)
        except ProtocolError as exc:
            self.refuse(RefusalCode.MALFORMED, str(exc))
            return
        except Exception as exc:  # the decoder's own bug must not take the daemon down
            log.exception("decoding a frame from %s failed", self.peer)
            self.refuse(RefusalCode.MALFORMED, f"undecodable frame ({type(exc).__name__})")
            return
        if self.surface_id is None:
            if type(msg) is Handshake:
                self._on_handshake(msg)
            else:
                self.refuse(
                    RefusalCode.HANDSHAKE,
                    f"the first message must be a Handshake, not {type(msg).__name__}",
                )
            return
        kind = type(msg)
        if kind is Ping:
            assert isinstance(msg, Ping)
            self.write_message(Pong(msg.nonce))
        elif kind is Pong:
            pass
        elif kind in FORWARDED:
            self._forward(msg)
        elif kind is QuitRequested:
            self._detach()
        elif kind is Handshake:
            self.refuse(RefusalCode.HANDSHAKE, "a second Handshake on one connection")
        else:
            self.refuse(
                RefusalCode.MALFORMED, f"{kind.__name__} is not a message a surface may send"
            )

    def _on_handshake(self, msg: Handshake) -> None:
        server = self.server
        if msg.protocol_version != PROTOCOL_VERSION:
            self.refuse(
                RefusalCode.VERSION,
                f"the daemon speaks protocol version {PROTOCOL_VERSION}, this surface "
                f"{msg.protocol_version}; run the same aiway version on both sides",
            )
            return
        expected = server.token
        if self.kind == "tcp" and (expected is None or not token_matches(msg.token, expected)):
            self.refuse(
                RefusalCode.TOKEN,
                "the token is missing or wrong; give this surface the daemon's token file "
                "(daemon.token_file)",
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
        server.attach(self, surface_type, msg.capabilities, msg.last_seq)

    def _forward(self, msg: Any) -> None:
        if (type(msg) is UserMessage and _is_quit(msg.text)) or (
            type(msg) is UserCommand and msg.command.lower().lstrip("/") in _QUIT_COMMANDS
        ):
            self._detach()
            return
        stamped = attrs.evolve(msg, surface_id=self.surface_id)
        if type(msg) is Resized and self.server.avatar is not None:
            self.server.avatar.tell(stamped)
        conductor = self.server.conductor
        if conductor is None:
            return
        if not conductor.tell(stamped).ok:
            log.warning("the Conductor refused %s from %s", type(msg).__name__, self.surface_id)

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

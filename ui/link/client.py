"""The client side of the daemon link: a transport any surface can use to attach to ``aiway serve``.

``DaemonLink`` owns one connection at a time and keeps it up::

    link = DaemonLink(address, surface_type="tui", capabilities=CAPS,
                      deliver=actor_sink(system, surface_ref), on_status=surface_ref.tell)
    await link.connect()          # the first attempt: raises DaemonUnavailable / LinkRefused
    link.send(UserMessage("hi"))  # never blocks
    ...
    await link.close()

Every message the daemon publishes is handed to ``deliver`` in order. When
``deliver`` returns an awaitable (the surface's mailbox is full), the link
awaits it before reading on, so the socket, then the daemon's outbox for this
surface, take the pressure. ``on_status`` hears every change of ``LinkState``
as a ``LinkStatus``: "connected", "reconnecting" (attempt, next delay, why)
and "closed". A lost connection is retried with exponential backoff and
jitter; the new handshake carries the last sequence number seen, and the
daemon answers with a ``StateSnapshot``, so the surface catches up whatever
it missed. Heartbeats go both ways: the link answers the daemon's ``Ping``,
sends its own, and gives up on a daemon that stays silent for
``heartbeat_misses`` intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import attrs

from aiway.actors.daemon import challenge
from aiway.actors.daemon.address import Address
from aiway.actors.daemon.auth import (
    check_daemon_peer,
    check_daemon_socket,
    default_token_path,
    read_token,
)
from aiway.actors.daemon.errors import DaemonUnavailable, FrameError, LinkRefused, UntrustedDaemon
from aiway.actors.protocol import (
    PROTOCOL_VERSION,
    Handshake,
    LinkState,
    LinkStatus,
    Ping,
    Pong,
    ProtocolError,
    Published,
    Quit,
    RefusalCode,
    Refused,
    StateSnapshot,
    Welcome,
    from_wire,
    to_wire,
)
from aiway.actors.protocol.converter import from_dict
from aiway.actors.protocol.framing import (
    CLIENT_FRAME_LIMIT,
    PRE_AUTH_FRAME_BYTES,
    FrameDecoder,
    encode_frame,
)
from aiway.actors.runtime import ActorRef, ActorSystem, Delivery
from aiway.config import Settings

log = logging.getLogger(__name__)

Deliver = Callable[[object], Awaitable[object] | None]
"""Takes one message from the daemon; an awaitable result means "wait before the next"."""

SEND_BUFFER_LIMIT = 1024 * 1024
"""Bytes a client lets wait for the daemon before it refuses more sends."""


@attrs.frozen(slots=True)
class Backoff:
    """Delays between reconnection attempts: doubling from ``initial`` up to ``maximum``.

    Each delay is drawn uniformly from the upper half of its step ("equal
    jitter"), so clients cut off together do not all come back together.
    """

    initial: float = 0.1
    maximum: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before attempt number ``attempt`` (1 for the first retry)."""
        step = min(self.maximum, self.initial * 2.0 ** min(attempt - 1, 60))
        return rng.uniform(step / 2, step)


@attrs.frozen(slots=True)
class LinkStats:
    """A link's counters at one moment."""

    frames_in: int
    """Frames read from the daemon."""
    frames_out: int
    """Frames written to the daemon."""
    connects: int
    """Successful handshakes (the first connection and every reconnection)."""
    dropped_sends: int
    """Messages ``send`` could not take (closed, or too many waiting)."""
    bad_frames: int
    """Frames from the daemon that did not decode (skipped)."""


class DaemonLink:
    """One surface's connection to the daemon, kept up; see the module docstring."""

    def __init__(
        self,
        address: Address,
        *,
        surface_type: str,
        capabilities: frozenset[str],
        deliver: Deliver,
        on_status: Callable[[LinkStatus], object] | None = None,
        token: str | None = None,
        max_frame_bytes: int = CLIENT_FRAME_LIMIT,
        heartbeat_misses: int = 3,
        backoff: Backoff | None = None,
        connect_timeout: float = 5.0,
        pending_limit: int = 64,
        rng: random.Random | None = None,
    ) -> None:
        self.address = address
        self.surface_type = surface_type
        self.capabilities = capabilities
        self.token = token
        self.max_frame_bytes = max_frame_bytes
        self.heartbeat_misses = heartbeat_misses
        #: None: never reconnect (the link closes with its first connection)
        self.backoff = backoff
        self.connect_timeout = connect_timeout
        self.pending_limit = pending_limit
        self._deliver = deliver
        self._on_status = on_status
        self._rng = rng or random.Random()
        self.state = LinkState.CLOSED
        #: the id the daemon gave this surface on its current (or last) connection
        self.surface_id: str | None = None
        #: the newest sequence number seen (sent in the next handshake)
        self.last_seq: int | None = None
        #: why the link closed for good (a refusal, or the daemon detached it)
        self.close_reason = ""
        self._connection: _Connection | None = None
        self._pending: deque[object] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self._final: str | None = None
        self._lost: str | None = None
        self._interval = 5.0
        self._beat: asyncio.TimerHandle | None = None
        self._nonce = 0
        self._frames_in = 0
        self._frames_out = 0
        self._connects = 0
        self._dropped = 0
        self._bad_frames = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        address: Address,
        *,
        surface_type: str,
        capabilities: frozenset[str],
        deliver: Deliver,
        on_status: Callable[[LinkStatus], object] | None = None,
        token: str | None = None,
    ) -> DaemonLink:
        """A link with the daemon settings' bounds (``token``: see ``token_for``)."""
        daemon = settings.daemon
        return cls(
            address,
            surface_type=surface_type,
            capabilities=capabilities,
            deliver=deliver,
            on_status=on_status,
            token=token,
            max_frame_bytes=max(daemon.max_frame_bytes, CLIENT_FRAME_LIMIT),
            heartbeat_misses=daemon.heartbeat_misses,
            backoff=Backoff(daemon.reconnect_initial, daemon.reconnect_max),
            connect_timeout=daemon.handshake_timeout,
        )

    # -- the API -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Make the first connection; afterwards the link keeps itself up until ``close``.

        Raises ``DaemonUnavailable`` when no daemon answers and ``LinkRefused``
        when it refuses this surface (bad token, another protocol version).
        """
        if self._task is not None:
            raise RuntimeError("connect() was already called on this link")
        self._closed.clear()
        self._set_state(LinkState.CONNECTING, "connecting")
        try:
            connection = await self._open()
        except (DaemonUnavailable, LinkRefused) as exc:
            self._final = str(exc)
            self.close_reason = str(exc)
            self._set_state(LinkState.CLOSED, str(exc))
            self._closed.set()
            raise
        self._set_state(LinkState.CONNECTED, f"connected as {self.surface_id}")
        self._flush_pending()
        connection.start_delivering()
        self._task = asyncio.get_running_loop().create_task(
            self._run(connection), name=f"daemon-link:{self.address}"
        )

    def send(self, msg: object) -> bool:
        """Send ``msg`` to the daemon without blocking.

        Connected: written now. (Re)connecting: up to ``pending_limit``
        messages wait and go out after the next handshake. Closed, or past
        that limit, or with ``SEND_BUFFER_LIMIT`` bytes already waiting on the
        socket: refused (False) and counted.
        """
        connection = self._connection
        if self.state is LinkState.CONNECTED and connection is not None:
            if connection.buffered() > SEND_BUFFER_LIMIT:
                self._dropped += 1
                return False
            connection.write(msg)
            return True
        if self.state is LinkState.CLOSED or len(self._pending) >= self.pending_limit:
            self._dropped += 1
            return False
        self._pending.append(msg)
        return True

    async def close(self) -> None:
        """Leave the daemon and stop reconnecting (idempotent); unsent messages are dropped."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_connection()
        if self.state is not LinkState.CLOSED:
            self.close_reason = self.close_reason or "closed"
            self._set_state(LinkState.CLOSED, "closed")
        self._closed.set()

    async def wait_closed(self) -> None:
        """Return once the link has closed for good (``close``, a refusal, or a detach)."""
        await self._closed.wait()

    @property
    def closed(self) -> bool:
        """True once the link has closed for good."""
        return self._closed.is_set()

    def stats(self) -> LinkStats:
        return LinkStats(
            frames_in=self._frames_in,
            frames_out=self._frames_out,
            connects=self._connects,
            dropped_sends=self._dropped,
            bad_frames=self._bad_frames,
        )

    # -- one connection ----------------------------------------------------------------

    async def _open(self) -> _Connection:
        """Connect and handshake; the connection (frames past the Welcome wait for its start).

        Nothing is sent to a peer that is not provably the daemon: a Unix
        socket must belong to this user and be listened on by this user's
        process; over TCP the daemon's challenge is answered and its proof
        checked before the Welcome is taken.
        """
        address = self.address
        loop = asyncio.get_running_loop()
        handshake = Handshake(
            self.surface_type, self.capabilities, PROTOCOL_VERSION, None, self.last_seq
        )
        if address.kind == "tcp" and self.token is None:
            raise LinkRefused(
                "token", f"{address} is TCP and this surface has no token file to answer with"
            )
        connection = _Connection(self, handshake, self.token if address.kind == "tcp" else None)
        uid = os.getuid()
        try:
            async with asyncio.timeout(self.connect_timeout):
                if address.kind == "unix":
                    assert address.path is not None
                    check_daemon_socket(address.path, uid)
                    transport, _ = await loop.create_unix_connection(
                        lambda: connection, str(address.path)
                    )
                    try:
                        check_daemon_peer(transport.get_extra_info("socket"), uid, str(address))
                    except UntrustedDaemon:
                        transport.abort()
                        raise
                    connection.write(handshake)
                else:
                    await loop.create_connection(lambda: connection, address.host, address.port)
        except (OSError, TimeoutError) as exc:
            why = "no answer in time" if isinstance(exc, TimeoutError) else _describe(exc)
            raise DaemonUnavailable(
                f"no aiway daemon at {address} ({why}); start one with `aiway serve`"
            ) from None
        try:
            async with asyncio.timeout(self.connect_timeout):
                welcome = await connection.welcome
        except BaseException as exc:
            await connection.close()
            if isinstance(exc, TimeoutError):
                raise DaemonUnavailable(
                    f"the daemon at {address} did not answer the handshake in time"
                ) from None
            raise
        self._connection = connection
        self.surface_id = welcome.surface_id
        self._interval = welcome.heartbeat_interval
        self._connects += 1
        return connection

    async def _pump(self, connection: _Connection) -> str:
        """Wait out one connection (its protocol delivers); why it ended."""
        self._lost = None
        self._schedule_beat()
        try:
            # shielded: cancelling the link (close) must not cancel the connection's own future
            return await asyncio.shield(connection.lost)
        finally:
            if self._beat is not None:
                self._beat.cancel()
                self._beat = None

    def _on_frame(self, frame: bytes) -> Awaitable[object] | None:
        """Handle one frame of a live connection; an awaitable means "read no more until done"."""
        self._frames_in += 1
        try:
            msg = from_wire(frame)
        except ProtocolError as exc:
            self._bad_frames += 1
            log.warning("skipped a bad frame from the daemon: %s", exc)
            return None
        match msg:
            case Published(seq=seq):
                self.last_seq = seq
            case StateSnapshot(last_seq=last_seq):
                self.last_seq = last_seq
            case Ping(nonce=nonce):
                if self._connection is not None:
                    self._connection.write(Pong(nonce))
                return None
            case Pong() | Welcome():
                return None
            case Refused(code=code, reason=reason):
                log.warning("the daemon dropped this surface (%s): %s", code, reason)
                if code in RefusalCode.PERMANENT:
                    self._final = f"the daemon refused this surface ({code}): {reason}"
                self._lost = f"the daemon dropped this surface ({code}): {reason}"
                return None
            case Quit(reason=reason):  # bare, not published: the daemon detached this surface
                self._final = reason or "the daemon detached this surface"
                return None
        return self._deliver(msg)

    # -- keeping it up -------------------------------------------------------------------

    async def _run(self, connection: _Connection) -> None:
        try:
            while True:
                reason = await self._pump(connection)
                await self._drop_connection()
                if self._final is not None or self.backoff is None or self._closing:
                    self.close_reason = self._final or reason
                    self._set_state(LinkState.CLOSED, self.close_reason)
                    return
                log.info("lost the daemon at %s: %s", self.address, reason)
                opened = await self._reconnect(reason)
                if opened is None:
                    return
                connection = opened
                self._set_state(LinkState.CONNECTED, f"reconnected as {self.surface_id}")
                self._flush_pending()
                connection.start_delivering()
        finally:
            self._closed.set()

    async def _reconnect(self, reason: str) -> _Connection | None:
        assert self.backoff is not None
        attempt = 0
        while True:
            attempt += 1
            delay = self.backoff.delay(attempt, self._rng)
            self._set_state(LinkState.RECONNECTING, reason, attempt=attempt, retry_in=delay)
            await asyncio.sleep(delay)
            try:
                return await self._open()
            except LinkRefused as exc:
                if exc.code in RefusalCode.PERMANENT:
                    self.close_reason = str(exc)
                    self._set_state(LinkState.CLOSED, str(exc))
                    return None
                reason = str(exc)
            except DaemonUnavailable as exc:  # UntrustedDaemon too: the real one may come back
                reason = str(exc)

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    def _flush_pending(self) -> None:
        connection = self._connection
        while self._pending and connection is not None:
            connection.write(self._pending.popleft())

    def _schedule_beat(self) -> None:
        self._beat = asyncio.get_running_loop().call_later(self._interval, self._heartbeat)

    def _heartbeat(self) -> None:
        self._beat = None
        connection = self._connection
        if connection is None:
            return
        silent = asyncio.get_running_loop().time() - connection.last_received
        if not connection.delivering and silent > self._interval * self.heartbeat_misses:
            self._lost = f"the daemon stopped answering ({silent:.1f}s without a frame)"
            log.warning("%s at %s", self._lost, self.address)
            connection.abort()
            return
        self._nonce += 1
        connection.write(Ping(self._nonce))
        self._schedule_beat()

    def _set_state(
        self, state: LinkState, detail: str, *, attempt: int = 0, retry_in: float | None = None
    ) -> None:
        self.state = state
        if self._on_status is not None:
            self._on_status(LinkStatus(state, str(self.address), detail, attempt, retry_in))


class _Connection(asyncio.Protocol):
    """One socket of a link: frames in (handed to the link), frames out.

    Until the Welcome it runs the handshake (``welcome``), taking one frame
    at a time and none over ``PRE_AUTH_FRAME_BYTES``: over TCP it answers the
    daemon's challenge and checks the daemon's proof. Then every frame goes
    to the link as it is read, in ``data_received``, with no task in between.
    When the link's surface has no room, reading pauses (the transport stops
    reading the socket) until it has, so the daemon's outbox for this surface
    takes the pressure. ``lost`` resolves with the reason the connection ended.
    """

    def __init__(self, link: DaemonLink, handshake: Handshake, token: str | None) -> None:
        loop = asyncio.get_running_loop()
        self.link = link
        self.handshake = handshake
        #: over TCP, the secret the challenge is answered with (None: a Unix socket)
        self.token = token
        self.decoder = FrameDecoder(PRE_AUTH_FRAME_BYTES)
        self.transport: asyncio.Transport | None = None
        self.welcome: asyncio.Future[Welcome] = loop.create_future()
        self.lost: asyncio.Future[str] = loop.create_future()
        self.last_received = loop.time()
        self.delivering = False
        self._live = False
        self._backlog: deque[bytes] = deque()
        self._nonces: tuple[str, str] | None = None
        self._proven = False

    # -- asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            while not self.welcome.done():
                frames = self.decoder.feed(data, 1)
                data = b""
                if not frames:
                    return
                self.link._frames_in += 1
                self._before_welcome(frames[0])
            if self.decoder.max_frame_bytes == PRE_AUTH_FRAME_BYTES:
                self.decoder.max_frame_bytes = self.link.max_frame_bytes
            frames = self.decoder.feed(data)
        except FrameError as exc:
            self._fail(f"the daemon broke the framing: {exc}")
            return
        self.last_received = asyncio.get_running_loop().time()
        if not frames:
            return
        if not self._live or self.delivering:
            self._backlog.extend(frames)
            return
        self._deliver_all(iter(frames))

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        link = self.link
        if exc is None:
            reason = link._lost or "the daemon closed the connection"
        else:
            reason = link._lost or f"the connection broke ({exc})"
        if not self.welcome.done():
            self.welcome.set_exception(
                DaemonUnavailable(f"the daemon at {link.address} closed the connection")
            )
            self.welcome.exception()  # retrieved: nobody may be awaiting it any more
        if not self.lost.done():
            self.lost.set_result(reason)

    # -- the handshake

    def _before_welcome(self, frame: bytes) -> None:
        address = self.link.address
        try:
            kind, data = challenge.frame_type(frame)
            if kind == challenge.CHALLENGE and self.token is not None and self._nonces is None:
                self._answer(challenge.read_challenge(data))
            elif kind == challenge.SERVER_PROOF and self._nonces is not None:
                self._check_proof(challenge.read_server_proof(data))
            elif kind == "Refused":
                msg = from_dict(data)
                assert isinstance(msg, Refused)
                self._settle(LinkRefused(msg.code, msg.reason))
            elif kind == "Welcome" and (self.token is None or self._proven):
                msg = from_dict(data)
                assert isinstance(msg, Welcome)
                if not self.welcome.done():
                    self.welcome.set_result(msg)
            elif kind == "Welcome":
                self._settle(
                    UntrustedDaemon(
                        f"the peer at {address} accepted this surface without proving it knows "
                        "the token: it is not your daemon"
                    )
                )
            else:
                self._settle(
                    DaemonUnavailable(f"the peer at {address} sent {kind!r:.40} before a Welcome")
                )
        except ProtocolError as exc:
            self._settle(
                DaemonUnavailable(f"the daemon at {address} sent a bad first frame: {exc}")
            )

    def _answer(self, server_nonce: str) -> None:
        assert self.token is not None
        client_nonce = challenge.new_nonce()
        self._nonces = (server_nonce, client_nonce)
        proof = challenge.client_proof(self.token, server_nonce, client_nonce)
        self.write(attrs.evolve(self.handshake, token=challenge.pack_response(client_nonce, proof)))

    def _check_proof(self, given: str) -> None:
        assert self.token is not None and self._nonces is not None
        expected = challenge.server_proof(self.token, *self._nonces)
        if challenge.proofs_match(given, expected):
            self._proven = True
            return
        self._settle(
            UntrustedDaemon(
                f"the peer at {self.link.address} could not prove it knows the token: it is not "
                "your daemon (another process on that port?)"
            )
        )

    def _settle(self, error: Exception) -> None:
        """The handshake failed: ``connect`` raises ``error``; the socket is cut."""
        if not self.welcome.done():
            self.welcome.set_exception(error)
            self.welcome.exception()  # retrieved: whoever awaits it still gets it
        self.abort()

    def start_delivering(self) -> None:
        """The link adopted this connection: hand it what came after the Welcome."""
        self._live = True
        if self._backlog and not self.delivering:
            self._resume(None)

    # -- delivering

    def _deliver_all(self, frames: Iterator[bytes]) -> None:
        on_frame = self.link._on_frame
        for frame in frames:
            pending = on_frame(frame)
            if pending is not None:
                self._backlog.extend(frames)
                self._wait(pending)
                return

    def _wait(self, pending: Awaitable[object]) -> None:
        """The surface is full: stop reading until ``pending`` (its room) comes."""
        self.delivering = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        asyncio.ensure_future(pending).add_done_callback(self._resume)

    def _resume(self, _: object) -> None:
        self.delivering = False
        if self.lost.done():
            self._backlog.clear()
            return
        on_frame = self.link._on_frame
        backlog = self._backlog
        while backlog:
            pending = on_frame(backlog.popleft())
            if pending is not None:
                self._wait(pending)
                return
        transport = self.transport
        if transport is not None and not transport.is_closing() and not transport.is_reading():
            transport.resume_reading()

    # -- writing and closing

    def write(self, msg: object) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(encode_frame(to_wire(msg)))
            self.link._frames_out += 1

    def buffered(self) -> int:
        """Bytes waiting to be written to the daemon."""
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, reason: str) -> None:
        self.link._lost = reason
        self.abort()

    async def close(self) -> None:
        """Close and wait (briefly) until the transport has let go."""
        transport = self.transport
        if transport is None:
            return
        if not transport.is_closing():
            transport.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), 2.0)
        except TimeoutError:
            transport.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.lost), 1.0)


def token_for(settings: Settings, address: Address) -> str | None:
    """The token a surface presents at ``address``: the token file's for TCP, else None.

    Reads the file (blocking, small): call it before the loop or in a thread.
    Raises ``TokenFileError`` when the file is missing or open to others.
    """
    if address.kind != "tcp":
        return None
    daemon = settings.daemon
    path = daemon.token_file
    if path is None:
        if daemon.socket_path is None:
            return None
        path = default_token_path(daemon.socket_path)
    return read_token(path)


def actor_sink(system: ActorSystem, ref: ActorRef) -> Deliver:
    """A ``deliver`` for a link that feeds a surface actor; a full mailbox pauses the link."""

    def deliver(msg: object) -> Awaitable[object] | None:
        if ref.tell(msg) is Delivery.REJECTED:
            return system.put(ref, msg, None)
        return None

    return deliver


class MessageQueue:
    """A bounded queue usable as a link's ``deliver``, read with ``async for``.

    While it is full the link stops reading. ``end()`` makes the iteration
    stop once what is queued has been read.
    """

    _END = object()

    def __init__(self, maxsize: int = 1024) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize)

    def __call__(self, msg: object) -> Awaitable[object] | None:
        try:
            self._queue.put_nowait(msg)
        except asyncio.QueueFull:
            return self._queue.put(msg)
        return None

    def end(self) -> None:
        """No more messages will come (the iteration ends after the queued ones)."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(self._END)

    async def get(self) -> object:
        """The next message (waits for it)."""
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[object]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[object]:
        while (msg := await self._queue.get()) is not self._END:
            yield msg


def _describe(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__

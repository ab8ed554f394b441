"""The daemon's listeners: accept surfaces, attach them as actors, keep them honest, stop cleanly.

``DaemonServer`` serves one session (its registry and Conductor) on a Unix
socket, and on TCP when asked. Each accepted socket gets a ``Connection``;
each connection that completes its handshake gets a ``RemoteSurface`` actor,
registered with the registry like a local surface. One heartbeat timer for
all connections sends ``Ping`` every interval and drops a peer that has sent
nothing for ``heartbeat_misses`` intervals; it runs only while surfaces are
attached, so an idle daemon with nobody attached has no wake-ups at all.

``stop`` stops listening, asks the Conductor to quit (the answer in flight is
cancelled and every surface is told ``Quit``), gives connections a bounded
time to write that out, then cuts the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

import attrs

from aiway.actors.daemon.address import Address
from aiway.actors.daemon.auth import check_peer
from aiway.actors.daemon.connection import Connection, ConnectionLimits, LinkCounters
from aiway.actors.daemon.remote_surface import RemoteSurface
from aiway.actors.protocol import (
    Capability,
    Handshake,
    Ping,
    Quit,
    QuitRequested,
    RefusalCode,
    Refused,
    Resized,
)
from aiway.actors.protocol.framing import FrameEncoder
from aiway.actors.registry import RegisterSurface, UnregisterSurface
from aiway.actors.runtime import ActorRef, ActorSystem, MailboxConfig, OverflowPolicy
from aiway.config import DaemonSettings

log = logging.getLogger(__name__)


@attrs.frozen(slots=True)
class DaemonStats:
    """The daemon's connection counters at one moment."""

    accepted: int
    """Connections accepted since start."""
    active: int
    """Connections open now (attached or still in their handshake)."""
    attached: int
    """Connections that completed a handshake and have a surface actor now."""
    refused: tuple[tuple[str, int], ...]
    """Refusals and bad-input drops by ``RefusalCode``, sorted by code."""
    dead_peers: int
    """Connections dropped because their peer stopped answering heartbeats."""
    frames_in: int
    """Frames read from every connection."""
    frames_out: int
    """Frames written to every connection."""

    def refusals(self, code: str) -> int:
        """How many connections were refused or dropped with ``code``."""
        return dict(self.refused).get(code, 0)


class DaemonServer:
    """Listens for surfaces and attaches them to one session's registry and Conductor.

    It is the ``ConnectionHost`` of every connection it accepts. Slots: a TCP
    peer that has not authenticated holds one of ``max_unauthenticated`` slots
    for at most ``unauthenticated_timeout`` seconds; authenticated TCP
    surfaces share ``max_connections``; the owner's Unix-socket surfaces
    (same uid by ``SO_PEERCRED``) have ``max_connections`` of their own, which
    nothing from TCP can take.
    """

    def __init__(
        self,
        system: ActorSystem,
        settings: DaemonSettings,
        *,
        registry: ActorRef,
        conductor: ActorRef | None,
        surface_capacity: int,
        token: str | None = None,
        avatar: ActorRef | None = None,
    ) -> None:
        self.system = system
        self.loop = system.loop
        self.settings = settings
        self.registry = registry
        self.conductor = conductor
        #: told the surfaces' ``Resized`` too (it keeps to the area it is drawn in)
        self.avatar = avatar
        self.surface_capacity = surface_capacity
        #: the secret TCP peers prove they know (replace it to rotate; new handshakes use it)
        self.secret = token
        self.uid = os.getuid()
        self.encoder = FrameEncoder()
        self.counters = LinkCounters()
        self.connections: set[Connection] = set()
        self.closing = False
        self.addresses: list[Address] = []
        self.accepted = 0
        self._limits = {
            "unix": _limits(settings, settings.handshake_timeout),
            "tcp": _limits(
                settings, min(settings.handshake_timeout, settings.unauthenticated_timeout)
            ),
        }
        self._refs: dict[Connection, ActorRef] = {}
        self._unix: set[Connection] = set()
        self._tcp_pending: set[Connection] = set()
        self._tcp_attached = 0
        self._serial = 0
        self._nonce = 0
        self._servers: list[asyncio.Server] = []
        self._beat: asyncio.TimerHandle | None = None
        self._all_closed = asyncio.Event()
        self._all_closed.set()

    # -- listening ---------------------------------------------------------------------

    async def listen_unix(self, sock: socket.socket) -> Address:
        """Serve on a bound, listening Unix socket (see ``claim_socket``); it is ours to close."""
        server = await self.loop.create_unix_server(lambda: self._connection("unix"), sock=sock)
        self._servers.append(server)
        address = Address.unix(sock.getsockname())
        self.addresses.append(address)
        return address

    async def listen_tcp(self, host: str, port: int) -> Address:
        """Serve on TCP (port 0 picks a free one); peers must answer the token's challenge."""
        if self.secret is None:
            raise ValueError("a TCP listener needs a token")
        server = await self.loop.create_server(
            lambda: self._connection("tcp"), host, port, reuse_address=True
        )
        self._servers.append(server)
        bound = server.sockets[0].getsockname()
        address = Address.tcp(str(bound[0]), int(bound[1]))
        self.addresses.append(address)
        return address

    def _connection(self, kind: str) -> Connection:
        return Connection(self, kind, self._limits[kind], self.counters, self.encoder.encode)

    # -- ConnectionHost ------------------------------------------------------------------

    def admit(self, conn: Connection) -> Refused | None:
        """Count ``conn`` in and give it a slot of its kind, or say why not."""
        self.accepted += 1
        self.connections.add(conn)
        self._all_closed.clear()
        if self.closing:
            return Refused(RefusalCode.STOPPING, "the daemon is stopping")
        limit = self.settings.max_connections
        if conn.kind == "unix":
            problem = check_peer(conn.credentials, self.uid)
            if problem is not None:
                return Refused(RefusalCode.PEER, problem)
            if len(self._unix) >= limit:
                return Refused(
                    RefusalCode.BUSY, f"the daemon holds {limit} of your surfaces already"
                )
            self._unix.add(conn)
            return None
        pending = self.settings.max_unauthenticated
        if len(self._tcp_pending) >= pending:
            return Refused(
                RefusalCode.BUSY, f"{pending} TCP peers are already authenticating; try again"
            )
        if self._tcp_attached >= limit:
            return Refused(RefusalCode.BUSY, f"the daemon holds {limit} TCP surfaces already")
        self._tcp_pending.add(conn)
        return None

    def token(self) -> str | None:
        return self.secret

    def attach(self, conn: Connection, handshake: Handshake) -> str:
        """The handshake passed: spawn the surface actor and register it; its id."""
        if conn in self._tcp_pending:
            self._tcp_pending.discard(conn)
            self._tcp_attached += 1
        self._serial += 1
        surface_id = f"{handshake.surface_type}-{self._serial}"
        ref = self.system.spawn(
            f"surface:{surface_id}",
            lambda: RemoteSurface(conn),
            mailbox=MailboxConfig(capacity=self.surface_capacity, policy=OverflowPolicy.REJECT),
        )
        self._refs[conn] = ref
        # The registry answers every registration with a StateSnapshot, so a surface
        # resuming after ``last_seq`` is always brought up to date, whatever the gap. The
        # connection writes its Welcome before the actor runs, so the Welcome comes first.
        self.registry.tell(
            RegisterSurface(
                surface_id, ref, handshake.surface_type, handshake.capabilities & Capability.ALL
            )
        )
        last_seq = handshake.last_seq
        log.info(
            "surface %s attached from %s%s",
            surface_id,
            conn.peer,
            "" if last_seq is None else f" (resuming after seq {last_seq})",
        )
        if self._beat is None:
            self._schedule_beat()
        return surface_id

    def forward(self, conn: Connection, msg: object) -> None:
        if type(msg) is Resized and self.avatar is not None:
            self.avatar.tell(msg)
        conductor = self.conductor
        if conductor is None:
            return
        if not conductor.tell(msg).ok:
            log.warning("the Conductor refused %s from %s", type(msg).__name__, conn.surface_id)

    def closed(self, conn: Connection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        self._unix.discard(conn)
        ref = self._refs.pop(conn, None)
        if conn in self._tcp_pending:
            self._tcp_pending.discard(conn)
        elif conn.kind == "tcp" and ref is not None:
            self._tcp_attached -= 1
        if ref is not None:
            self.registry.tell(UnregisterSurface(conn.surface_id or "", conn.close_reason))
            self.system.stop_actor(ref)
            log.info("surface %s detached: %s", conn.surface_id, conn.close_reason)
        if not self.connections:
            self._all_closed.set()

    # -- heartbeats ----------------------------------------------------------------------

    def _schedule_beat(self) -> None:
        self._beat = self.loop.call_later(self.settings.heartbeat_interval, self._heartbeat)

    def _heartbeat(self) -> None:
        self._beat = None
        now = self.loop.time()
        limit = self.settings.heartbeat_interval * self.settings.heartbeat_misses
        self._nonce += 1
        ping = Ping(self._nonce)
        for conn in list(self.connections):
            if conn.surface_id is None or conn.closing:
                continue
            silent = now - conn.last_received
            if silent > limit:
                conn.drop_dead(silent)
            else:
                conn.write_message(ping)
        if self._refs and not self.closing:
            self._schedule_beat()

    # -- observing and stopping ------------------------------------------------------------

    def stats(self) -> DaemonStats:
        counters = self.counters
        return DaemonStats(
            accepted=self.accepted,
            active=len(self.connections),
            attached=len(self._refs),
            refused=tuple(sorted(counters.refused.items())),
            dead_peers=counters.dead_peers,
            frames_in=counters.frames_in,
            frames_out=counters.frames_out,
        )

    async def stop(self, timeout: float = 3.0) -> None:
        """Stop listening, tell every surface ``Quit``, close within ``timeout`` seconds."""
        if self.closing:
            return
        self.closing = True
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            if conn.surface_id is None:
                conn.refuse("stopping", "the daemon is stopping")
        if self._refs:
            # The Conductor cancels the answer in flight and publishes Quit; each
            # remote surface writes it and closes its connection.
            if self.conductor is not None and self.conductor.alive:
                self.conductor.tell(QuitRequested("daemon"))
            else:
                self.registry.tell(Quit("the daemon is stopping"))
        try:
            await asyncio.wait_for(self._all_closed.wait(), timeout)
        except TimeoutError:
            log.warning("%d connections did not close in time; cutting them", len(self.connections))
            for conn in list(self.connections):
                conn.abort("the daemon stopped")
            with contextlib.suppress(TimeoutError):  # connection_lost follows an abort at once
                await asyncio.wait_for(self._all_closed.wait(), 1.0)
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


def _limits(settings: DaemonSettings, handshake_timeout: float) -> ConnectionLimits:
    return ConnectionLimits(
        max_frame_bytes=settings.max_frame_bytes,
        input_rate=settings.input_rate,
        input_burst=settings.input_burst,
        handshake_timeout=handshake_timeout,
        write_buffer_bytes=settings.write_buffer_bytes,
        heartbeat_interval=settings.heartbeat_interval,
    )

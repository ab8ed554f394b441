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
from aiway.actors.daemon.connection import Connection
from aiway.actors.daemon.remote_surface import RemoteSurface
from aiway.actors.protocol import PROTOCOL_VERSION, Capability, Ping, Quit, QuitRequested, Welcome
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
    """Listens for surfaces and attaches them to one session's registry and Conductor."""

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
        self.token = token
        self.uid = os.getuid()
        self.encoder = FrameEncoder()
        self.connections: set[Connection] = set()
        self.closing = False
        self.addresses: list[Address] = []
        self.accepted = 0
        self.dead_peers = 0
        self.frames_in = 0
        self.frames_out = 0
        self._refused: dict[str, int] = {}
        self._attached = 0
        self._serial = 0
        self._nonce = 0
        self._servers: list[asyncio.Server] = []
        self._beat: asyncio.TimerHandle | None = None
        self._all_closed = asyncio.Event()
        self._all_closed.set()

    # -- listening ---------------------------------------------------------------------

    async def listen_unix(self, sock: socket.socket) -> Address:
        """Serve on a bound, listening Unix socket (see ``claim_socket``); it is ours to close."""
        server = await self.loop.create_unix_server(lambda: Connection(self, "unix"), sock=sock)
        self._servers.append(server)
        address = Address.unix(sock.getsockname())
        self.addresses.append(address)
        return address

    async def listen_tcp(self, host: str, port: int) -> Address:
        """Serve on TCP (port 0 picks a free one); peers must present the token."""
        if self.token is None:
            raise ValueError("a TCP listener needs a token")
        server = await self.loop.create_server(
            lambda: Connection(self, "tcp"), host, port, reuse_address=True
        )
        self._servers.append(server)
        bound = server.sockets[0].getsockname()
        address = Address.tcp(str(bound[0]), int(bound[1]))
        self.addresses.append(address)
        return address

    # -- connections (called by Connection) ----------------------------------------------

    def opened(self, conn: Connection) -> None:
        self.accepted += 1
        self.connections.add(conn)
        self._all_closed.clear()

    def attach(
        self,
        conn: Connection,
        surface_type: str,
        capabilities: frozenset[str],
        last_seq: int | None,
    ) -> None:
        """The handshake passed: spawn the surface actor, welcome the peer, register it."""
        self._serial += 1
        surface_id = f"{surface_type}-{self._serial}"
        ref = self.system.spawn(
            f"surface:{surface_id}",
            lambda: RemoteSurface(conn),
            mailbox=MailboxConfig(capacity=self.surface_capacity, policy=OverflowPolicy.REJECT),
        )
        conn.surface_id = surface_id
        conn.ref = ref
        self._attached += 1
        conn.write_message(Welcome(surface_id, self.settings.heartbeat_interval, PROTOCOL_VERSION))
        # The registry answers every registration with a StateSnapshot, so a surface
        # resuming after ``last_seq`` is always brought up to date, whatever the gap.
        self.registry.tell(
            RegisterSurface(surface_id, ref, surface_type, capabilities & Capability.ALL)
        )
        log.info(
            "surface %s attached from %s%s",
            surface_id,
            conn.peer,
            "" if last_seq is None else f" (resuming after seq {last_seq})",
        )
        if self._beat is None:
            self._schedule_beat()

    def closed(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn.ref is not None:
            self._attached -= 1
            self.registry.tell(UnregisterSurface(conn.surface_id or "", conn.close_reason))
            self.system.stop_actor(conn.ref)
            log.info("surface %s detached: %s", conn.surface_id, conn.close_reason)
        if not self.connections:
            self._all_closed.set()

    def count_refusal(self, code: str) -> None:
        self._refused[code] = self._refused.get(code, 0) + 1

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
        if self._attached and not self.closing:
            self._schedule_beat()

    # -- observing and stopping ------------------------------------------------------------

    def stats(self) -> DaemonStats:
        return DaemonStats(
            accepted=self.accepted,
            active=len(self.connections),
            attached=self._attached,
            refused=tuple(sorted(self._refused.items())),
            dead_peers=self.dead_peers,
            frames_in=self.frames_in,
            frames_out=self.frames_out,
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
        if self._attached:
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

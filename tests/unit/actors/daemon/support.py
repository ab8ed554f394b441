"""An in-process daemon (real registry, real sockets, a stand-in Conductor) and a raw peer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from aiway.actors.daemon import challenge
from aiway.actors.daemon.server import DaemonServer
from aiway.actors.daemon.socketfile import SocketClaim, claim_socket
from aiway.actors.protocol import (
    Capability,
    Handshake,
    Quit,
    QuitRequested,
    Welcome,
    from_wire,
    to_wire,
)
from aiway.actors.protocol.framing import FrameDecoder, encode_frame
from aiway.actors.registry import GetSurfaceStats, SurfaceRegistry, SurfaceStats
from aiway.actors.runtime import ActorRef, ActorSystem, Behaviour, Context, MailboxConfig, handles
from aiway.config import DaemonSettings

CAPS = frozenset({Capability.STREAMING, Capability.TASKS})


class StandInConductor(Behaviour):
    """Keeps what surfaces send; answers QuitRequested like the Conductor (publishes Quit)."""

    def __init__(self, registry: ActorRef) -> None:
        self.registry = registry
        self.got: list[object] = []

    @handles(QuitRequested)
    def on_quit(self, ctx: Context, msg: QuitRequested) -> None:
        self.got.append(msg)
        ctx.tell(self.registry, Quit("quit requested"))

    @handles(object)
    def on_any(self, ctx: Context, msg: object) -> None:
        self.got.append(msg)


class Daemon:
    """A DaemonServer over a real SurfaceRegistry on a Unix socket in ``tmp_path``."""

    def __init__(self, tmp_path: Path, *, surface_capacity: int = 64, **settings: Any) -> None:
        self.path = tmp_path / "run" / "aiway.sock"
        self.settings = attrs.evolve(DaemonSettings(), **settings)
        self.surface_capacity = surface_capacity
        self.system: ActorSystem
        self.registry: ActorRef
        self.conductor: StandInConductor
        self.server: DaemonServer
        self.claim: SocketClaim

    async def start(self, token: str | None = None) -> Daemon:
        self.system = ActorSystem()
        conductor_ref = self.system.reserve("conductor")
        self.registry = self.system.spawn(
            "registry",
            lambda: SurfaceRegistry(conductor=conductor_ref),
            mailbox=MailboxConfig(capacity=4096),
        )
        self.conductor = StandInConductor(self.registry)
        conductor = self.conductor
        self.system.spawn("conductor", lambda: conductor)
        self.server = DaemonServer(
            self.system,
            self.settings,
            registry=self.registry,
            conductor=conductor_ref,
            surface_capacity=self.surface_capacity,
            token=token,
        )
        self.claim = claim_socket(self.path)
        await self.server.listen_unix(self.claim.take_socket())
        return self

    async def stop(self) -> None:
        await self.server.stop(timeout=2.0)
        self.claim.release()
        await self.system.stop()

    async def surface_stats(self) -> tuple[SurfaceStats, ...]:
        stats: tuple[SurfaceStats, ...] = await self.system.ask(self.registry, GetSurfaceStats, 2.0)
        return stats

    async def peer(self) -> Peer:
        reader, writer = await asyncio.open_unix_connection(str(self.path))
        return Peer(reader, writer)


class Peer:
    """A raw client: writes frames, reads and decodes them, nothing else."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder(64 * 1024 * 1024)
        self.inbox: list[object] = []
        self.got: list[object] = []

    def send(self, msg: object) -> None:
        self.writer.write(encode_frame(to_wire(msg)))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def handshake(self, **fields: Any) -> Welcome:
        self.send(Handshake(**{"surface_type": "test", "capabilities": CAPS, **fields}))
        welcome = await self.next()
        assert isinstance(welcome, Welcome), welcome
        return welcome

    async def next(self, timeout: float = 5.0) -> object | None:
        """The next message, or None at the end of the stream."""
        async with asyncio.timeout(timeout):
            while not self.inbox:
                data = await self.reader.read(65536)
                if not data:
                    return None
                self.inbox += [decode_frame(frame) for frame in self.decoder.feed(data)]
        msg = self.inbox.pop(0)
        self.got.append(msg)
        return msg

    async def tcp_handshake(self, token: str, **fields: Any) -> Welcome:
        """Answer the daemon's challenge with ``token``; the Welcome after its proof is checked."""
        opening = await self.next()
        assert isinstance(opening, dict) and opening["type"] == challenge.CHALLENGE, opening
        server_nonce = challenge.read_challenge(opening)
        client_nonce = challenge.new_nonce()
        proof = challenge.client_proof(token, server_nonce, client_nonce)
        response = challenge.pack_response(client_nonce, proof)
        self.send(
            Handshake(**{"surface_type": "test", "capabilities": CAPS, **fields}, token=response)
        )
        answer = await self.next()
        assert isinstance(answer, dict) and answer["type"] == challenge.SERVER_PROOF, answer
        expected = challenge.server_proof(token, server_nonce, client_nonce)
        assert challenge.read_server_proof(answer) == expected
        welcome = await self.next()
        assert isinstance(welcome, Welcome), welcome
        return welcome

    async def until(self, wanted: Callable[[object], bool], timeout: float = 5.0) -> object:
        """Read until a message ``wanted`` accepts; fails at the end of the stream."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.next(timeout)
                if msg is None:
                    raise AssertionError(f"the stream ended; got {self.got[-5:]}")
                if wanted(msg):
                    return msg

    async def rest(self, timeout: float = 5.0) -> list[object]:
        """Everything up to the end of the stream."""
        found: list[object] = []
        while (msg := await self.next(timeout)) is not None:
            found.append(msg)
        return found

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def decode_frame(frame: bytes) -> object:
    """A message, or the JSON object of an authentication frame (the converter has no class)."""
    kind, data = challenge.frame_type(frame)
    if kind in (challenge.CHALLENGE, challenge.SERVER_PROOF):
        return data
    return from_wire(frame)

"""The model where the hardware is: ``aiway member --backend ...`` runs the stream manager.

``aiway member --capability model --backend embedded`` (or ``--backend ollama
--ollama-host URL``) makes this process a member of the convention that runs
the model: it chooses its backend from its own settings (``--backend``,
``--ollama-host``, ``--model``), opens a Thespian system with an event loop
beside it (a ``ThespianHost``), runs a ``MemberStreams`` actor (the stream
manager with that backend) on the loop, declares it to the convention
(``ThespianHost.offer``: its address, backend and model) and only then joins
the leader, so the leader sees it with its first registration. A leader
started with ``--require model`` places its core on a member offering that,
finds the stream manager there, and tells it which Conductor to stream to
(``ServeConductor``); the tokens then go from the member's backend to the
Conductor, and on to the surfaces on the leader's side.

``run_model_member`` holds the member until SIGTERM or SIGINT, then stops it
(its Thespian system with every actor placed on it) within a bound.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections import OrderedDict

import attrs

from aiway.actors.backends.base import Backend, OnText
from aiway.actors.backends.selection import Selection, select_backend
from aiway.actors.errors import AiwayError, BackendError
from aiway.actors.protocol.conductor import ResponseMetadata
from aiway.actors.protocol.stream import ChatTurn, StartStream, StreamFailed
from aiway.actors.runtime import (
    ActorRef,
    ActorSystem,
    Behaviour,
    Context,
    MailboxConfig,
    handles,
)
from aiway.actors.runtime.thespian.config import ThespianConfig
from aiway.actors.runtime.thespian.host import ModelMember, ThespianHost
from aiway.actors.stream_manager import StreamManager
from aiway.config.settings import Settings

__all__ = [
    "RELAY",
    "STREAMS",
    "MemberStreams",
    "ModelOnMember",
    "ModelRelay",
    "ServeConductor",
    "run_model_member",
    "session_backend",
]

log = logging.getLogger(__name__)

#: the stream manager's name, on the leader and on the member
STREAMS = "streams"
#: the leader's relay to the member's stream manager (``ModelRelay``)
RELAY = "streams-relay"
#: bound on stopping the member after a signal
STOP_TIMEOUT = 10.0
#: streams the relay remembers, to fail them when the model's member goes away
OPEN_STREAMS = 64


@attrs.frozen(slots=True)
class ServeConductor:
    """Leader -> a member's stream manager: stream the answers to this Conductor."""

    conductor: ActorRef


@attrs.define
class _Binding:
    """The Conductor the member streams to; kept outside the actor, so a restarted stream
    manager still knows it."""

    conductor: ActorRef


class MemberStreams(StreamManager):
    """A stream manager on a member: the leader names its Conductor (``ServeConductor``)."""

    def __init__(self, binding: _Binding, backend: Backend, *, max_streams: int) -> None:
        super().__init__(backend, binding.conductor, max_streams=max_streams)
        self.binding = binding

    @handles(ServeConductor)
    def on_serve(self, ctx: Context, msg: ServeConductor) -> None:
        self.binding.conductor = self.conductor = msg.conductor
        log.info("streaming answers to %s", msg.conductor.name)


@attrs.frozen(slots=True)
class ModelGone:
    """Session -> relay: the model's member went away (``reason``); fail the streams it
    had, and, with ``replaced`` False, refuse new ones until ``ModelBack``."""

    reason: str
    replaced: bool


@attrs.frozen(slots=True)
class ModelBack:
    """Session -> relay: a member serves the model again; stream there."""


class ModelRelay(Behaviour):
    """On the leader, in front of the member's stream manager: what the Conductor tells
    "the stream manager" comes here and goes on to the member.

    The tokens go from the member straight to the Conductor; only the requests pass
    here (``StartStream``, cancels, ``ServeConductor``, model lists), so the leader
    knows which answers wait on the member. When the member goes away while the core
    runs elsewhere (two members, the core on one and the model on the other), the
    leader hears it (the convention's members change) and the relay ends each of those
    answers with ``StreamFailed`` saying so; until a member serves the model again, a
    new answer is refused at once with the reason instead of waiting forever.
    """

    def __init__(self, streams: ActorRef, conductor: ActorRef | None) -> None:
        self.streams = streams
        self.conductor = conductor
        self.open: OrderedDict[str, str] = OrderedDict()
        #: why no member serves the model now (None: one does)
        self.missing: str | None = None

    @handles(StartStream)
    def on_start_stream(self, ctx: Context, msg: StartStream) -> None:
        if self.missing is not None:
            self._fail(ctx, msg.request_id, msg.model, self.missing)
            return
        self.open[msg.request_id] = msg.model
        while len(self.open) > OPEN_STREAMS:
            self.open.popitem(last=False)
        ctx.tell(self.streams, msg)

    @handles(ServeConductor)
    def on_serve(self, ctx: Context, msg: ServeConductor) -> None:
        self.conductor = msg.conductor
        ctx.tell(self.streams, msg)

    @handles(ModelGone)
    def on_gone(self, ctx: Context, msg: ModelGone) -> None:
        opened, self.open = self.open, OrderedDict()
        for request_id, model in opened.items():
            self._fail(ctx, request_id, model, msg.reason)
        if not msg.replaced:
            self.missing = msg.reason

    @handles(ModelBack)
    def on_back(self, ctx: Context, msg: ModelBack) -> None:
        self.missing = None

    def on_unhandled(self, ctx: Context, msg: object) -> None:
        ctx.tell(self.streams, msg)

    def _fail(self, ctx: Context, request_id: str, model: str, reason: str) -> None:
        """Tell the Conductor that the stream ``request_id`` cannot go on (it ignores an
        id that is not its answer in flight)."""
        if self.conductor is not None:
            metadata = ResponseMetadata(model=model, done_reason="error")
            ctx.tell(self.conductor, StreamFailed(request_id, reason, metadata))


class ModelOnMember:
    """The backend of a session whose model runs on a member: the leader's stand-in.

    It answers nothing itself (the member's stream manager does, at ``streams``);
    it names the member's backend and model for the Conductor and the surfaces.
    """

    def __init__(self, host: ThespianHost, member: ModelMember, streams: ActorRef) -> None:
        self.host = host
        self.member = member
        #: what the session tells "the stream manager": the relay (``ModelRelay``)
        self.streams = host.spawn(
            RELAY,
            lambda: ModelRelay(streams, None),
            mailbox=MailboxConfig(capacity=1024),
        )
        #: why no member serves the model now, else None
        self.missing: str | None = None
        self._conductor: ActorRef | None = None
        host.member_listeners.append(self._members_changed)

    def rebind(self, conductor: ActorRef) -> None:
        """The core was placed again: follow the model to a member that still serves it
        (every ref to the stream manager follows), and name the new Conductor there."""
        self._conductor = conductor
        self._follow()
        self.streams.tell(ServeConductor(conductor))

    def _follow(self) -> bool:
        """Point the stream manager's refs at a member that serves the model now (the
        one in use while it is there); False when none does."""
        if self.host.serves(self.member):
            return True
        member = self.host.model_member()
        if member is None:
            return False
        self.member = member
        self.host.relocate(STREAMS, member.address)
        return True

    def _members_changed(self) -> None:
        """The convention changed: when the model's member left, end the answers waiting on
        it and stream on another member that serves the model (or refuse until one does)."""
        if self.missing is None:
            if self.host.serves(self.member):
                return
            where = self.member.where.rsplit(":", 1)[0]
            lost = f"the member at {where} running the model ({self.member.model}) went away"
            if self._follow():
                where = self.member.where.rsplit(":", 1)[0]
                self.streams.tell(ModelGone(f"{lost}; it runs on {where} now", replaced=True))
                self._serve()
            else:
                self.missing = (
                    f"{lost}, and no member of the convention serves the model: start one "
                    f"(aiway member --capability ... --backend ...) and the next answer "
                    f"streams there"
                )
                self.streams.tell(ModelGone(self.missing, replaced=False))
        elif self._follow():
            self.missing = None
            self.streams.tell(ModelBack())
            self._serve()

    def _serve(self) -> None:
        """Name the Conductor to the stream manager the refs point at now."""
        conductor = self._conductor or self.host.lookup("conductor")
        if conductor is not None:
            self.streams.tell(ServeConductor(conductor))

    @property
    def name(self) -> str:
        return self.member.backend

    async def stream(
        self, model: str, messages: tuple[ChatTurn, ...], on_text: OnText
    ) -> ResponseMetadata:
        raise BackendError(
            f"the model runs on the member at {self.member.where}, not here",
            "send StartStream to its stream manager",
        )

    async def list_models(self) -> list[str]:
        return [self.member.model]

    async def close(self) -> None:
        """Nothing to release here: the member closes its own backend."""


async def session_backend(settings: Settings, system: ActorSystem | None) -> Selection:
    """The backend a session uses: the model on a member of the convention when one
    serves it (a ``ThespianHost`` with ``require``; see ``ThespianHost.model_member``),
    else the one ``select_backend`` picks here."""
    if isinstance(system, ThespianHost):
        member = system.model_member()
        if member is not None:
            streams = system.remote_actor(STREAMS, member.address)
            where = member.where.rsplit(":", 1)[0]
            reason = f"on the member at {where}" + (f": {member.reason}" if member.reason else "")
            return Selection(ModelOnMember(system, member, streams), member.model, reason)
    return await select_backend(settings)


async def serve_model(settings: Settings, config: ThespianConfig, stop: asyncio.Event) -> int:
    """Run the member with the model until ``stop`` is set; the exit code."""
    try:
        selection = await select_backend(settings)
    except BackendError as exc:
        print(f"member: {exc.describe()}", file=sys.stderr)
        return 2
    backend = selection.backend
    convention = config.convention
    host = ThespianHost(attrs.evolve(config, convention=None))
    try:
        try:
            await host.start(wait_for_placement=False)
        except (AiwayError, ValueError, TimeoutError) as exc:
            print(f"member: {exc}", file=sys.stderr)
            return 2
        binding = _Binding(host.reserve("conductor"))
        streams = host.spawn(
            STREAMS,
            lambda: MemberStreams(
                binding, backend, max_streams=settings.conversation.concurrent_streams
            ),
            mailbox=MailboxConfig(capacity=settings.mailbox.default_capacity),
        )
        details = {
            "backend": backend.name,
            "model": selection.model,
            "reason": selection.reason,
        }
        await host.offer(streams, details)
        if convention is not None:
            await host.join(convention)
        offers = ", ".join(config.thespian_capabilities().keys() - {"Admin Port"}) or "nothing"
        print(
            f"member: Thespian admin on {config.ip_address}:{config.admin_port}"
            f" (convention {convention or 'led by this system'}; offers {offers}); "
            f"the model: {selection.model} on {backend.name}",
            flush=True,
        )
        ended = asyncio.ensure_future(host.stopped.wait())
        signalled = asyncio.ensure_future(stop.wait())
        await asyncio.wait((ended, signalled), return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        signalled.cancel()
        return 0
    finally:
        await host.stop(STOP_TIMEOUT / 2)
        try:
            await asyncio.wait_for(backend.close(), STOP_TIMEOUT / 2)
        except TimeoutError:
            log.warning("the %s backend did not close in time", backend.name)


async def _main(settings: Settings, config: ThespianConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        code = await serve_model(settings, config, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if code == 0:
        print("member: stopped", flush=True)
    return code


def run_model_member(settings: Settings, config: ThespianConfig) -> int:
    """``aiway member`` with a backend: run it in the foreground until SIGTERM or SIGINT."""
    return asyncio.run(_main(settings, config))

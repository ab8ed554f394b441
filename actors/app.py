"""The assembled assistant: one session's actors on the asyncio host.

``Assistant.start`` spawns the registry, the avatar, the stream manager (with
its backend) and the Conductor, wired as docs/ARCHITECTURE.md draws them; surfaces attach
with ``attach``. Every mailbox bound comes from the settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from aiway.actors.avatar import Avatar
from aiway.actors.backends.base import Backend
from aiway.actors.commands import NO_CONVENTION
from aiway.actors.conductor import Conductor, ConductorSettings, PlacedAgain
from aiway.actors.model_member import ModelOnMember, ServeConductor
from aiway.actors.protocol import (
    AvatarSize,
    Capability,
    ListMembers,
    MemberList,
    Message,
    Metrics,
    Notify,
    NotifyLevel,
    Published,
    Role,
    SetSize,
    StateSnapshot,
    StreamEnd,
    StreamError,
    Token,
)
from aiway.actors.registry import RegisterSurface, SurfaceRegistry, UnregisterSurface
from aiway.actors.runtime import (
    ActorRef,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    Behaviour,
    Context,
    MailboxConfig,
    OverflowPolicy,
    SupervisorPolicy,
    handles,
)
from aiway.actors.runtime.spec import BehaviourSpec
from aiway.actors.store import (
    STORE_CAPABILITIES,
    STORE_CAPACITY,
    STORE_SURFACE,
    OpenedHistory,
    ResumeSession,
    Settle,
    StoreError,
    resume_message,
    store_factory,
)
from aiway.actors.stream_manager import CancelAllStreams, StreamManager
from aiway.config import Settings

log = logging.getLogger(__name__)

#: how long a core placed anew waits for the history to hand over its queued writes
SETTLE_TIMEOUT = 5.0


class CoreMoved(Protocol):
    """What a host whose core can move tells the session (``ThespianHost.core_listeners``)."""

    kind: str
    text: str


class Whereabouts(Behaviour):
    """In the session's own process: says where the session's actors run (``/members``),
    as the host sees it; the Conductor asks it wherever the Conductor runs."""

    def __init__(self, describe: Callable[[], list[str]]) -> None:
        self.describe = describe

    @handles(ListMembers)
    def on_list(self, ctx: Context, msg: ListMembers) -> None:
        ctx.tell(msg.reply_to, MemberList(tuple(self.describe())))


def whereabouts(system: ActorSystem, backend: Backend) -> list[str]:
    """The convention's members and where each of the session's actors runs, as lines; on
    the asyncio host, the one line that says there is no convention."""
    describe = getattr(system, "whereabouts", None)
    if describe is None:
        return [NO_CONVENTION]
    lines: list[str] = describe()
    here = getattr(system, "where", "this process")
    if isinstance(backend, ModelOnMember):
        member = backend.member
        model = f"{member.model} on {member.backend}"
        lines.append(f"  streams (the model, {model}): on {member.where} (member)")
    else:
        lines.append(f"  streams (the model, on {backend.name}): in this process ({here})")
    lines.append(f"  surfaces: in this process ({here})")
    return lines


class InFlight(Behaviour):
    """On a host whose core can move: follows the answer streaming on the surfaces (its id
    and text so far), so the session can end it by its id when the core is lost with it."""

    def __init__(self) -> None:
        self.message_id = ""
        self.pieces: list[str] = []

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        match msg.message:
            case Message(role=Role.ASSISTANT, id=message_id):
                # the answer opens (before its first token: a core lost then ends it too)
                if message_id != self.message_id:
                    self.message_id, self.pieces = message_id, []
            case Token(message_id=message_id, text=text):
                if message_id != self.message_id:
                    self.message_id, self.pieces = message_id, []
                self.pieces.append(text)
            case StreamEnd(message_id=message_id) | StreamError(message_id=message_id):
                if message_id == self.message_id:
                    self.end()

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        """Registered (again): an answer streaming now goes on from what the snapshot holds."""
        if msg.streaming is not None:
            self.message_id, self.pieces = msg.streaming.id, [msg.streaming.content]

    def end(self) -> tuple[str, str]:
        """The answer in flight (id, text so far), forgotten; ``("", "")`` when none."""
        answer = (self.message_id, "".join(self.pieces))
        self.message_id, self.pieces = "", []
        return answer


class Assistant:
    """Handles on a running session: refs to its actors, and the system that hosts them."""

    def __init__(
        self,
        system: ActorSystem,
        settings: Settings,
        *,
        registry: ActorRef,
        conductor: ActorRef,
        stream_manager: ActorRef,
        avatar: ActorRef | None,
        backend: Backend,
    ) -> None:
        self.system = system
        self.settings = settings
        self.registry = registry
        self.conductor = conductor
        self.stream_manager = stream_manager
        self.avatar = avatar
        self.backend = backend
        #: the history this session is saved to, or None (``history`` of ``start``)
        self.history: OpenedHistory | None = None
        #: the surfaces attached here, registered again with a core placed anew
        self._surfaces: dict[str, tuple[ActorRef, RegisterSurface]] = {}
        self._reseeding: set[asyncio.Task[None]] = set()
        #: how many times the core was placed again (``PlacedAgain``)
        self.placements = 0
        #: the answer in flight, followed where the core can move (``InFlight``)
        self.in_flight: InFlight | None = None
        listeners = getattr(system, "core_listeners", None)
        if listeners is not None:  # a Thespian host: the core can lose its member
            listeners.append(self._core_moved)
            watcher = self.in_flight = InFlight()
            self.attach(
                "in-flight",
                lambda: watcher,
                surface_type="watch",
                capabilities=frozenset({Capability.STREAMING}),
            )

    @classmethod
    def start(
        cls,
        settings: Settings,
        backend: Backend,
        *,
        model: str,
        backend_reason: str = "",
        system_prompt: str = "",
        session_id: str = "local",
        system: ActorSystem | None = None,
        history: OpenedHistory | None = None,
    ) -> Assistant:
        """Spawn every actor of a session (inside a running loop).

        With ``history`` (from ``open_history``) the session is saved by a Store
        actor, under the history's session id, continuing what it resumed.
        """
        system = system or ActorSystem()
        store: ActorRef | None = None
        resumed: ResumeSession | None = None
        if history is not None:
            session_id = history.session_id
            store = system.reserve(f"surface:{STORE_SURFACE}")
            if history.resumed is not None:
                resumed = resume_message(history.resumed)
        boxes = settings.mailbox
        sup = settings.supervision
        policy = SupervisorPolicy(
            max_restarts=sup.max_restarts,
            window_seconds=sup.restart_window,
            backoff_initial=sup.backoff_initial,
            backoff_max=sup.backoff_max,
        )
        default_box = MailboxConfig(capacity=boxes.default_capacity)
        # Actors that talk in a cycle are wired through reserved refs. Behaviours are
        # BehaviourSpecs, so a ThespianHost can start them in another process.
        conductor_ref = system.reserve("conductor")
        avatar: ActorRef | None = system.reserve("avatar") if settings.avatar.enabled else None
        registry = system.spawn(
            "registry",
            BehaviourSpec.of(
                SurfaceRegistry,
                conductor=conductor_ref,
                avatar=avatar,
                history_limit=min(settings.conversation.history_limit, 1000),
            ),
            mailbox=MailboxConfig(capacity=boxes.conductor_capacity),
            policy=policy,
        )
        if settings.avatar.enabled:
            avatar = system.spawn(
                "avatar",
                BehaviourSpec.of(
                    Avatar,
                    registry=registry,
                    reduce_motion=settings.avatar.reduce_motion,
                    fps=settings.avatar.fps,
                ),
                mailbox=default_box,
                policy=policy,
            )
            if settings.avatar.size != "medium":
                avatar.tell(SetSize(AvatarSize(settings.avatar.size)))
        if isinstance(backend, ModelOnMember):  # the stream manager runs on that member
            stream_manager = backend.streams
        else:
            stream_manager = system.spawn(
                "streams",
                lambda: StreamManager(
                    backend,
                    conductor_ref,
                    max_streams=settings.conversation.concurrent_streams,
                ),
                mailbox=default_box,
                policy=policy,
            )
        conductor_settings = ConductorSettings(
            model=model,
            backend=backend.name,
            backend_reason=backend_reason,
            system_prompt=system_prompt,
            session_id=session_id,
            context_messages=settings.conversation.context_messages,
            history_limit=settings.conversation.history_limit,
            max_queued=settings.conversation.max_queued,
            max_message_bytes=settings.conversation.max_message_bytes,
            max_answer_bytes=settings.conversation.max_answer_bytes,
            max_commands=settings.tags.max_commands,
            max_active_tasks=settings.tags.max_active_tasks,
            max_tasks=settings.tags.max_tasks,
            finished_task_ttl=settings.tags.finished_task_ttl,
        )
        agents = {**_default_agents(), **dict(settings.tags.extra_agents)}
        whereabouts_ref = system.spawn(
            "whereabouts",
            lambda: Whereabouts(lambda: whereabouts(system, backend)),
            mailbox=default_box,
        )
        conductor = system.spawn(
            "conductor",
            BehaviourSpec.of(
                Conductor,
                settings=conductor_settings,
                registry=registry,
                stream_manager=stream_manager,
                avatar=avatar,
                agents=agents,
                store=store,
                resumed=resumed,
                whereabouts=whereabouts_ref,
            ),
            mailbox=MailboxConfig(capacity=boxes.conductor_capacity),
            policy=policy,
        )
        system.failure_listeners.append(registry)
        if isinstance(backend, ModelOnMember):
            stream_manager.tell(ServeConductor(conductor))
        assistant = cls(
            system,
            settings,
            registry=registry,
            conductor=conductor,
            stream_manager=stream_manager,
            avatar=avatar,
            backend=backend,
        )
        if history is not None:
            assistant.history = history
            make_store = store_factory(
                history,
                registry=registry,
                conductor=conductor,
                model=model,
                system_prompt=system_prompt,
            )
            assistant.attach(
                STORE_SURFACE,
                make_store,
                surface_type="store",
                capabilities=STORE_CAPABILITIES,
                capacity=STORE_CAPACITY,
            )
        return assistant

    def attach(
        self,
        surface_id: str,
        factory: Callable[[], Behaviour],
        *,
        surface_type: str,
        capabilities: frozenset[str],
        capacity: int | None = None,
    ) -> ActorRef:
        """Spawn a surface actor with its own bounded outbox and register it."""
        ref = self.system.spawn(
            f"surface:{surface_id}",
            factory,
            mailbox=MailboxConfig(
                capacity=capacity or self.settings.mailbox.surface_capacity,
                policy=OverflowPolicy.REJECT,
            ),
        )
        registration = RegisterSurface(surface_id, ref, surface_type, capabilities)
        self._surfaces[surface_id] = (ref, registration)
        self.registry.tell(registration)
        return ref

    def detach(self, surface_id: str) -> None:
        """Unregister a surface (its actor stops with the system or by itself)."""
        self._surfaces.pop(surface_id, None)
        self.registry.tell(UnregisterSurface(surface_id))

    def _core_moved(self, event: CoreMoved) -> None:
        """The core's member went away (Thespian host): tell the surfaces here directly
        (the registry went with it); once the core runs again, give it the conversation
        saved so far, then register the surfaces with it.

        The streams of the lost Conductor are cancelled at once (the new one would take
        their text for its own answers); the new Conductor learns its generation before
        any prompt reaches it, so its ids never repeat the lost one's."""
        if event.kind == "lost":
            self.stream_manager.tell(CancelAllStreams())
        if event.kind == "placed":
            self.placements += 1
            self.conductor.tell(PlacedAgain(self.placements))
        if event.kind == "placed" and isinstance(self.backend, ModelOnMember):
            self.backend.rebind(self.conductor)
        if event.kind == "placed" and self.history is not None:
            # the new Conductor starts from the session's start: seed it before any prompt
            task = self.system.loop.create_task(self._reseed(self.history, event))
            self._reseeding.add(task)
            task.add_done_callback(self._reseeding.discard)
            return
        self._tell_surfaces(event)

    def _tell_surfaces(self, event: CoreMoved) -> None:
        if event.kind == "lost":
            told: object = Notify(NotifyLevel.WARNING, "core", event.text)
        else:  # the answer cut with the core ends by its own id, with what it had shown
            message_id, partial = self.in_flight.end() if self.in_flight else ("", "")
            told = StreamError(message_id, event.text, partial)
        for surface_id, (ref, registration) in self._surfaces.items():
            if event.kind == "placed":
                self.registry.tell(registration)
            if surface_id != STORE_SURFACE:  # it keeps what the conductor said, nothing else
                ref.tell(Published(0, told))

    async def _reseed(self, history: OpenedHistory, event: CoreMoved) -> None:
        """Seed a core placed anew with the conversation as saved so far, then tell the
        surfaces it runs again (so their next prompt finds it seeded).

        The Store first hands over what it has queued (it writes a few milliseconds
        late, in groups): the conversation loaded after that includes its last turn.
        """
        store = self._surfaces.get(STORE_SURFACE)
        if store is not None:
            try:
                await self.system.ask(store[0], Settle, SETTLE_TIMEOUT)
            except (AskTimeout, ActorStopped) as exc:
                log.warning("the history did not settle before the new core was seeded: %s", exc)
        try:
            loaded = await history.store.load_session(
                history.session_id, tail=history.resume_messages
            )
        except StoreError as exc:
            log.warning("the conversation could not be carried to the new core: %s", exc)
        else:
            self.conductor.tell(resume_message(loaded))
        self._tell_surfaces(event)

    def publish_metrics(self, dropped_tags: int = 0) -> None:
        """Publish a ``Metrics`` snapshot of every mailbox to surfaces that show metrics."""
        self.registry.tell(Metrics(self.system.metrics(), self.system.dead_letters, dropped_tags))

    def notify(self, level: NotifyLevel, title: str, text: str) -> None:
        """Publish a notice from outside the actors (loading progress, for example)."""
        self.registry.tell(Notify(level, title, text))

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop every actor gracefully, then close the backend (and finish saving the history)."""
        await self.system.stop(timeout)
        if self.history is not None:
            await self.history.store.close()
        try:
            await asyncio.wait_for(self.backend.close(), timeout)
        except TimeoutError:
            log.warning("the %s backend did not close within %ss", self.backend.name, timeout)


def _default_agents() -> dict[str, str]:
    from aiway.actors.tasks import DEFAULT_AGENTS

    return dict(DEFAULT_AGENTS)

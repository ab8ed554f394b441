"""The Thespian host: behaviours as Thespian actors, edge actors on asyncio, one bridge.

``ThespianHost`` is an ``ActorSystem`` (the asyncio host) that places
behaviours given as a ``BehaviourSpec`` on a Thespian actor system instead:
``spawn("conductor", BehaviourSpec.of(Conductor, ...))`` creates a Thespian
cell (see ``cell``) and returns a ref that tells it through the bridge. Edge
actors and plain factories (surfaces, the stream manager with its backend)
stay on this process's event loop, as before. So ``Assistant.start(...,
system=host)`` runs the Conductor, the registry and the avatar on Thespian
and the I/O here, with the same refs and the same messages.

The Thespian system is ``simpleSystemBase`` (in this process, on the driver
thread), ``multiprocQueueBase`` (one process per actor, this machine) or
``multiprocTCPBase`` (processes on several machines: an admin port, and the
convention leader's address). ``require`` places the core on a system of the
convention that declares those capabilities (Thespian's
``actorSystemCapabilityCheck``), for example one that has the model.

What it cannot promise as the asyncio host does is listed in docs/RUNTIME.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from thespian.actors import ActorExitRequest

from aiway.actors.runtime.behaviour import Behaviour
from aiway.actors.runtime.errors import ActorStopped, AskTimeout, DuplicateActorName
from aiway.actors.runtime.mailbox import Delivery, MailboxConfig, MailboxStats
from aiway.actors.runtime.messages import ActorFailed
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.spec import BehaviourSpec
from aiway.actors.runtime.supervision import SupervisorPolicy
from aiway.actors.runtime.system import ActorSystem, ReplyTarget
from aiway.actors.runtime.thespian import control as c
from aiway.actors.runtime.thespian.bridge import PENDING, Bridge
from aiway.actors.runtime.thespian.config import (
    CellCounters,
    SystemHandle,
    ThespianConfig,
    open_system,
)
from aiway.actors.runtime.thespian.control import RemoteTarget
from aiway.actors.runtime.thespian.staging import BridgeStats
from aiway.actors.runtime.thespian.wire import decode_plain, encode_plain, encode_spec

log = logging.getLogger(__name__)

#: the capability a member declares when an actor of its aiway process (the stream manager
#: and its backend) serves the convention: a dict with the actor's ``address`` and what
#: the leader needs to know of it (``backend``, ``model``, ``reason``)
STREAMS_CAPABILITY = "aiway.streams"


@attrs.frozen(slots=True)
class ModelMember:
    """A member of the convention whose aiway process runs the model (``aiway member
    --backend ...``): its stream manager and backend serve the leader's session."""

    where: str
    """The member's admin (``host:port``)."""
    address: object
    """The Thespian address of its aiway process's listener, where its stream manager is."""
    backend: str
    """Its backend's name (``ollama``, ``embedded``)."""
    model: str
    """The model it answers with."""
    reason: str
    """Why that backend (as ``select_backend`` said on the member)."""


@attrs.frozen(slots=True)
class CoreEvent:
    """What became of the core's cells on a member of the convention (``core_listeners``)."""

    kind: str
    """``lost`` (its member went away), ``unplaced`` (no system can host it now) or
    ``placed`` (every lost cell runs again)."""
    where: str
    """The member's address (``host:port``) the cells were lost on or now run on."""
    names: tuple[str, ...]
    """The cells concerned."""
    text: str
    """What to tell the person, in one sentence."""


class ThespianHost(ActorSystem):
    """The asyncio host plus a Thespian system for behaviours given as ``BehaviourSpec``.

    Create it in a running loop, ``await start()``, then use it as an
    ``ActorSystem``. ``stop`` stops the Thespian cells (gracefully, newest
    first), then the local actors, then the system (unless
    ``shutdown_system`` is False) and the bridge's threads.
    """

    def __init__(
        self,
        config: ThespianConfig | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._remote_dead = 0
        super().__init__(loop=loop, clock=clock)
        self.config = config or ThespianConfig()
        self.bridge = Bridge(
            self,
            lambda: open_system(self.config),
            in_process=self.config.in_process,
            call_timeout=self.config.call_timeout,
            watch=self.config.shutdown_system,
            heartbeat=self.config.heartbeat(),
        )
        #: top-level Thespian cells by name, in start order
        self.remote: dict[str, ActorRef] = {}
        #: every Thespian cell the guardian announced: name -> pid
        self.directory: dict[str, int] = {}
        #: where each announced cell listens (``host:port`` of its Thespian address)
        self.cell_addresses: dict[str, str] = {}
        self.remote_stats: tuple[MailboxStats, ...] = ()
        #: what each cell counted as a sender, as of the last ``refresh_metrics``
        self.cell_counters: tuple[CellCounters, ...] = ()
        #: the other systems of the convention: admin address -> capabilities
        self.members: dict[str, dict[str, Any]] = {}
        self._stats_waiters: dict[int, asyncio.Future[c.StatsReport]] = {}
        self._asks: dict[str, set[asyncio.Future[Any]]] = {}
        self._members_changed = asyncio.Event()
        #: called on the loop whenever the convention's members change (one joined or left):
        #: a session whose model runs on a member follows it (``model_member.ModelOnMember``)
        self.member_listeners: list[Callable[[], None]] = []
        #: called on the loop when the core's cells are lost with a member, cannot be
        #: placed, or run again (``CoreEvent``); the session tells its surfaces
        self.core_listeners: list[Callable[[CoreEvent], None]] = []
        #: why the core is not running right now (its member went away), else None
        self.core_problem: str | None = None
        self._lost: dict[str, str] = {}
        self._started = False
        self._closing = False
        #: why the core cannot run here (a cell that could not be created anywhere), or None;
        #: the host stops itself when it is set, so a session ends instead of waiting forever
        self.failure: str | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, *, wait_for_placement: bool = True) -> None:
        """Open the Thespian system and the bridge (the blocking part runs on the driver thread).

        With ``require``, also wait until a system of the convention offers it
        (``wait_for_placement``; pass False to start members first, then call it).
        """
        await asyncio.wait_for(self.bridge.start(), self.config.call_timeout + 10.0)
        self._started = True
        log.info(
            "Thespian host on %s (admin port %s, convention %s): guardian pid %d, session %d",
            self.config.base,
            self.config.admin_port,
            self.config.convention or "none",
            self.bridge.guardian_pid,
            self.bridge.session,
        )
        if wait_for_placement:
            await self.wait_for_placement()

    async def wait_for_placement(self) -> None:
        """Wait (up to ``call_timeout``) until some system offers ``require``.

        Raises ``TimeoutError`` naming what is missing. A member must join after
        this system's admin is up: Thespian retries a failed registration only
        every few minutes.
        """
        wanted = self.config.requirements()
        if wanted and not _offers(self.config.thespian_capabilities(), wanted):
            try:
                await asyncio.wait_for(self._placeable(wanted), self.config.call_timeout)
            except TimeoutError:
                names = ", ".join(f"{k}={v}" for k, v in wanted.items())
                raise TimeoutError(
                    f"no system of the convention offers {names} after "
                    f"{self.config.call_timeout}s; start one with that capability that "
                    f"joins this convention"
                ) from None

    async def _placeable(self, wanted: Mapping[str, Any]) -> None:
        while not any(_offers(caps, wanted) for caps in self.members.values()):
            self._members_changed.clear()
            await self._members_changed.wait()

    @property
    def session(self) -> int:
        """The session id of the Thespian system's processes (multiproc bases), for cleanup."""
        return self.bridge.session

    def close_system(self, system: SystemHandle) -> None:
        """Driver thread, last (the bridge calls it): end our actors, and the system when we
        own it."""
        try:
            if self.config.shutdown_system:
                system.shutdown()
            else:
                system.tell(self.bridge.guardian, ActorExitRequest())
        except Exception:
            log.exception("closing the Thespian system failed")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the Thespian cells, then the local actors, then the Thespian system."""
        if self._closing:
            await self.stopped.wait()
            return
        self._closing = True
        deadline = self.loop.time() + timeout
        if self._started and not self.bridge.closed:
            token = self.bridge.token()
            guardian = self.bridge.guardian

            def stop_all(system: SystemHandle) -> None:
                self.bridge.ask(system, guardian, c.StopAll(token), c.AllStopped, timeout)

            try:
                await asyncio.wait_for(self.bridge.call(stop_all), timeout + 1.0)
            except (TimeoutError, RuntimeError) as exc:
                log.warning("the Thespian cells did not stop in time (%s); ending them", exc)
        await super().stop(max(deadline - self.loop.time(), 0.1))
        await self.bridge.close(timeout)

    # -- actors of other aiway processes of the convention -----------------------------------

    async def offer(self, ref: ActorRef, details: Mapping[str, object]) -> None:
        """Serve the local actor ``ref`` to the convention: export it at this process's
        listener and declare ``STREAMS_CAPABILITY`` with its address and ``details``.

        Call it before ``join``: a leader reads a member's capabilities when it joins.
        """
        self._require_started()
        self.bridge.exports[ref.name] = ref
        value = {**details, "address": self.bridge.address}
        await self.bridge.call(lambda system: system.updateCapability(STREAMS_CAPABILITY, value))

    async def join(self, convention: str) -> None:
        """Join the convention led by the admin at ``host:port`` now (a system opened
        without one), with every capability declared so far."""
        self._require_started()
        host, _, port = convention.rpartition(":")
        leader = (host, int(port))
        await self.bridge.call(
            lambda system: system.updateCapability("Convention Address.IPv4", leader)
        )

    def model_member(self) -> ModelMember | None:
        """A member that serves a stream manager, or None; only with ``require`` (the
        leader asked for a member). One that also offers what the core requires comes
        first (the core may run there, beside the model), then one that does not (the
        core runs on another member); the first by address among equals."""
        wanted = self.config.requirements()
        if not wanted:
            return None
        found: list[tuple[bool, str, ModelMember]] = []
        for where, capabilities in self.members.items():
            offer = capabilities.get(STREAMS_CAPABILITY)
            if not isinstance(offer, dict):
                continue
            address = offer.get("address")
            if address is None or not self.bridge.reachable(address):
                continue
            member = ModelMember(
                _where(where),
                address,
                str(offer.get("backend", "")),
                str(offer.get("model", "")),
                str(offer.get("reason", "")),
            )
            found.append((not _offers(capabilities, wanted), where, member))
        return min(found, key=lambda entry: entry[:2])[2] if found else None

    def serves(self, member: ModelMember) -> bool:
        """True while ``member`` is in the convention and serves its stream manager at the
        same address (a member restarted at the same place serves at another)."""
        for where, capabilities in self.members.items():
            if _where(where) != member.where:
                continue
            offer = capabilities.get(STREAMS_CAPABILITY)
            return (
                isinstance(offer, dict)
                and offer.get("address") == member.address
                and self.bridge.reachable(member.address)
            )
        return False

    def remote_actor(self, name: str, address: object) -> ActorRef:
        """A ref to the actor ``name`` of another aiway process of the convention, at its
        listener's ``address`` (a member's stream manager)."""
        self._require_started()
        target = self.bridge.proxy(name, address)
        target.address = address
        return ActorRef(name, target, self._dead_letter)

    def relocate(self, name: str, address: object) -> None:
        """The actor ``name`` of another aiway process is now the one at ``address``: point
        the refs here and in every Thespian cell there (a core placed anew after its
        member went away holds the refs of its first start)."""
        target = self.bridge.proxy(name, address)
        target.address = address
        cells = [self.bridge.proxies[n] for n in self.directory if n in self.bridge.proxies]
        update = c.Directory(name, address)

        def tell(system: SystemHandle) -> None:
            for cell in cells:
                _tell_if(system, cell.address, update)

        self.bridge.submit(tell)

    # -- placing actors -------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        *,
        mailbox: MailboxConfig | None = None,
        policy: SupervisorPolicy | None = None,
    ) -> ActorRef:
        """A ``BehaviourSpec`` of a behaviour starts on Thespian; anything else here."""
        if name in self.remote:
            raise DuplicateActorName(f"a Thespian cell named {name!r} is already running")
        if isinstance(factory, BehaviourSpec) and not factory.edge:
            return self._spawn_remote(name, factory, mailbox, policy)
        return super().spawn(name, factory, mailbox=mailbox, policy=policy)

    def _remote_ref(self, name: str) -> ActorRef:
        """Create the cell (on the driver) and point a ref at it: a reserved one if any."""
        self._require_started()
        target = self.bridge.proxy(name, PENDING)
        ref = self._reserved.pop(name, None)
        if ref is None:
            ref = ActorRef(name, target, self._dead_letter)
        else:
            ref._attach(target)
        self.remote[name] = ref
        bridge = self.bridge
        requirements = self.config.requirements()

        def create(system: SystemHandle) -> None:
            token = bridge.token()
            try:
                created = bridge.ask(
                    system,
                    bridge.guardian,
                    c.Create(token, name, requirements),
                    c.Created,
                    self.config.call_timeout,
                )
            except TimeoutError as exc:
                created = c.Created(token, None, 0, str(exc))
            target.address = created.address
            if created.address is None:
                failure = ActorFailed(
                    actor=name,
                    error=f"CreateFailed: {created.error}",
                    traceback="",
                    action="stop",
                    restarts=0,
                )
                self.loop.call_soon_threadsafe(self._report_failure, failure)
                self.loop.call_soon_threadsafe(self._cannot_run, name, created.error)

        bridge.submit(create)
        return ref

    def _spawn_remote(
        self,
        name: str,
        spec: BehaviourSpec,
        mailbox: MailboxConfig | None,
        policy: SupervisorPolicy | None,
    ) -> ActorRef:
        if name in self._cells:
            raise DuplicateActorName(f"an actor named {name!r} is already running")
        ref = self._remote_ref(name)
        target = ref._target
        assert isinstance(target, RemoteTarget)
        bridge = self.bridge
        in_process = self.config.in_process

        def launch(system: SystemHandle) -> None:
            if target.address is None:
                return  # creating it failed, and was reported
            data, refs = encode_spec(spec, bridge)
            start = c.Start(
                name,
                spec=data,
                spec_refs=refs,
                local_factory=None,
                mailbox=None if mailbox is None else encode_plain(mailbox),
                policy=encode_plain(policy or SupervisorPolicy()),
                in_process=in_process,
            )
            system.tell(bridge.guardian, c.Launch(start))

        # Launched on the next loop turn: the refs in its spec may be reserved for actors
        # spawned later in this same turn (``Assistant.start`` wires a cycle so); by then
        # each is attached, here or on Thespian, and encodes to the right address.
        self.loop.call_soon(bridge.submit, launch)
        return ref

    def _cannot_run(self, name: str, error: str | None) -> None:
        """Loop side: a top-level cell could not be created: nothing can answer, so stop.

        Its failure listeners may be cells that were not created either, so the
        reason is kept in ``failure`` for whoever started the host to report.
        """
        if self.failure is None:
            self.failure = (
                f"the core actor {name!r} could not be created on the Thespian system"
                f"{' of the convention' if self.config.require else ''}: {error}"
            )
            log.error("%s; stopping", self.failure)
        if not self._closing:
            self.loop.create_task(self.stop())

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("await ThespianHost.start() before spawning on it")

    def lookup(self, name: str) -> ActorRef | None:
        """A running actor's ref: local, or a Thespian cell the guardian announced."""
        local = super().lookup(name)
        if local is not None:
            return local
        ref = self.remote.get(name)
        if ref is not None:
            return ref if ref._target is not None and _alive(ref) else None
        target = self.bridge.proxies.get(name)
        if target is None or target.address is None:
            return None
        return ActorRef(name, target, self._dead_letter)

    def stop_actor(self, ref: ActorRef) -> None:
        """Stop one actor now (a Thespian cell: its queued messages become dead letters)."""
        target = ref._target
        if isinstance(target, RemoteTarget):
            self.bridge.submit(lambda system: _tell_if(system, target.address, c.StopNow()))
            return
        super().stop_actor(ref)

    def names(self) -> tuple[str, ...]:
        """Local actors in start order, then Thespian cells."""
        return super().names() + tuple(n for n in self.directory if n not in self._cells)

    # -- messaging ------------------------------------------------------------------------

    async def put(self, ref: ActorRef, msg: object, timeout: float | None) -> Delivery:
        """Local: awaits mailbox space. A Thespian cell: awaits room at the bridge."""
        target = ref._target
        if isinstance(target, RemoteTarget):
            return await self.bridge.put(target, msg, timeout)
        return await super().put(ref, msg, timeout)

    async def ask(self, ref: ActorRef, make: Callable[[ActorRef], object], timeout: float) -> Any:
        """As ``ActorSystem.ask``; for a Thespian cell the reply comes back through the bridge."""
        target = ref._target
        if not isinstance(target, RemoteTarget):
            return await super().ask(ref, make, timeout)
        if target.address is None:
            raise ActorStopped(f"actor {ref.name!r} is not running")
        future: asyncio.Future[Any] = self.loop.create_future()
        self._ask_counter += 1
        reply = ActorRef(
            f"ask-{self._ask_counter}:{ref.name}", ReplyTarget(self, future), self._dead_letter
        )
        waiting = self._asks.setdefault(ref.name, set())
        waiting.add(future)
        try:
            if not ref.tell(make(reply)).ok:
                raise ActorStopped(f"actor {ref.name!r} is not running")
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise AskTimeout(f"no reply from {ref.name!r} within {timeout}s") from None
        finally:
            waiting.discard(future)
            self.bridge.exports.pop(reply.name, None)

    # -- what the Thespian side tells us --------------------------------------------------

    # -- the bridge's owner (``bridge.BridgeOwner``) ----------------------------------------

    def on_dead_letter(self, name: str, msg: object) -> None:
        """Loop side: a message the bridge could not deliver is a dead letter here."""
        self._dead_letter(name, msg)

    def on_failure(self, failure: ActorFailed) -> None:
        """Loop side: a Thespian cell's failure reaches this host's failure listeners."""
        self._report_failure(failure)

    def on_late_reply(self) -> None:
        """Loop side: a reply for an ask that had already ended."""
        self.late_replies += 1

    def on_control(self, msg: object) -> None:
        """Loop side: a control message from the guardian or a cell."""
        if isinstance(msg, c.Directory):
            self._directory(msg)
        elif isinstance(msg, c.StatsReport):
            waiter = self._stats_waiters.pop(msg.token, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(msg)
        elif isinstance(msg, c.Escalated):
            log.error("the failure of %s escalated to the system: %s", msg.name, msg.error)
            self._escalated(msg.name)
        elif isinstance(msg, c.Members):
            self.members = dict(msg.systems)
            self._members_changed.set()
            for listener in list(self.member_listeners):
                try:
                    listener()
                except Exception:
                    log.exception("a member listener failed")
        elif isinstance(msg, c.DrainWatch):
            self.bridge.watch_drain(msg)
        elif isinstance(msg, c.MemberLost):
            self._member_lost(msg)
        elif isinstance(msg, c.Unplaced):
            self._unplaced(msg)
        elif isinstance(msg, c.Placed):
            self._placed(msg)

    def _member_lost(self, msg: c.MemberLost) -> None:
        self._lost.update(dict.fromkeys(msg.names, msg.where))
        host = msg.where.rsplit(":", 1)[0]
        self.core_problem = (
            f"the member at {host} holding the core ({', '.join(msg.names)}) went away"
        )
        self._core_event(
            CoreEvent("lost", msg.where, msg.names, f"{self.core_problem}; placing it again")
        )

    def _unplaced(self, msg: c.Unplaced) -> None:
        wanted = ", ".join(f"aiway.{k}" for k in self.config.require) or "what it requires"
        first = self.core_problem or f"the core actor {msg.name!r} stopped"
        if "no member" in first:
            return  # said once per loss; the other cells of the core wait with it
        self.core_problem = (
            f"{first}, and no member of the convention offers {wanted}: start one "
            f"(aiway member --capability ...) and the core is placed there when it joins"
        )
        where = self._lost.get(msg.name, "")
        self._core_event(CoreEvent("unplaced", where, (msg.name,), self.core_problem))

    def _placed(self, msg: c.Placed) -> None:
        if self._lost.pop(msg.name, None) is None or self._lost:
            return
        self._share_directory()
        host = msg.where.rsplit(":", 1)[0]
        first = (self.core_problem or "the core was lost").split(", and no member")[0]
        self.core_problem = None
        self._core_event(
            CoreEvent("placed", msg.where, (msg.name,), f"{first}; it runs again on {host}")
        )

    def _share_directory(self) -> None:
        """Tell every cell where each other cell listens now, through the bridge, before the
        session hears that the core runs again.

        A cell created again starts with the refs of its first ``Start`` (the lost
        addresses); the guardian's updates reach it on their own path, which the
        session's next message (a prompt, the conversation it is seeded with) can
        overtake, and what it then tells a lost address is a dead letter. Told here,
        each update goes through the driver ahead of every message the session sends
        after ``Placed``, in order.
        """
        proxies = self.bridge.proxies
        cells = [
            (name, proxies[name].address)
            for name in self.directory
            if name in proxies and proxies[name].address not in (None, PENDING)
        ]
        updates = [c.Directory(name, address) for name, address in cells]

        def tell(system: SystemHandle) -> None:
            for _, address in cells:
                for update in updates:
                    if update.address != address:
                        _tell_if(system, address, update)

        self.bridge.submit(tell)

    def _core_event(self, event: CoreEvent) -> None:
        log.warning("%s", event.text)
        for listener in list(self.core_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a core listener failed on %s", event.kind)

    def _directory(self, msg: c.Directory) -> None:
        target = self.bridge.proxies.get(msg.name)
        if msg.address is None:
            self.directory.pop(msg.name, None)
            self.cell_addresses.pop(msg.name, None)
            if target is not None:
                target.address = None
            stopped = ActorStopped(f"actor {msg.name!r} stopped before replying")
            for future in self._asks.pop(msg.name, set()):
                if not future.done():
                    future.set_exception(stopped)
            return
        self.directory[msg.name] = msg.pid
        self.cell_addresses[msg.name] = _sockname(msg.address)
        if target is not None and target.address is not PENDING:
            target.address = msg.address

    # -- observing ------------------------------------------------------------------------

    @property
    def where(self) -> str:
        """This system's admin (``host:port``), or the base when it has no admin."""
        if self.config.admin_port is None:
            return self.config.base
        return f"{self.config.ip_address}:{self.config.admin_port}"

    def whereabouts(self) -> list[str]:
        """The convention's systems with what they offer, then where each top-level cell
        runs, as lines for a person (``/members``)."""
        if self.config.admin_port is None or self.config.base != "multiprocTCPBase":
            lines = [f"no convention: Thespian on {self.config.base}, on this machine only"]
            for name in self.remote:
                pid = self.directory.get(name)
                lines.append(f"  {name}: {'process ' + str(pid) if pid else 'not running'}")
            return lines
        leader = self.config.convention or self.where
        lines = [f"convention led by {leader}:"]
        systems = {self.where: (self._role(self.where), self.config.thespian_capabilities())}
        for member, capabilities in sorted(self.members.items()):
            where = _where(member)
            systems.setdefault(where, (self._role(where), capabilities))
        for where, (role, capabilities) in systems.items():
            lines.append(f"  {where:<21} {role:<20} offers {_offered(capabilities)}")
        for name in self.remote:
            lines.append(f"  {name}: {self.placed_on(name)}")
        return lines

    def placed_on(self, name: str) -> str:
        """Where the cell ``name`` runs, for a person: a system of the convention."""
        if name in self._lost:
            return f"lost with the member at {self._lost[name]}, waiting to be placed"
        address = self.cell_addresses.get(name)
        if address is None:
            return "not running"
        host = address.rsplit(":", 1)[0]
        systems = [self.where, *(_where(m) for m in self.members)]
        matches = sorted({s for s in systems if s.rsplit(":", 1)[0] == host})
        if len(matches) == 1:
            return f"on {matches[0]} ({self._role(matches[0])})"
        return f"on {host} (process {self.directory.get(name, '?')})"

    def _role(self, where: str) -> str:
        if where == self.where:
            return "this system, leader" if self.config.convention is None else "this system"
        if self.config.convention is not None and where == self.config.convention:
            return "leader"
        return "member"

    async def refresh_metrics(self, timeout: float = 2.0) -> None:
        """Fetch every Thespian cell's counters (``metrics`` then includes them)."""
        if not self._started or self.bridge.closed:
            return
        token = self.bridge.token()
        waiter: asyncio.Future[c.StatsReport] = self.loop.create_future()
        self._stats_waiters[token] = waiter
        guardian = self.bridge.guardian
        self.bridge.submit(lambda system: system.tell(guardian, c.StatsRequest(token)))
        try:
            report = await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            self._stats_waiters.pop(token, None)
            log.warning("no counters from the Thespian cells within %ss", timeout)
            return
        cells = sorted(report.cells, key=lambda s: s.name)
        self.remote_stats = tuple(
            attrs.evolve(decode_plain(s.mailbox, MailboxStats), name=f"{s.name} (thespian)")
            for s in cells
        )
        self._remote_dead = report.dead_letters + sum(s.dead_letters for s in cells)
        self.cell_counters = tuple(
            CellCounters(s.name, s.pid, s.sent, s.refused, s.dead_letters, s.bad_input)
            for s in cells
        )

    def forget_remote_metrics(self) -> None:
        """Drop the Thespian cells' mailbox figures of the last ``refresh_metrics`` (F2
        closed: nothing fetches them, and ``metrics`` would show them growing old)."""
        self.remote_stats = ()

    def metrics(self) -> tuple[MailboxStats, ...]:
        """Local mailboxes, then the Thespian cells' as of the last ``refresh_metrics``."""
        return super().metrics() + self.remote_stats

    @property
    def dead_letters(self) -> int:
        """Dead letters here, plus those the Thespian side counted (as of the last refresh)."""
        return self._local_dead + self._remote_dead

    @dead_letters.setter
    def dead_letters(self, value: int) -> None:
        self._local_dead = value

    def bridge_stats(self) -> BridgeStats:
        """The bridge's counters."""
        return self.bridge.stats()

    def pids(self) -> dict[str, int]:
        """The process of each Thespian cell (and of the guardian), for tests and tools."""
        return {"<guardian>": self.bridge.guardian_pid, **self.directory}


def _where(member: str) -> str:
    """``host:port`` of a member key (the string form of its admin's Thespian address)."""
    inner = member.rsplit("|", 1)[-1].rstrip(")")
    return inner if not inner.startswith(":") else f"127.0.0.1{inner}"


def _sockname(address: object) -> str:
    """``host:port`` of a Thespian TCP address (its string form otherwise)."""
    sockname = getattr(getattr(address, "addressDetails", None), "sockname", None)
    if isinstance(sockname, tuple) and len(sockname) == 2:
        return f"{sockname[0]}:{sockname[1]}"
    return str(address)


def _offered(capabilities: Mapping[str, Any]) -> str:
    """What a system offers, for a person: aiway's capabilities, the model's in words."""
    shown: list[str] = []
    for key, value in sorted(capabilities.items()):
        if not key.startswith("aiway."):
            continue
        if key == STREAMS_CAPABILITY and isinstance(value, dict):
            shown.append(f"{key}={value.get('model')} on {value.get('backend')}")
        else:
            shown.append(f"{key}={value}")
    return ", ".join(shown) or "nothing"


def _offers(capabilities: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(capabilities.get(key) == value for key, value in wanted.items())


def _alive(ref: ActorRef) -> bool:
    target = ref._target
    return not isinstance(target, RemoteTarget) or target.address is not None


def _tell_if(system: SystemHandle, address: object | None, msg: object) -> None:
    if address is not None and address is not PENDING:
        system.tell(address, msg)

"""A behaviour as a Thespian actor: the cell, its context, its timers and its supervision.

``CellActor`` is the one Thespian actor class of the host; a ``Start`` turns
it into a running ``Cell`` for one behaviour. The cell keeps the asyncio
host's contract wherever Thespian lets it:

* messages arrive as wire ``Envelope``s, are decoded and offered to a real
  ``Mailbox`` (bounded, two lanes, coalescing, metrics); the cell drains it
  with one self-sent ``Drain``, so what queued meanwhile is coalesced and the
  control lane goes first. What still waits inside Thespian's own queue is
  beyond reach: unbounded, uncoalesced, uncounted (see docs/RUNTIME.md).
* ``ctx.tell`` encodes and buffers; the buffer is sent when the Thespian
  message that caused it has been handled (one ``Batch`` per destination).
* ``ctx.schedule`` is ``wakeupAfter`` with the timer id as payload; Thespian
  cannot cancel a wake-up, so ``cancel`` forgets the id and the wake-up is
  ignored when it fires.
* a handler that raises is restarted in place with the policy and backoff of
  the asyncio host, and the failure goes to the bridge as ``ActorFailed``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from thespian.actors import (
    Actor,
    ActorExitRequest,
    ChildActorExited,
    DeadEnvelope,
    PoisonMessage,
    WakeupMessage,
)

from aiway.actors.errors import AiwayError
from aiway.actors.protocol import ProtocolError, to_wire
from aiway.actors.runtime.behaviour import Behaviour, TimerId
from aiway.actors.runtime.errors import DuplicateActorName
from aiway.actors.runtime.mailbox import Delivery, Mailbox, MailboxConfig
from aiway.actors.runtime.messages import ActorFailed
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.spec import BehaviourSpec
from aiway.actors.runtime.supervision import (
    Directive,
    RestartTracker,
    SupervisorPolicy,
    judge_failure,
)
from aiway.actors.runtime.thespian import control as c
from aiway.actors.runtime.thespian import seam
from aiway.actors.runtime.thespian.context import EdgeOnThespian, ThespianContext
from aiway.actors.runtime.thespian.control import RemoteTarget
from aiway.actors.runtime.thespian.supervise import Child, Children
from aiway.actors.runtime.thespian.wire import (
    Batch,
    Envelope,
    Resequencer,
    Sequencer,
    decode,
    decode_plain,
    decode_spec,
    encode,
    encode_plain,
    encode_spec,
)

log = logging.getLogger(__name__)

seam.install_inherited()  # a child process not forked from a signing one still signs

#: messages a cell keeps while it waits for its ``Start`` (more are dead letters)
EARLY_LIMIT = 1024

_ACCEPTED = Delivery.ACCEPTED
_REJECTED = Delivery.REJECTED
_DEAD = Delivery.DEAD


class EscalatedFailure(AiwayError, RuntimeError):
    """A child escalated its failure to this actor."""


class CellActor(Actor):  # type: ignore[misc]
    """The Thespian actor that hosts one behaviour (see the module docstring)."""

    @staticmethod
    def actorSystemCapabilityCheck(capabilities: dict[str, Any], requirements: Any) -> bool:
        return c.capabilities_match(capabilities, requirements or {})

    def __init__(self) -> None:
        super().__init__()
        self.cell: Cell | None = None
        self.early: list[tuple[object, object]] = []

    def receiveMessage(self, msg: object, sender: object) -> None:
        cell = self.cell
        if cell is not None:
            cell.receive(msg, sender)
            return
        if isinstance(msg, c.Hello):
            self.send(sender, c.Here(msg.token, os.getpid()))
        elif isinstance(msg, c.Start):
            cell = Cell(self, msg)
            self.cell = cell
            cell.start()
            early, self.early = self.early, []
            for held, held_sender in early:
                cell.receive(held, held_sender)
            cell.flush()
        elif isinstance(msg, Envelope | Batch | c.DrainWatch):
            if len(self.early) < EARLY_LIMIT:
                self.early.append((msg, sender))
            else:
                log.warning("a cell not yet started dropped %s", msg)


class Cell:
    """One running behaviour inside a ``CellActor``."""

    def __init__(self, actor: CellActor, start: c.Start) -> None:
        self.actor = actor
        self.name = start.name
        self.start_msg = start
        self.guardian = start.guardian
        self.bridge = start.bridge
        self.parent = start.parent
        self.in_process = start.in_process
        self.policy: SupervisorPolicy = decode_plain(start.policy, SupervisorPolicy)
        self.tracker = RestartTracker(self.policy)
        config = decode_plain(start.mailbox, MailboxConfig) if start.mailbox else None
        self.mailbox = Mailbox(self.name, config, self._wake, self.dead)
        self.me = RemoteTarget(self.name, actor.myAddress, self._to_self)
        self.self_ref = ActorRef(self.name, self.me, self.dead)
        self.targets: dict[str, RemoteTarget] = {self.name: self.me}
        self.outbox: dict[str, tuple[object, list[Envelope]]] = {}
        #: what this cell sends is numbered per address, and what it receives from other
        #: cells put back in that order (Thespian's transport does not keep it)
        self.sequencer = Sequencer()
        self.resequencer = Resequencer()
        self.gap_check = False
        self.timers: dict[TimerId, object] = {}
        self.next_timer = 0
        self.children = Children(actor, CellActor, self.report, time.monotonic)
        self.child_policies: dict[str, SupervisorPolicy] = {}
        self.ctx = ThespianContext(self)
        self.factory: Callable[[], Behaviour] | None = None
        self.behaviour: Behaviour | None = None
        self.generation = 0
        self.running = self.suspended = self.stopping = self.stopped = False
        self.stop_requested = self.drain_scheduled = self.exiting = False
        #: its Thespian system ended it (an ``ActorExitRequest`` nobody of aiway sent)
        self.ended_by_system = False
        self.sent = 0
        self.dead_letters = 0
        self.bad_input = 0
        #: names behind the bridge whose mailbox is full: tells to them are refused
        #: until it drains (see ``control.Pressure``; the bridge holds what it refused)
        self.pressured: set[str] = set()
        self.rejected = 0
        #: a top-level cell beaten by its guardian: when the last beat came (``heartbeat``)
        self.heartbeat = start.heartbeat if start.parent == start.guardian else None
        self.last_beat = time.monotonic()

    def _factory(self, start: c.Start) -> Callable[[], Behaviour]:
        if start.spec is not None:
            return decode_spec(start.spec, start.spec_refs, self)
        if start.local_factory is None:
            raise ValueError(f"the start of {self.name!r} carries no factory")
        return start.local_factory

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        pid = os.getpid()
        if self.heartbeat is not None:
            self.actor.wakeupAfter(timedelta(seconds=self.heartbeat), c.BeatCheck())
        self.actor.send(self.guardian, c.Register(self.name, pid))
        if self.parent is not None and self.parent != self.guardian:
            self.actor.send(self.parent, c.Register(self.name, pid))
        try:
            self.factory = self._factory(self.start_msg)
            self.behaviour = self.factory()
            self.behaviour.on_start(self.ctx)
        except Exception as exc:
            self._failed(exc)

    def begin_stop(self) -> None:
        """Graceful: handle what is queued, then stop."""
        self.stopping = True
        if not len(self.mailbox) and not self.running and not self.suspended:
            self.finalize()

    def stop_now(self) -> None:
        if self.running:
            self.stop_requested = True
            self.mailbox.close()
            self.dead_letters += len(self.mailbox.drain_all())
        else:
            self.finalize()

    def finalize(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.behaviour is not None:
            try:
                self.behaviour.on_stop(self.ctx)
            except Exception:
                log.exception("on_stop of %s raised", self.name)
        self.timers.clear()
        self.mailbox.close()
        self.dead_letters += len(self.mailbox.drain_all())
        stopping = c.Stopping(self.name, self.ended_by_system)
        if self.parent is not None:
            self.actor.send(self.parent, stopping)
        if self.guardian is not None and self.guardian != self.parent:
            self.actor.send(self.guardian, stopping)
        if not self.exiting:
            self.exiting = True
            self.actor.send(self.actor.myAddress, ActorExitRequest())

    # -- receiving -----------------------------------------------------------------------

    def receive(self, msg: object, sender: object) -> None:
        """Handle one Thespian message, then send what it caused."""
        if isinstance(msg, Envelope):
            self._accept(msg)
        elif isinstance(msg, c.Drain):
            self.drain_scheduled = False
            self._run()
        elif isinstance(msg, Batch):
            self._take(self.resequencer.accept(msg, time.monotonic()))
        elif isinstance(msg, WakeupMessage):
            self._wakeup(msg.payload)
        else:
            self._control(msg, sender)
        while self.drain_scheduled and not self.in_process:
            # a batch at a time (the mailbox's bound), until it is empty: this process
            # is this actor's own, so there is nobody to yield to
            self.drain_scheduled = False
            self._run()
        self.flush()

    def _accept(self, envelope: Envelope) -> None:
        try:
            msg = decode(envelope.data, envelope.refs, self)
        except ProtocolError as exc:
            self.bad_input += 1
            log.warning("%s got a message it cannot decode: %s", self.name, exc)
            return
        if self.mailbox.offer(msg) is _DEAD:
            self.dead_letters += 1

    def _take(self, batches: list[Batch]) -> None:
        """Offer what ``batches`` carry, in order; watch a gap the resequencer holds behind."""
        for batch in batches:
            for envelope in batch.envelopes:
                self._accept(envelope)
        if self.resequencer.held and not self.gap_check:
            wait = self.resequencer.wait(time.monotonic())
            if wait is not None:
                self.gap_check = True
                self.actor.wakeupAfter(timedelta(seconds=wait), c.GapCheck())

    def _wakeup(self, payload: object) -> None:
        if isinstance(payload, c.GapCheck):
            self.gap_check = False
            overdue = self.resequencer.overdue(time.monotonic())
            if overdue:
                log.warning("%s: a message from a cell never came; going on without it", self.name)
            self._take(overdue)
        elif isinstance(payload, c.TimerFired):
            msg = self.timers.pop(payload.timer, None)
            if msg is not None and not self.stopped:  # None: cancelled, or a restart forgot it
                self.mailbox.offer(msg)
        elif isinstance(payload, c.RestartDue):
            if payload.generation == self.generation:
                self._restart()
        elif isinstance(payload, c.RecreateDue):
            self.children.recreate(payload)
        elif isinstance(payload, c.BeatCheck):
            self._check_beat()
        elif (
            isinstance(payload, c.ExitCheck)
            and self.children.check(payload, self._policy_of) is Directive.ESCALATE
        ):
            self._failed(EscalatedFailure(f"the process of child {payload.name} died"))

    def _check_beat(self) -> None:
        """No beat for three periods: the guardian (the leader's system) is gone, and so is
        anyone this cell answers to. End now rather than run unowned on a member."""
        if self.heartbeat is None or self.stopped:
            return
        silent = time.monotonic() - self.last_beat
        if silent > 3 * self.heartbeat:
            log.error("%s: no beat from its leader for %.1fs; ending", self.name, silent)
            self.stop_now()
            return
        self.actor.wakeupAfter(timedelta(seconds=self.heartbeat), c.BeatCheck())

    def _control(self, msg: object, sender: object) -> None:
        if isinstance(msg, c.Beat):
            self.last_beat = time.monotonic()
        elif isinstance(msg, ActorExitRequest):
            # not the one ``finalize`` sends itself: this cell's system ends it
            self.ended_by_system = not (
                self.exiting or self.stopping or self.stopped or self.stop_requested
            )
            self.exiting = True
            self.finalize()
        elif isinstance(msg, c.Directory):
            target = self.targets.get(msg.name)
            if target is not None and target is not self.me:
                target.address = msg.address
        elif isinstance(msg, c.Register):
            child = self.children.by_name.get(msg.name)
            if child is not None:
                child.address, child.pid = sender, msg.pid
        elif isinstance(msg, c.Stopping):
            self.children.stopping(msg.name)
        elif isinstance(msg, ChildActorExited):
            self.children.exited(msg.childAddress)
        elif isinstance(msg, c.Escalate):
            self._failed(EscalatedFailure(f"child {msg.name} escalated: {msg.error}"))
        elif isinstance(msg, c.Pressure):
            if msg.full:
                self.pressured.add(msg.name)
            else:
                self.pressured.discard(msg.name)
        elif isinstance(msg, c.DrainWatch):
            self._watch_drain(msg)
        elif isinstance(msg, c.StatsQuery):
            self.actor.send(sender, self.stats(msg.token))
        elif isinstance(msg, c.StopGracefully):
            self.begin_stop()
        elif isinstance(msg, c.StopNow):
            self.stop_now()
        elif isinstance(msg, PoisonMessage):
            self.dead_letters += 1
            log.error("%s: Thespian returned a message it could not deliver: %s", self.name, msg)
        elif isinstance(msg, DeadEnvelope):
            self.dead_letters += 1

    def _policy_of(self, child: Child) -> SupervisorPolicy:
        return self.child_policies.get(child.name, SupervisorPolicy())

    # -- running the behaviour -----------------------------------------------------------

    def _wake(self) -> None:
        """The mailbox went from empty to non-empty."""
        if not self.running and not self.suspended:
            self._schedule_drain()

    def _schedule_drain(self) -> None:
        if not self.drain_scheduled and not self.stopped:
            self.drain_scheduled = True
            if self.in_process:
                self.actor.send(self.actor.myAddress, c.DRAIN)
            # else: ``receive`` drains once the whole Thespian message is offered: a
            # self-send would cross a multiprocessing queue (milliseconds) to get here

    def _run(self) -> None:
        behaviour = self.behaviour
        if self.stopped or self.suspended or behaviour is None:
            return
        self.running = True
        try:
            result = self.mailbox.process(
                type(behaviour)._handlers, behaviour, self.ctx, behaviour.receive
            )
        except Exception as exc:
            self.running = False
            self._failed(exc)
            return
        self.running = False
        if result is not None:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            self._failed(EdgeOnThespian(f"{type(behaviour).__name__} has an async handler"))
            return
        if self.stop_requested:
            self.finalize()
        elif len(self.mailbox):
            self._schedule_drain()
        elif self.stopping:
            self.finalize()

    def _failed(self, exc: BaseException) -> None:
        """The asyncio host's supervision, step for step (``system._Cell._failed``)."""
        directive, delay, report = judge_failure(
            self.name, exc, self.policy, self.tracker, time.monotonic()
        )
        self.report(report)
        if directive is Directive.RESTART and delay is not None:
            self.timers.clear()
            self.suspended = True
            self.generation += 1
            self.actor.wakeupAfter(timedelta(seconds=delay), c.RestartDue(self.generation))
        elif directive is Directive.ESCALATE:
            self.finalize()
            if self.parent is not None:
                self.actor.send(self.parent, c.Escalate(self.name, f"{exc}", report.traceback))
        else:
            self.finalize()

    def _restart(self) -> None:
        if self.stopped:
            return
        self.suspended = False
        try:
            if self.factory is None:
                self.factory = self._factory(self.start_msg)
            self.behaviour = self.factory()
            self.behaviour.on_start(self.ctx)
        except Exception as exc:
            self._failed(exc)
            return
        if len(self.mailbox):
            self._schedule_drain()
        elif self.stopping:
            self.finalize()

    def report(self, failure: ActorFailed) -> None:
        """Send a failure report to the bridge, which hands it to the host's listeners."""
        if self.bridge is None:
            return
        self._buffer(
            c.FAILURES, c.BRIDGE_ROUTE, self.bridge, Envelope(c.FAILURES, to_wire(failure), ())
        )

    # -- sending --------------------------------------------------------------------------

    def _to_self(self, target: RemoteTarget, msg: object) -> Delivery:
        return self.mailbox.offer(msg)

    def send(self, target: RemoteTarget, msg: object) -> Delivery:
        """Encode ``msg`` for ``target`` and buffer it (sent by ``flush``)."""
        address = target.address
        if address is None:
            self.dead_letters += 1
            return _DEAD
        if self.pressured and target.route == c.BRIDGE_ROUTE and target.name in self.pressured:
            self.rejected += 1
            return _REJECTED
        data, refs = encode(msg, self)
        self._buffer(target.name, target.route, address, Envelope(target.name, data, refs))
        self.sent += 1
        return _ACCEPTED

    def _buffer(self, name: str, route: str, address: object, envelope: Envelope) -> None:
        entry = self.outbox.get(route)
        if entry is None:
            self.outbox[route] = (address, [envelope])
        else:
            entry[1].append(envelope)

    def flush(self) -> None:
        """Send everything buffered: one Thespian message per destination."""
        if not self.outbox:
            return
        outbox, self.outbox = self.outbox, {}
        send = self.actor.send
        batch = self.sequencer.batch
        bridge = outbox.pop(c.BRIDGE_ROUTE, None)
        if bridge is not None:
            address = bridge[0]
            send(address, batch(c.BRIDGE_ROUTE, address, bridge[1], self.actor.myAddress))
        for route, (address, envelopes) in outbox.items():
            send(address, batch(route, address, envelopes))

    def dead(self, name: str, msg: object) -> None:
        self.dead_letters += 1

    # -- refs (the wire codec asks) ------------------------------------------------------

    def address_of(self, ref: ActorRef) -> object | None:
        target = ref._target
        if isinstance(target, RemoteTarget):
            return target.address
        raise ProtocolError(f"{ref!r} is not a ref of the Thespian host")

    def ref_at(self, name: str, address: object | None) -> ActorRef:
        if address is None:
            return ActorRef(name, RemoteTarget(name, None, self.send), self.dead)
        if name == self.name and address == self.me.address:
            return self.self_ref
        if address == self.bridge:
            return ActorRef(name, RemoteTarget(name, address, self.send, c.BRIDGE_ROUTE), self.dead)
        target = self.targets.get(name)
        if target is None:
            target = RemoteTarget(name, address, self.send)
            self.targets[name] = target
        return ActorRef(name, target, self.dead)

    # -- what the context does (``context.CellPort``) ---------------------------------------

    def schedule(self, delay: float, msg: object) -> TimerId:
        self.next_timer += 1
        timer = self.next_timer
        self.timers[timer] = msg
        self.actor.wakeupAfter(timedelta(seconds=max(delay, 0.0)), c.TimerFired(timer))
        return timer

    def cancel(self, timer: TimerId) -> None:
        self.timers.pop(timer, None)

    def spawn_child(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        mailbox: MailboxConfig | None,
        policy: SupervisorPolicy | None,
    ) -> ActorRef:
        if name in self.children.by_name:
            raise DuplicateActorName(f"{self.name!r} already has a child named {name!r}")
        spec: bytes | None = None
        spec_refs: tuple[object, ...] = ()
        local_factory: Callable[[], Behaviour] | None = None
        if isinstance(factory, BehaviourSpec):
            if factory.edge:
                raise EdgeOnThespian(
                    f"{factory.target} is an edge actor: spawn it on the asyncio host"
                )
            spec, spec_refs = encode_spec(factory, self)
        elif self.in_process:
            local_factory = factory
        else:
            raise TypeError(
                f"spawning {name!r} across processes needs a BehaviourSpec, not {factory!r}: "
                "a closure cannot leave its process"
            )
        child_policy = policy or SupervisorPolicy()
        start = c.Start(
            name,
            spec=spec,
            spec_refs=spec_refs,
            local_factory=local_factory,
            mailbox=None if mailbox is None else encode_plain(mailbox),
            policy=encode_plain(child_policy),
            in_process=self.in_process,
            parent=self.actor.myAddress,
            guardian=self.guardian,
            bridge=self.bridge,
        )
        address = self.actor.createActor(CellActor)
        self.children.add(name, address)
        self.child_policies[name] = child_policy
        self.children.launch(name, start, child_policy)
        target = RemoteTarget(name, address, self.send)
        self.targets[name] = target
        return ActorRef(name, target, self.dead)

    def lookup(self, name: str) -> ActorRef | None:
        target = self.targets.get(name)
        if target is None or target.address is None:
            return None
        return self.self_ref if target is self.me else ActorRef(name, target, self.dead)

    def notify_when_drained(self, ref: ActorRef, msg: object) -> None:
        target = ref._target
        if target is self.me:

            def offer() -> None:
                self.mailbox.offer(msg)

            self.mailbox.notify_when_drained(offer)
            return
        if not isinstance(target, RemoteTarget) or target.address is None:
            return
        data, refs = encode(msg, self)
        notify = Envelope(self.name, data, refs)
        self.actor.send(target.address, c.DrainWatch(ref.name, self.actor.myAddress, notify))

    def _watch_drain(self, msg: c.DrainWatch) -> None:
        def drained() -> None:
            self.actor.send(msg.watcher, msg.notify)

        self.mailbox.notify_when_drained(drained)

    def stats(self, token: int) -> c.CellStats:
        return c.CellStats(
            token,
            self.name,
            encode_plain(self.mailbox.stats()),
            sent=self.sent,
            refused=self.rejected,
            dead_letters=self.dead_letters,
            bad_input=self.bad_input,
            pid=os.getpid(),
        )

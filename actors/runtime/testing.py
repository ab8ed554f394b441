"""A probe context for testing behaviours with no event loop at all.

Feed messages with ``probe.send(msg)``, then assert on ``probe.told`` (every
``(ref, message)`` the behaviour sent) and ``probe.timers``. ``advance(dt)``
moves the injectable clock and fires due timers in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiway.actors.runtime.behaviour import Behaviour, TimerId
from aiway.actors.runtime.mailbox import Delivery, MailboxConfig
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.supervision import SupervisorPolicy

_Sent = TypeVar("_Sent")


class _Sink:
    __slots__ = ("messages",)

    def __init__(self) -> None:
        self.messages: list[object] = []

    def offer(self, msg: object) -> Delivery:
        self.messages.append(msg)
        return Delivery.ACCEPTED


class Probe:
    """Runs one behaviour synchronously and records what it does."""

    def __init__(self, behaviour: Behaviour, name: str = "probe", start: bool = True) -> None:
        self.behaviour = behaviour
        self.clock = 0.0
        self.told: list[tuple[ActorRef, object]] = []
        self.timers: dict[TimerId, tuple[float, object]] = {}
        self.spawned: dict[str, Probe] = {}
        self.stopped = False
        self.drain_requests: list[tuple[ActorRef, object]] = []
        self._refs: dict[str, ActorRef] = {}
        self._next_timer = 0
        self.dead: list[tuple[str, object]] = []
        self.self_ref = self.ref(name)
        if start:
            behaviour.on_start(self)

    def ref(self, name: str) -> ActorRef:
        """A ref whose messages are recorded in ``told`` (and per ref in ``inbox``)."""
        if name not in self._refs:
            self._refs[name] = ActorRef(name, _Sink(), lambda n, m: self.dead.append((n, m)))
        return self._refs[name]

    def inbox(self, ref: ActorRef | str) -> list[object]:
        """Everything sent to ``ref`` so far."""
        name = ref if isinstance(ref, str) else ref.name
        sink = self.ref(name)._target
        assert isinstance(sink, _Sink)
        return sink.messages

    # -- the Context protocol ------------------------------------------------

    def tell(self, ref: ActorRef, msg: object) -> Delivery:
        self.told.append((ref, msg))
        return ref.tell(msg)

    def schedule(self, delay: float, msg: object) -> TimerId:
        self._next_timer += 1
        self.timers[self._next_timer] = (self.clock + delay, msg)
        return self._next_timer

    def cancel(self, timer: TimerId) -> None:
        self.timers.pop(timer, None)

    def spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        *,
        mailbox: MailboxConfig | None = None,
        policy: SupervisorPolicy | None = None,
    ) -> ActorRef:
        self.spawned[name] = Probe(factory(), name)
        return self.ref(name)

    def stop(self) -> None:
        self.stopped = True

    def now(self) -> float:
        return self.clock

    def lookup(self, name: str) -> ActorRef | None:
        return self._refs.get(name)

    def notify_when_drained(self, ref: ActorRef, msg: object) -> None:
        self.drain_requests.append((ref, msg))

    # -- driving -----------------------------------------------------------------

    def send(self, msg: object) -> object:
        """Deliver one message to the behaviour now; returns what its handler returned."""
        return self.behaviour.receive(self, msg)

    def advance(self, seconds: float) -> int:
        """Move the clock forward, firing due timers in time order; returns how many fired."""
        target = self.clock + seconds
        fired = 0
        while True:
            due = [(when, tid) for tid, (when, _) in self.timers.items() if when <= target]
            if not due:
                break
            when, tid = min(due)
            _, msg = self.timers.pop(tid)
            self.clock = max(self.clock, when)
            self.send(msg)
            fired += 1
        self.clock = target
        return fired

    def sent(self, kind: type[_Sent]) -> list[_Sent]:
        """Messages of one type the behaviour told anyone, in order."""
        return [msg for _, msg in self.told if isinstance(msg, kind)]

    def clear(self) -> None:
        """Forget what was told so far."""
        self.told.clear()

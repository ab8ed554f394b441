"""Contexts that drive the Avatar with no event loop and no allocation of their own.

Used by the avatar's allocation budget (tests/unit/actors/avatar) and its benchmark
(profiling/bench_avatar.py), so that both measure the avatar and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

from aiway.actors.runtime import (
    ActorRef,
    Behaviour,
    Delivery,
    MailboxConfig,
    SupervisorPolicy,
    TimerId,
)

# Looked up once: on Python 3.11 every ``Enum.MEMBER`` lookup allocates a method-wrapper.
_ACCEPTED = Delivery.ACCEPTED


class SinkTarget:
    """A mailbox stand-in that keeps only the newest message (allocates nothing)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: object = None

    def offer(self, msg: object) -> Delivery:
        self.last = msg
        return _ACCEPTED


class LeanContext:
    """A context whose methods allocate nothing, for allocation budgets.

    It keeps one pending timer per message kind; ``fire()`` moves the clock to
    the earliest one and delivers it.
    """

    def __init__(self) -> None:
        self.clock = 0.0
        self.sink = SinkTarget()
        self.registry = ActorRef("registry", self.sink, lambda name, msg: None)
        self.self_ref = ActorRef("avatar", None, lambda name, msg: None)
        self.pending_delay = -1.0
        self.pending: object = None
        self.behaviour: Behaviour | None = None

    def tell(self, ref: ActorRef, msg: object) -> Delivery:
        return ref.tell(msg)

    def schedule(self, delay: float, msg: object) -> TimerId:
        if type(msg).__name__ == "_Tick":
            self.pending_delay = delay
            self.pending = msg
        return 1

    def cancel(self, timer: TimerId) -> None:
        return None

    def now(self) -> float:
        return self.clock

    def spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        *,
        mailbox: MailboxConfig | None = None,
        policy: SupervisorPolicy | None = None,
    ) -> ActorRef:
        raise NotImplementedError("the avatar spawns no actor")

    def stop(self) -> None:
        return None

    def lookup(self, name: str) -> ActorRef | None:
        return None

    def notify_when_drained(self, ref: ActorRef, msg: object) -> None:
        return None

    def fire(self) -> None:
        """Deliver the pending clock tick at its time."""
        assert self.behaviour is not None and self.pending is not None
        msg = self.pending
        self.pending = None
        self.clock += self.pending_delay
        self.behaviour.receive(self, msg)

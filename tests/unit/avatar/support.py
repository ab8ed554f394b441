"""Helpers for the avatar tests: an Avatar under a Probe, and a context that allocates nothing."""

from __future__ import annotations

import random
from collections.abc import Callable

from actors.avatar import Avatar, SpriteSet
from actors.protocol import AvatarFrame, AvatarState
from actors.runtime import (
    ActorRef,
    Behaviour,
    Delivery,
    MailboxConfig,
    SupervisorPolicy,
    TimerId,
)
from actors.runtime.testing import Probe


class _Unstarted(Behaviour):
    """Stands in until the Avatar, which needs the probe's registry ref, is built."""


def start_avatar(
    *,
    reduce_motion: bool = False,
    seed: int = 7,
    fps: float = 10,
    sprites: SpriteSet | None = None,
    area: tuple[int, int] = (80, 24),
) -> tuple[Probe, Avatar]:
    """An Avatar under a Probe, started; it tells the probe's ``registry`` ref."""
    probe = Probe(_Unstarted(), name="avatar", start=False)
    avatar = Avatar(
        probe.ref("registry"),
        reduce_motion=reduce_motion,
        fps=fps,
        sprites=sprites,
        area=area,
        rng=random.Random(seed),
    )
    probe.behaviour = avatar
    avatar.on_start(probe)
    return probe, avatar


def frames(probe: Probe) -> list[AvatarFrame]:
    """Every frame the avatar published so far."""
    return probe.sent(AvatarFrame)


def last_state(probe: Probe) -> AvatarState:
    """The avatar's latest published state."""
    states: list[AvatarState] = probe.sent(AvatarState)
    return states[-1]


def last_frame(probe: Probe) -> AvatarFrame:
    """The avatar's latest published frame."""
    return frames(probe)[-1]


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

"""ActorRef: the only handle anyone holds on an actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiway.actors.runtime.mailbox import Delivery, Mailbox


class _Target(Protocol):
    def offer(self, msg: object) -> Delivery: ...


class ActorRef:
    """A stable, named handle. ``tell`` never raises and never blocks.

    Telling a stopped actor returns ``Delivery.DEAD`` and counts a dead letter
    in the system. Two refs are equal when they name the same actor.
    """

    __slots__ = ("_dead", "_target", "name", "tell")

    tell: Callable[[object], Delivery]
    """Offer a message to the actor's mailbox; see ``Delivery`` for the outcomes.

    It is the mailbox's own ``offer`` (bound once, so a tell costs one call),
    or, once the actor has stopped, a function that counts a dead letter.
    """

    def __init__(
        self, name: str, target: _Target | None, dead: Callable[[str, object], None]
    ) -> None:
        self.name = name
        self._dead = dead
        self._target: _Target | None = None
        self.tell = self._dead_letter
        if target is not None:
            self._attach(target)

    def _dead_letter(self, msg: object) -> Delivery:
        self._dead(self.name, msg)
        return Delivery.DEAD

    def _attach(self, target: _Target) -> None:
        self._target = target
        self.tell = target.offer

    def _detach(self) -> None:
        self._target = None
        self.tell = self._dead_letter

    @property
    def local_mailbox(self) -> Mailbox | None:
        """The mailbox of this loop behind the ref (the asyncio host), or None (elsewhere)."""
        target = self._target
        return target if type(target) is Mailbox else None

    @property
    def alive(self) -> bool:
        """True while the actor can take messages."""
        return self._target is not None

    def __repr__(self) -> str:
        return f"ActorRef({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

"""ActorRef: the only handle anyone holds on an actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from actors.runtime.mailbox import Delivery

if TYPE_CHECKING:
    from collections.abc import Callable


class _Target(Protocol):
    def deliver(self, msg: object) -> Delivery: ...


class ActorRef:
    """A stable, named handle. ``tell`` never raises and never blocks.

    Telling a stopped actor returns ``Delivery.DEAD`` and counts a dead letter
    in the system. Two refs are equal when they name the same actor.
    """

    __slots__ = ("_dead", "_target", "name")

    def __init__(
        self, name: str, target: _Target | None, dead: Callable[[str, object], None]
    ) -> None:
        self.name = name
        self._target = target
        self._dead = dead

    def tell(self, msg: object) -> Delivery:
        """Offer ``msg`` to the actor's mailbox; see ``Delivery`` for the outcomes."""
        target = self._target
        if target is None:
            self._dead(self.name, msg)
            return Delivery.DEAD
        return target.deliver(msg)

    def _detach(self) -> None:
        self._target = None

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

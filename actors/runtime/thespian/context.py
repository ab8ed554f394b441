"""What a behaviour may do on the Thespian host: the ``Context`` of a cell.

``ThespianContext`` is the behaviour's view of its cell, through ``CellPort``:
the few operations a context offers, each carried out by the cell
(``cell.Cell``), which owns the mailbox, the timers, the children and the
buffered sends. The context holds no state of its own and touches no field
of the cell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from aiway.actors.errors import AiwayError
from aiway.actors.runtime.behaviour import Behaviour, TimerId
from aiway.actors.runtime.mailbox import Delivery, MailboxConfig
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.supervision import SupervisorPolicy


class EdgeOnThespian(AiwayError, TypeError):
    """An edge actor (async handlers, I/O) was to run on the Thespian host: behaviours only."""


class CellPort(Protocol):
    """What a context asks of the cell it belongs to."""

    @property
    def self_ref(self) -> ActorRef:
        """The ref of the cell's own behaviour."""
        ...

    def schedule(self, delay: float, msg: object) -> TimerId:
        """Offer ``msg`` to the cell's mailbox after ``delay`` seconds."""
        ...

    def cancel(self, timer: TimerId) -> None:
        """Forget ``timer``: its wake-up is ignored when it fires."""
        ...

    def spawn_child(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        mailbox: MailboxConfig | None,
        policy: SupervisorPolicy | None,
    ) -> ActorRef:
        """Start a child cell; raises ``DuplicateActorName``, ``EdgeOnThespian``, ``TypeError``."""
        ...

    def stop_now(self) -> None:
        """Stop the cell after the running handler; what is queued becomes dead letters."""
        ...

    def lookup(self, name: str) -> ActorRef | None:
        """A ref for a name the cell has seen (itself, its children, refs it received)."""
        ...

    def notify_when_drained(self, ref: ActorRef, msg: object) -> None:
        """Offer ``msg`` to this cell once the mailbox of ``ref`` has drained."""
        ...


class ThespianContext:
    """The ``Context`` of a behaviour on the Thespian host."""

    __slots__ = ("_cell",)

    def __init__(self, cell: CellPort) -> None:
        self._cell = cell

    @property
    def self_ref(self) -> ActorRef:
        return self._cell.self_ref

    def tell(self, ref: ActorRef, msg: object) -> Delivery:
        return ref.tell(msg)

    def schedule(self, delay: float, msg: object) -> TimerId:
        """A Thespian wake-up whose payload is the timer id (``cancel`` forgets the id)."""
        return self._cell.schedule(delay, msg)

    def cancel(self, timer: TimerId) -> None:
        self._cell.cancel(timer)

    def spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        *,
        mailbox: MailboxConfig | None = None,
        policy: SupervisorPolicy | None = None,
    ) -> ActorRef:
        """A child cell. ``factory`` is a ``BehaviourSpec`` (a closure only in-process)."""
        return self._cell.spawn_child(name, factory, mailbox, policy)

    def stop(self) -> None:
        self._cell.stop_now()

    def now(self) -> float:
        return time.monotonic()

    def lookup(self, name: str) -> ActorRef | None:
        """Only names this cell has seen: itself, its children, refs it received."""
        return self._cell.lookup(name)

    def notify_when_drained(self, ref: ActorRef, msg: object) -> None:
        self._cell.notify_when_drained(ref, msg)

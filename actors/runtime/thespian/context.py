"""What a behaviour may do on the Thespian host: the ``Context`` of a cell.

Each call works on the behaviour's cell (``cell.Cell``): a tell is encoded
and buffered by the cell, a timer is a Thespian wake-up carrying its id, a
child is a new cell started with its own ``Start``, a drain watch is a
``DrainWatch`` to the watched mailbox's owner (a cell, or the bridge).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from aiway.actors.runtime.behaviour import Behaviour, TimerId
from aiway.actors.runtime.errors import DuplicateActorName
from aiway.actors.runtime.mailbox import Delivery, MailboxConfig
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.spec import BehaviourSpec
from aiway.actors.runtime.supervision import SupervisorPolicy
from aiway.actors.runtime.thespian import control as c
from aiway.actors.runtime.thespian.control import RemoteTarget
from aiway.actors.runtime.thespian.wire import Envelope, encode, encode_plain, encode_spec

if TYPE_CHECKING:
    from aiway.actors.runtime.thespian.cell import Cell


class EdgeOnThespian(TypeError):
    """An edge actor (async handlers, I/O) was to run on the Thespian host: behaviours only."""


class ThespianContext:
    """The ``Context`` of a behaviour on the Thespian host."""

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    @property
    def self_ref(self) -> ActorRef:
        return self._cell.self_ref

    def tell(self, ref: ActorRef, msg: object) -> Delivery:
        return ref.tell(msg)

    def schedule(self, delay: float, msg: object) -> TimerId:
        """A Thespian wake-up whose payload is the timer id (``cancel`` forgets the id)."""
        cell = self._cell
        cell.next_timer += 1
        timer = cell.next_timer
        cell.timers[timer] = msg
        cell.actor.wakeupAfter(timedelta(seconds=max(delay, 0.0)), c.TimerFired(timer))
        return timer

    def cancel(self, timer: TimerId) -> None:
        self._cell.timers.pop(timer, None)

    def spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        *,
        mailbox: MailboxConfig | None = None,
        policy: SupervisorPolicy | None = None,
    ) -> ActorRef:
        """A child cell. ``factory`` is a ``BehaviourSpec`` (a closure only in-process)."""
        from aiway.actors.runtime.thespian.cell import CellActor

        cell = self._cell
        if name in cell.children.by_name:
            raise DuplicateActorName(f"{cell.name!r} already has a child named {name!r}")
        start = c.Start(
            name,
            spec=None,
            spec_refs=(),
            local_factory=None,
            mailbox=None if mailbox is None else encode_plain(mailbox),
            policy=encode_plain(policy or SupervisorPolicy()),
            in_process=cell.in_process,
            parent=cell.actor.myAddress,
            guardian=cell.guardian,
            bridge=cell.bridge,
        )
        if isinstance(factory, BehaviourSpec):
            if factory.edge:
                raise EdgeOnThespian(
                    f"{factory.target} is an edge actor: spawn it on the asyncio host"
                )
            start.spec, start.spec_refs = encode_spec(factory, cell)
        elif cell.in_process:
            start.local_factory = factory
        else:
            raise TypeError(
                f"spawning {name!r} across processes needs a BehaviourSpec, not {factory!r}: "
                "a closure cannot leave its process"
            )
        address = cell.actor.createActor(CellActor)
        cell.children.add(name, address)
        cell.child_policies[name] = policy or SupervisorPolicy()
        cell.children.launch(name, start, cell.child_policies[name])
        target = RemoteTarget(name, address, cell.send)
        cell.targets[name] = target
        return ActorRef(name, target, cell.dead)

    def stop(self) -> None:
        self._cell.stop_now()

    def now(self) -> float:
        return time.monotonic()

    def lookup(self, name: str) -> ActorRef | None:
        """Only names this cell has seen: itself, its children, refs it received."""
        cell = self._cell
        target = cell.targets.get(name)
        if target is None or target.address is None:
            return None
        return cell.self_ref if target is cell.me else ActorRef(name, target, cell.dead)

    def notify_when_drained(self, ref: ActorRef, msg: object) -> None:
        cell = self._cell
        target = ref._target
        if target is cell.me:

            def drained() -> None:
                cell.mailbox.offer(msg)

            cell.mailbox.notify_when_drained(drained)
            return
        if not isinstance(target, RemoteTarget) or target.address is None:
            return
        data, refs = encode(msg, cell)
        notify = Envelope(cell.name, data, refs)
        cell.actor.send(target.address, c.DrainWatch(ref.name, cell.actor.myAddress, notify))

"""Behaviours and edge actors: how an actor's code is written.

A behaviour is a plain class with one synchronous handler per message type,
marked with ``@handles(MessageType)``. A handler never awaits and never blocks;
it acts only through its context, so the same class runs on the asyncio host,
on the Thespian host, or under a test probe with no event loop at all.

An edge actor (network, terminal, model worker) may also have ``async``
handlers; it runs only on the asyncio host and gets an ``EdgeContext``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, ClassVar, Never, Protocol, TypeVar

if TYPE_CHECKING:
    import asyncio

    from aiway.actors.runtime.mailbox import Delivery, MailboxConfig
    from aiway.actors.runtime.ref import ActorRef
    from aiway.actors.runtime.supervision import SupervisorPolicy

log = logging.getLogger(__name__)

TimerId = int
"""Identifies one scheduled timer of one actor."""

Handler = Callable[["Behaviour", "Context", object], object]
"""A handler in a behaviour's table, called as ``handler(behaviour, ctx, msg)``.

It returns None, or (an edge actor's ``async`` handler) an awaitable.
"""

#: what ``@handles`` takes: any function of (self, ctx, msg), whatever it names them as
F = TypeVar("F", bound=Callable[[Never, Never, Never], object])


def handles(*message_types: type) -> Callable[[F], F]:
    """Mark a method as the handler of the given message types."""

    def mark(fn: F) -> F:
        fn.__aiway_handles__ = message_types  # type: ignore[attr-defined]
        return fn

    return mark


class Context(Protocol):
    """Everything a behaviour may do. Nothing here blocks or raises into the caller."""

    @property
    def self_ref(self) -> ActorRef:
        """This actor's own ref."""
        ...

    def tell(self, ref: ActorRef, msg: object) -> Delivery:
        """Send without blocking; the target's mailbox decides (accept/coalesce/reject)."""
        ...

    def schedule(self, delay: float, msg: object) -> TimerId:
        """Deliver ``msg`` to this actor after ``delay`` seconds (a loop timer, no polling)."""
        ...

    def cancel(self, timer: TimerId) -> None:
        """Cancel a scheduled timer; unknown or fired timers are ignored."""
        ...

    def spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        *,
        mailbox: MailboxConfig | None = None,
        policy: SupervisorPolicy | None = None,
    ) -> ActorRef:
        """Start a child actor; it stops when this actor stops."""
        ...

    def stop(self) -> None:
        """Stop this actor after the current handler returns."""
        ...

    def now(self) -> float:
        """The host's clock in seconds (monotonic; injectable in tests)."""
        ...

    def lookup(self, name: str) -> ActorRef | None:
        """The ref of a running actor by its name."""
        ...

    def notify_when_drained(self, ref: ActorRef, msg: object) -> None:
        """Tell ``msg`` to this actor once ``ref``'s mailbox falls to its low watermark."""
        ...


class EdgeContext(Context, Protocol):
    """The context of an edge actor: a context plus the asyncio loop and awaited puts."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop this actor runs on."""
        ...

    def create_task(self, coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` as a task owned by this actor; it is cancelled when the actor stops."""
        ...

    async def put(self, ref: ActorRef, msg: object, timeout: float | None) -> Delivery:
        """Send, awaiting mailbox space up to ``timeout`` (raises ``MailboxFull``)."""
        ...


class Behaviour:
    """Base class of every actor. Subclasses mark handlers with ``@handles``.

    Lifecycle hooks: ``on_start`` runs before the first message (and after each
    restart), ``on_stop`` when the actor stops. A message with no handler goes
    to ``on_unhandled``, which logs it.
    """

    _handlers: ClassVar[dict[type, Handler]] = {}
    #: edge actors may have async handlers and run only on the asyncio host
    edge: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, Handler] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                for kind in getattr(value, "__aiway_handles__", ()):
                    table[kind] = value
        cls._handlers = table

    def on_start(self, ctx: Context) -> None:
        """Called before the first message and after every restart."""

    def on_stop(self, ctx: Context) -> None:
        """Called once when the actor stops (not on restart)."""

    def on_unhandled(self, ctx: Context, msg: object) -> None:
        """A message with no handler arrived: logged, never raised."""
        log.warning("%s has no handler for %s", type(self).__name__, type(msg).__name__)

    def receive(self, ctx: Context, msg: object) -> object:
        """Dispatch ``msg`` to its handler by exact type, then by base class.

        Returns what the handler returned: None, or an edge handler's awaitable.
        """
        kind = type(msg)
        handler = self._handlers.get(kind)
        if handler is None:
            for base in kind.__mro__[1:]:
                handler = self._handlers.get(base)
                if handler is not None:
                    type(self)._handlers[kind] = handler
                    break
            else:
                self.on_unhandled(ctx, msg)
                return None
        return handler(self, ctx, msg)


class EdgeActor(Behaviour):
    """An actor that owns I/O: its handlers may be ``async def`` (awaited in order)."""

    edge: ClassVar[bool] = True

"""The mailbox's hot paths in C (``_lane.c``); ``Mailbox`` subclasses ``Lane``."""

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

from aiway.actors.runtime.mailbox import Delivery, LatencyHistogram, _Entry

_Target = TypeVar("_Target")
_Ctx = TypeVar("_Ctx")

class Lane:
    _queue: deque[object]
    _control: deque[object]
    on_ready: Callable[[], None]
    _woke_at: float
    _keyed: dict[tuple[type, Hashable], _Entry]
    _latency: LatencyHistogram
    _putters: deque[asyncio.Future[None]]
    _drain_callbacks: list[Callable[[], None]]
    _mark: int
    _stamp_at: int
    _limit: int
    _low: int
    _batch: int
    _processed: int
    _handler_total: float
    _handler_max: float
    _wakes: int
    _asleep: bool
    pressured: bool
    def offer(self, msg: object) -> Delivery:
        """Enqueue without blocking: accepted, coalesced, or rejected by the overflow policy.

        A closed mailbox returns DEAD (and reports it to ``on_dead``).
        """
    def process(
        self,
        handlers: Mapping[type, Callable[[_Target, _Ctx, object], object]],
        target: _Target,
        ctx: _Ctx,
        fallback: Callable[[_Ctx, object], object],
    ) -> object:
        """Handle up to a batch of messages, control lane first.

        Each message goes to ``handlers[type(msg)](target, ctx, msg)``, or to
        ``fallback(ctx, msg)`` when its type has no entry. Stops early when a
        handler returns something other than None (returned to the caller: an
        edge actor's awaitable), or when the lanes are emptied under it
        (``close`` and ``drain_all``: how an actor that stops itself ends the
        batch). An exception from a handler propagates after the message is
        counted.
        """

def bind(
    plain_kinds: set[type],
    accepted: Delivery,
    entry_type: type,
    feed_slot: object,
    bounds: tuple[float, ...],
) -> None: ...

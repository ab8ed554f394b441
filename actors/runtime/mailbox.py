"""The bounded mailbox: two lanes, overflow policies, coalescing and metrics.

A mailbox belongs to one actor. Ordinary messages go to a bounded lane; control
messages (a type with ``control = True``: cancel, stop, quit) go to a separate
lane that is handled first and is never coalesced or dropped. A message type
declares how it coalesces, never the sender:

* ``coalesce_key`` (a property returning a hashable or ``None``): a newer
  message with the same key replaces the queued one in place.
* ``merge(newer)`` (a method returning the merged message or ``None``): when the
  newest queued message merges with the incoming one, the two become one.

The mailbox never schedules anything itself: it calls ``on_ready`` when it goes
from empty to non-empty, and the actor cell schedules one run on the loop.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Callable, Hashable
from time import perf_counter
from typing import Any

import attrs

from actors.runtime.errors import MailboxFull


class OverflowPolicy(enum.Enum):
    """What a full mailbox does with one more ordinary message."""

    REJECT = "reject"  #: refuse the new message; ``offer`` returns REJECTED
    DROP_OLDEST = "drop_oldest"  #: evict the oldest queued message, take the new one
    DROP_NEWEST = "drop_newest"  #: discard the new message (counted as rejected)


class Delivery(enum.Enum):
    """What happened to one offered message."""

    ACCEPTED = "accepted"
    COALESCED = "coalesced"
    REJECTED = "rejected"
    DEAD = "dead"

    @property
    def ok(self) -> bool:
        """True when the message will be (or has been folded into one that will be) handled."""
        return self is Delivery.ACCEPTED or self is Delivery.COALESCED


@attrs.frozen(slots=True)
class MailboxConfig:
    """Bounds of one mailbox; every one is explicit and configurable."""

    capacity: int = 1024
    policy: OverflowPolicy = OverflowPolicy.REJECT
    #: fraction of capacity at which the mailbox enters the pressured state
    high_watermark: float = 0.8
    #: fraction of capacity at which it leaves it again (no flapping)
    low_watermark: float = 0.5
    #: messages handled per scheduled run before yielding to the loop
    batch: int = 256

    def __attrs_post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"mailbox capacity must be >= 1, got {self.capacity}")
        if not 0 < self.low_watermark <= self.high_watermark <= 1:
            raise ValueError(
                "mailbox watermarks need 0 < low <= high <= 1, got "
                f"low={self.low_watermark} high={self.high_watermark}"
            )


class LatencyHistogram:
    """Fixed-size log-linear histogram of durations: O(1) per sample, no growth.

    Each power of two of nanoseconds is split into four sub-buckets, so a
    reported percentile is within about 12% of the true value.
    """

    __slots__ = ("count", "counts")

    _BUCKETS = 64 * 4

    def __init__(self) -> None:
        self.counts = [0] * self._BUCKETS
        self.count = 0

    def add(self, seconds: float) -> None:
        """Record one duration (negative durations count as zero)."""
        ns = int(seconds * 1e9)
        if ns < 8:
            index = max(ns, 0)
        else:
            bits = ns.bit_length()
            index = bits * 4 + ((ns >> (bits - 3)) & 3)
        self.counts[index] += 1
        self.count += 1

    def percentile(self, fraction: float) -> float:
        """The duration in seconds below which ``fraction`` of samples fall (0.0 when empty)."""
        if self.count == 0:
            return 0.0
        rank = fraction * self.count
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank and n:
                return self._bucket_value(index) / 1e9
        return 0.0

    @staticmethod
    def _bucket_value(index: int) -> float:
        if index < 8:
            return float(index)
        bits, sub = divmod(index, 4)
        low = (4 + sub) << (bits - 3)
        high = (5 + sub) << (bits - 3)
        return (low + high) / 2


@attrs.frozen(slots=True)
class MailboxStats:
    """An immutable snapshot of one mailbox's counters."""

    name: str
    """The owning actor's name."""
    capacity: int
    """Most ordinary messages the mailbox holds."""
    depth: int
    """Ordinary messages queued now."""
    control_depth: int
    """Control messages queued now."""
    high_water: int
    """Largest ordinary depth ever seen."""
    accepted: int
    """Messages let in (including ones later coalesced away)."""
    coalesced: int
    """Messages merged into, or replacing, a queued one."""
    rejected: int
    """Messages refused or discarded on arrival because the mailbox was full."""
    dropped: int
    """Queued messages evicted by drop_oldest."""
    blocked_puts: int
    """Edge puts that had to wait for space."""
    blocked_seconds: float
    """Total time edge puts spent waiting for space."""
    put_timeouts: int
    """Edge puts that gave up waiting."""
    processed: int
    """Messages handed to the actor's handler."""
    handler_seconds_total: float
    """Total time spent in handlers."""
    handler_seconds_max: float
    """Longest single handler call."""
    latency_p50: float
    """Median enqueue-to-handle latency, seconds."""
    latency_p99: float
    """99th percentile enqueue-to-handle latency, seconds."""
    pressured: bool
    """True between crossing the high watermark and falling to the low one."""


_KEYED = object()
"""Marks a queue entry whose message lives in the mailbox's keyed slots."""


class _Coalescing:
    """Per-type cache of how a message type coalesces (looked up once per type)."""

    __slots__ = ("by_type",)

    def __init__(self) -> None:
        self.by_type: dict[type, tuple[bool, bool, bool]] = {}

    def of(self, kind: type) -> tuple[bool, bool, bool]:
        found = self.by_type.get(kind)
        if found is None:
            found = (
                bool(getattr(kind, "control", False)),
                hasattr(kind, "coalesce_key"),
                hasattr(kind, "merge"),
            )
            self.by_type[kind] = found
        return found


_COALESCING = _Coalescing()


class Mailbox:
    """A bounded two-lane mailbox. Not thread-safe: used from the loop thread only.

    ``offer`` never blocks and never raises; ``put`` (edge producers only)
    awaits space with a timeout and raises ``MailboxFull`` when it runs out.
    """

    __slots__ = (
        "_accepted",
        "_blocked_puts",
        "_blocked_seconds",
        "_coalesced",
        "_control",
        "_drain_callbacks",
        "_dropped",
        "_handler_max",
        "_handler_total",
        "_high",
        "_high_water",
        "_keyed",
        "_latency",
        "_low",
        "_processed",
        "_put_timeouts",
        "_putters",
        "_queue",
        "_rejected",
        "closed",
        "config",
        "name",
        "on_ready",
        "pressured",
    )

    def __init__(
        self,
        name: str,
        config: MailboxConfig | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.config = config or MailboxConfig()
        self.on_ready = on_ready
        # Entries are tuples (tuples of two and three come from CPython's free
        # lists, so a steady stream of messages allocates nothing per entry):
        # ``(message, enqueued_at)``, or ``(_KEYED, enqueued_at, slot)`` for a
        # message with a coalesce key, whose newest version waits in ``_keyed``.
        self._queue: deque[tuple[Any, ...]] = deque()
        self._control: deque[tuple[Any, float]] = deque()
        self._keyed: dict[tuple[type, Hashable], object] = {}
        self._high = max(1, int(self.config.capacity * self.config.high_watermark))
        self._low = int(self.config.capacity * self.config.low_watermark)
        self._putters: deque[asyncio.Future[None]] = deque()
        self._drain_callbacks: list[Callable[[], None]] = []
        self._latency = LatencyHistogram()
        self.pressured = False
        self.closed = False
        self._accepted = 0
        self._coalesced = 0
        self._rejected = 0
        self._dropped = 0
        self._blocked_puts = 0
        self._blocked_seconds = 0.0
        self._put_timeouts = 0
        self._processed = 0
        self._handler_total = 0.0
        self._handler_max = 0.0
        self._high_water = 0

    # -- producing ---------------------------------------------------------

    def offer(self, msg: object) -> Delivery:
        """Enqueue without blocking: accepted, coalesced, or rejected by the overflow policy."""
        if self.closed:
            return Delivery.DEAD
        control, keyed, mergeable = _COALESCING.of(type(msg))
        was_empty = not self._queue and not self._control
        if control:
            self._control.append((msg, perf_counter()))
            self._accepted += 1
            if was_empty and self.on_ready is not None:
                self.on_ready()
            return Delivery.ACCEPTED
        queue = self._queue
        if queue and mergeable:
            last = queue[-1]
            queued = last[0]
            if type(queued) is type(msg):
                merged = queued.merge(msg)  # type: ignore[attr-defined]
                if merged is not None:
                    queue[-1] = (merged, last[1])
                    self._accepted += 1
                    self._coalesced += 1
                    return Delivery.COALESCED
        slot: tuple[type, Hashable] | None = None
        if keyed:
            key = msg.coalesce_key  # type: ignore[attr-defined]
            if key is not None:
                slot = (type(msg), key)
                if slot in self._keyed:
                    self._keyed[slot] = msg
                    self._accepted += 1
                    self._coalesced += 1
                    return Delivery.COALESCED
        if len(queue) >= self.config.capacity:
            policy = self.config.policy
            if policy is OverflowPolicy.DROP_OLDEST:
                self._unwrap(queue.popleft())
                self._dropped += 1
            else:
                self._rejected += 1
                return Delivery.REJECTED
        if slot is None:
            queue.append((msg, perf_counter()))
        else:
            self._keyed[slot] = msg
            queue.append((_KEYED, perf_counter(), slot))
        self._accepted += 1
        depth = len(queue)
        self._high_water = max(self._high_water, depth)
        if depth >= self._high:
            self.pressured = True
        if was_empty and self.on_ready is not None:
            self.on_ready()
        return Delivery.ACCEPTED

    async def put(self, msg: object, timeout: float | None) -> Delivery:
        """Enqueue, waiting up to ``timeout`` seconds for space (edge producers only).

        Raises ``MailboxFull`` when no space came in time. Control messages and
        coalescing messages never wait.
        """
        if self.closed:
            return Delivery.DEAD
        if len(self._queue) < self.config.capacity or self.config.policy is not (
            OverflowPolicy.REJECT
        ):
            return self.offer(msg)
        result = self.offer(msg)  # may still coalesce or be a control message
        if result is not Delivery.REJECTED:
            return result
        self._rejected -= 1  # not a rejection yet: we wait
        self._blocked_puts += 1
        started = perf_counter()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while len(self._queue) >= self.config.capacity and not self.closed:
                waiter: asyncio.Future[None] = loop.create_future()
                self._putters.append(waiter)
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                try:
                    await asyncio.wait_for(waiter, remaining)
                except TimeoutError:
                    if waiter in self._putters:
                        self._putters.remove(waiter)
                    raise
        except TimeoutError:
            self._put_timeouts += 1
            self._rejected += 1
            raise MailboxFull(
                f"mailbox of {self.name!r} stayed full ({self.config.capacity} messages) "
                f"for {timeout}s"
            ) from None
        finally:
            self._blocked_seconds += perf_counter() - started
        return self.offer(msg)

    # -- consuming -----------------------------------------------------------

    def take(self) -> tuple[Any, float] | None:
        """Remove and return the next ``(message, enqueued_at)``: control lane first."""
        if self._control:
            return self._control.popleft()
        if not self._queue:
            return None
        entry = self._unwrap(self._queue.popleft())
        self._after_take()
        return entry

    def record(self, latency: float, handler_seconds: float) -> None:
        """Count one handled message with its queueing latency and handler time."""
        self._processed += 1
        self._latency.add(latency)
        self._handler_total += handler_seconds
        self._handler_max = max(self._handler_max, handler_seconds)

    def __len__(self) -> int:
        return len(self._queue) + len(self._control)

    def drain_all(self) -> list[object]:
        """Empty both lanes and return what was queued (for dead-lettering on stop)."""
        left = [entry[0] for entry in self._control]
        left += [self._unwrap(entry)[0] for entry in self._queue]
        self._control.clear()
        self._queue.clear()
        self._keyed.clear()
        self._after_take()
        return left

    def close(self) -> None:
        """Refuse everything from now on and release waiting producers."""
        self.closed = True
        while self._putters:
            waiter = self._putters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def notify_when_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when the depth next falls to the low watermark or below."""
        if len(self._queue) <= self._low:
            callback()
        else:
            self._drain_callbacks.append(callback)

    # -- internals -----------------------------------------------------------

    def _unwrap(self, entry: tuple[Any, ...]) -> tuple[Any, float]:
        """A keyed entry holds its slot; the newest message for that slot is in ``_keyed``."""
        if entry[0] is _KEYED:
            return (self._keyed.pop(entry[2]), entry[1])
        return entry

    def _after_take(self) -> None:
        depth = len(self._queue)
        if depth > self._low:
            return
        if self.pressured:
            self.pressured = False
        while self._putters:
            waiter = self._putters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        if self._drain_callbacks:
            callbacks, self._drain_callbacks = self._drain_callbacks, []
            for callback in callbacks:
                callback()

    def stats(self) -> MailboxStats:
        """A consistent snapshot of every counter."""
        return MailboxStats(
            name=self.name,
            capacity=self.config.capacity,
            depth=len(self._queue),
            control_depth=len(self._control),
            high_water=self._high_water,
            accepted=self._accepted,
            coalesced=self._coalesced,
            rejected=self._rejected,
            dropped=self._dropped,
            blocked_puts=self._blocked_puts,
            blocked_seconds=self._blocked_seconds,
            put_timeouts=self._put_timeouts,
            processed=self._processed,
            handler_seconds_total=self._handler_total,
            handler_seconds_max=self._handler_max,
            latency_p50=self._latency.percentile(0.5),
            latency_p99=self._latency.percentile(0.99),
            pressured=self.pressured,
        )

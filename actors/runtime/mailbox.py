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
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Hashable
from time import perf_counter

import attrs

from aiway.actors.runtime.errors import MailboxFull

try:
    from aiway.actors.runtime._lane import Lane, bind
except ImportError as exc:  # a checkout that was never installed
    raise ImportError(
        "aiway's mailbox core (actors/runtime/_lane.c) is not compiled here: install "
        "aiway (`pip install -e .` in a checkout, or `.ci/just setup`), which compiles it"
    ) from exc


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
    batch: int = 512

    def __attrs_post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"mailbox capacity must be >= 1, got {self.capacity}")
        if not 0 < self.low_watermark <= self.high_watermark <= 1:
            raise ValueError(
                "mailbox watermarks need 0 < low <= high <= 1, got "
                f"low={self.low_watermark} high={self.high_watermark}"
            )


def _bucket_bounds() -> tuple[float, ...]:
    """Upper bounds of the latency buckets: 0.5 us, then ~12% apart up to ~100 s."""
    bounds = [0.5e-6]
    while bounds[-1] < 100.0:
        bounds.append(bounds[-1] * 1.125)
    return tuple(bounds)


_BOUNDS = _bucket_bounds()


class LatencyHistogram:
    """Fixed-size histogram of durations: O(1) per sample, no growth, no allocation.

    Buckets grow by 12.5% from half a microsecond to about 100 seconds (about
    180 of them), so a percentile is within about 6% of the true value. A
    sample costs one ``bisect`` in C; its result is a small cached int.
    """

    __slots__ = ("carries", "counts")

    BOUNDS = _BOUNDS

    def __init__(self) -> None:
        #: per bucket, samples modulo 256: small ints are cached, so counting allocates
        #: nothing; ``carries`` counts each bucket's wraps (one int made per 256 samples)
        self.counts = [0] * (len(_BOUNDS) + 1)
        self.carries = [0] * (len(_BOUNDS) + 1)

    def add(self, seconds: float) -> None:
        """Record one duration."""
        index = bisect_right(_BOUNDS, seconds)
        low = self.counts[index] + 1
        if low == 256:
            self.carries[index] += 1
            low = 0
        self.counts[index] = low

    @property
    def count(self) -> int:
        """Samples recorded."""
        return sum(self.counts) + 256 * sum(self.carries)

    def totals(self) -> list[int]:
        """Samples per bucket."""
        return [low + 256 * high for low, high in zip(self.counts, self.carries, strict=True)]

    def percentile(self, fraction: float) -> float:
        """The duration in seconds below which ``fraction`` of samples fall (0.0 when empty)."""
        totals = self.totals()
        total = sum(totals)
        if total == 0:
            return 0.0
        rank = fraction * total
        seen = 0
        for index, n in enumerate(totals):
            seen += n
            if n and seen >= rank:
                if index == 0:
                    return _BOUNDS[0] / 2
                if index >= len(_BOUNDS):
                    return _BOUNDS[-1]
                return (_BOUNDS[index - 1] + _BOUNDS[index]) / 2
        return 0.0


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


class _Entry:
    """A queue item that carries more than the message: its enqueue time, its coalescing slot.

    Most items are the bare message (nothing allocated per message); every
    eighth ordinary message, every control message and every message with a
    coalesce key is wrapped, so latency is sampled and replacement is in place.
    """

    __slots__ = ("at", "msg", "slot")

    def __init__(self, msg: object, at: float, slot: tuple[type, Hashable] | None) -> None:
        self.msg = msg
        self.at = at
        self.slot = slot


#: about one ordinary message in this many is stamped for the latency histogram (the
#: one that wakes an idle mailbox always is)
STAMP_EVERY = 64

#: the coalescing slot of a queue item that is a ``Cursor`` into a ``Broadcast`` log
_FEED: tuple[type, Hashable] = (object, "feed")

# How a message type coalesces, looked up once per type (identity-compared sentinels).
_PLAIN = 0
_CONTROL = 1
_MERGES = 2
_KEYED_TYPE = 3
_FLAGS: dict[type, int] = {}
#: the plain types seen so far: ``offer``'s fast path is one set lookup
_PLAIN_KINDS: set[type] = set()


def _flags_of(kind: type) -> int:
    if getattr(kind, "control", False):
        flags = _CONTROL
    elif hasattr(kind, "merge"):
        flags = _MERGES
    elif hasattr(kind, "coalesce_key"):
        flags = _KEYED_TYPE
    else:
        flags = _PLAIN
        _PLAIN_KINDS.add(kind)
    _FLAGS[kind] = flags
    return flags


# Enum members looked up once: attribute access on an Enum class is slow on the hot path.
_ACCEPTED = Delivery.ACCEPTED
_COALESCED = Delivery.COALESCED
_REJECTED = Delivery.REJECTED
_DEAD = Delivery.DEAD

# What the C base reads: the plain types (the set grows as types are seen), the answer
# a plain tell gets, what a run unwraps, and the latency buckets. C reads the clock of
# ``perf_counter`` itself.
bind(_PLAIN_KINDS, _ACCEPTED, _Entry, _FEED, _BOUNDS)


def _nothing() -> None:
    """The ``on_ready`` of a mailbox nobody drives (tests and tools call ``take``)."""


class Mailbox(Lane):
    """A bounded two-lane mailbox. Not thread-safe: used from the loop thread only.

    Its two hot paths are in C, in the base class ``Lane`` (``_lane.c``): ``offer``
    for a plain message below the mark, and ``process``, the whole run. Everything
    else is here, and the fields both share are the base's.

    ``offer`` never blocks and never raises; ``put`` (edge producers only)
    awaits space with a timeout and raises ``MailboxFull`` when it runs out.
    """

    __slots__ = (
        "_blocked_puts",
        "_blocked_seconds",
        "_capacity",
        "_coalesced",
        "_dropped",
        "_high",
        "_high_water",
        "_put_timeouts",
        "_rejected",
        "closed",
        "config",
        "name",
        "on_dead",
    )

    def __init__(
        self,
        name: str,
        config: MailboxConfig | None = None,
        on_ready: Callable[[], None] | None = None,
        on_dead: Callable[[str, object], None] | None = None,
    ) -> None:
        self.name = name
        self.config = config or MailboxConfig()
        self._capacity = self.config.capacity
        self.on_ready: Callable[[], None] = on_ready or _nothing
        self.on_dead = on_dead
        # True while empty and nobody is scheduled to drain it: the next offer wakes the owner
        self._asleep = True
        # Items are bare messages or ``_Entry`` wrappers (see ``_Entry``).
        self._queue: deque[object] = deque()
        self._control = deque()
        self._keyed: dict[tuple[type, Hashable], _Entry] = {}
        # Latency samples: every eighth message that wakes the idle mailbox (its
        # enqueue time kept here, no wrapper) and about every ``STAMP_EVERY``-th one
        # (wrapped in a stamped ``_Entry`` by the slow path, which ``_stamp_at``
        # sends it to: see ``_mark``).
        self._woke_at = 0.0
        self._wakes = 0
        self._stamp_at = 0
        self._high = max(1, int(self.config.capacity * self.config.high_watermark))
        self._low = int(self.config.capacity * self.config.low_watermark)
        self._putters: deque[asyncio.Future[None]] = deque()
        self._drain_callbacks: list[Callable[[], None]] = []
        self._latency = LatencyHistogram()
        self.pressured = False
        self.closed = False
        self._coalesced = 0
        self._rejected = 0
        self._dropped = 0
        self._blocked_puts = 0
        self._blocked_seconds = 0.0
        self._put_timeouts = 0
        self._processed = 0
        self._batch = self.config.batch
        self._handler_total = 0.0
        self._handler_max = 0.0
        self._high_water = 0
        # ``offer``'s fast path runs while the depth is below ``_mark``: the lower of
        # ``_limit`` (full, a new high-water mark, the high watermark; -1 when closed)
        # and ``_stamp_at`` (the depth at which the next message is stamped).
        self._limit = 0
        self._mark = 0

    # -- producing ---------------------------------------------------------

    # ``offer`` is the C base's (``Lane.offer``): a plain message below the mark is
    # appended bare there (see _lane.c); everything else comes here.

    def _offer(self, msg: object) -> Delivery:
        """``offer`` for everything but a plain message below the mark."""
        kind = type(msg)
        flags = _FLAGS.get(kind)
        if flags is None:
            flags = _flags_of(kind)
        if self.closed:
            return self._refuse(msg, 0) or _DEAD
        queue = self._queue
        if flags == _CONTROL:
            self._control.append(_Entry(msg, perf_counter(), None))
            if self._asleep:
                self._wake()
            return _ACCEPTED
        slot: tuple[type, Hashable] | None = None
        if flags == _MERGES:
            if queue:
                last = queue[-1]
                stamped = last if type(last) is _Entry else None
                queued = last if stamped is None else stamped.msg
                if type(queued) is kind and (stamped is None or stamped.slot is None):
                    merged = queued.merge(msg)  # type: ignore[attr-defined]
                    if merged is not None:
                        if stamped is None:
                            queue[-1] = merged
                        else:
                            stamped.msg = merged
                        self._coalesced += 1
                        return _COALESCED
        elif flags == _KEYED_TYPE:  # a newer message replaces the queued one in place
            key = msg.coalesce_key  # type: ignore[attr-defined]
            if key is not None:
                slot = (kind, key)
                queued_entry = self._keyed.get(slot)
                if queued_entry is not None:
                    queued_entry.msg = msg
                    self._coalesced += 1
                    return _COALESCED
        # One comparison in the common case: ``_limit`` is the lowest depth at
        # which anything happens (full, a new high-water mark, the high watermark).
        depth = len(queue)
        if depth >= self._limit:
            if self._high_water <= depth < self._capacity and (
                depth + 1 < self._high or self.pressured
            ):  # only a new high-water mark (a young mailbox's): the next depth is the next
                self._high_water = self._limit = depth + 1
            else:
                refused = self._refuse(msg, depth)
                if refused is not None:
                    return refused
        stamp_at = self._stamp_at
        if slot is not None:
            entry = _Entry(msg, perf_counter(), slot)
            self._keyed[slot] = entry
            queue.append(entry)
        elif depth >= stamp_at:  # about every STAMP_EVERY-th message: stamped
            self._stamp_at = stamp_at = depth + STAMP_EVERY
            queue.append(_Entry(msg, perf_counter(), None))
        elif self._asleep:  # bare, and it wakes the mailbox: as in ``offer``
            queue.append(msg)
            if self._wakes:
                self._wakes -= 1
            else:
                self._wakes = 7
                self._woke_at = perf_counter()
        else:
            queue.append(msg)
        limit = self._limit
        self._mark = stamp_at if stamp_at < limit else limit
        if self._asleep:
            self._wake()
        return _ACCEPTED

    def _refuse(self, msg: object, depth: int) -> Delivery | None:
        """Slow path of ``offer`` at the mark: closed, full (the overflow policy), or
        a new high-water or high watermark. None means: go on and append."""
        if self.closed:
            if self.on_dead is not None:
                self.on_dead(self.name, msg)
            return _DEAD
        if depth >= self._capacity:
            if self.config.policy is OverflowPolicy.DROP_OLDEST:
                self._unwrap(self._queue.popleft())
                self._woke_at = 0.0  # it may have been the stamped wake-up message
                self._dropped += 1
                depth -= 1
            else:
                self._rejected += 1
                return _REJECTED
        if depth + 1 > self._high_water:
            self._high_water = depth + 1
        if depth + 1 >= self._high:
            self.pressured = True
        self._reset_mark()
        return None

    def _wake(self) -> None:
        """The mailbox was empty and idle: its owner must schedule a run."""
        self._asleep = False
        self.on_ready()

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

    def _enqueue_feed(self, item: _Entry) -> Delivery:
        """Queue a cursor's item (``Cursor.push``): one queue slot for all it will read."""
        if self.closed:
            return _DEAD
        if len(self._queue) >= self._capacity:
            self._rejected += 1
            return _REJECTED
        self._queue.append(item)
        if self._asleep:
            self._wake()
        return _ACCEPTED

    def _withdraw(self, item: _Entry) -> None:
        """Take a cursor's item out of the queue (rare: a flush, a resync, a close)."""
        if item in self._queue:
            self._queue.remove(item)

    # -- consuming -----------------------------------------------------------

    def take(self) -> object | None:
        """Remove and return the next message (control lane first), or None when empty.

        For tests and tools; actors are driven by ``process``.
        """
        if self._control:
            return self._unwrap(self._control.popleft())
        self._woke_at = 0.0  # the wake-up message is not timed when taken this way
        while self._queue:
            msg = self._unwrap(self._queue.popleft())
            if msg is None:  # a cursor with nothing left to read
                continue
            if len(self._queue) <= self._low:
                self._after_take()
            return msg
        self._asleep = True
        return None

    def record(self, latency: float, handler_seconds: float) -> None:
        """Count one handled message with its queueing latency and handler time."""
        self._processed += 1
        self._latency.add(latency)
        self._handler_total += handler_seconds
        if handler_seconds > self._handler_max:
            self._handler_max = handler_seconds

    # ``process`` is the C base's (``Lane.process``, see _lane.c): a run of up to
    # ``batch`` messages, control lane first, then the counters, the next stamp and
    # the mark settled, and ``_after_take`` at the low watermark.

    def __len__(self) -> int:
        return len(self._queue) + len(self._control)

    def drain_all(self) -> list[object]:
        """Empty both lanes and return what was queued (for dead-lettering on stop)."""
        left = [self._unwrap(entry) for entry in self._control]
        for entry in list(self._queue):
            if type(entry) is _Entry and entry.slot is _FEED:
                entry.msg.close()  # type: ignore[attr-defined]  # its unread messages are the log's
            else:
                left.append(self._unwrap(entry))
        self._control.clear()
        self._queue.clear()
        self._keyed.clear()
        self._after_take()
        return left

    def close(self) -> None:
        """Refuse everything from now on and release waiting producers."""
        self.closed = True
        self._limit = self._mark = -1
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

    def _unwrap(self, item: object) -> object:
        """The message of a queue item (releasing its coalescing slot if it has one).

        A cursor's item yields its log's next message, or None when it has none.
        """
        if type(item) is _Entry:
            slot = item.slot
            if slot is _FEED:
                msg = item.msg.take()  # type: ignore[attr-defined]
                if msg is not None:
                    self._queue.appendleft(item)
                return msg
            if slot is not None:
                del self._keyed[slot]
            return item.msg
        return item

    def _reset_mark(self) -> None:
        """The next depth at which ``offer`` has something to do besides appending."""
        if self.closed:
            self._limit = self._mark = -1
            return
        limit = self._high_water if self._high_water < self._capacity else self._capacity
        if not self.pressured and self._high - 1 < limit:
            limit = self._high - 1
        self._limit = limit
        self._mark = limit if limit < self._stamp_at else self._stamp_at

    def _after_take(self) -> None:
        """At or below the low watermark: leave the pressured state, wake waiters."""
        if self.pressured:
            self.pressured = False
            self._reset_mark()
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
            # every message let in is processed, queued, folded into another, or evicted
            accepted=self._processed
            + len(self._queue)
            + len(self._control)
            + self._coalesced
            + self._dropped,
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


# -- a log that many mailboxes read ------------------------------------------------


class _Link:
    """One slot of a ``Broadcast`` ring: a message, when it was stamped, the next slot."""

    __slots__ = ("at", "msg", "next")

    def __init__(self) -> None:
        self.msg: object = None
        self.at = 0.0
        self.next: _Link = self


#: the largest ``Cursor.bound``: how far a ring grows for one reader
MAX_BOUND = 65536


class Broadcast:
    """A bounded, sequenced ring of messages that many mailboxes read, each with a ``Cursor``.

    The shape of the LMAX Disruptor and of tokio's broadcast channel, on one loop:
    ``append`` writes a message once into the next slot, whatever the number of
    readers, and allocates nothing; each reader's mailbox holds one queue item for
    all it has not read yet (its cursor), woken at most once while it has something
    to read. A reader may fall ``bound`` messages behind (its mailbox's capacity);
    the ring starts small and doubles (up to the largest bound, plus two) before a
    reader's unread messages could reach the slot the next append overwrites, so
    a slot is overwritten only after every reader still reading has read it, and
    a session whose surfaces keep up never pays for its largest bound. A reader
    that would fall further than its bound is refused and paused (lagging).
    """

    __slots__ = ("_tick", "size", "tail")

    def __init__(self, size: int = 256) -> None:
        self.tail = _Link()
        self.size = 1
        self._tick = 0
        self._grow(size)

    def _grow(self, size: int) -> None:
        """Add empty slots after the newest one until the ring holds ``size``."""
        tail = self.tail
        oldest = tail.next
        while self.size < size:
            link = _Link()
            link.next = oldest
            oldest = link
            self.size += 1
        tail.next = oldest

    def append(self, msg: object) -> None:
        """Write ``msg`` into the next slot; wakes nobody (``Cursor.push`` does, per reader).

        Every eighth message is stamped with the time, for the readers' latency.
        """
        link = self.tail.next
        link.msg = msg
        tick = self._tick
        if tick:
            self._tick = tick - 1
            link.at = 0.0
        else:
            self._tick = 7
            link.at = perf_counter()
        self.tail = link

    def cursor(
        self, mailbox: Mailbox, on_drained: Callable[[], None], bound: int | None = None
    ) -> Cursor:
        """A cursor for ``mailbox``, at the newest message (it reads what comes next).

        At most ``bound`` messages (the mailbox's capacity by default, at most
        ``MAX_BOUND``) may wait unread: the next ``push`` is refused, as a full
        mailbox refuses a tell.
        """
        wanted = mailbox.config.capacity if bound is None else bound
        wanted = min(max(wanted, 1), MAX_BOUND)
        return Cursor(self, mailbox, on_drained, wanted)


class Cursor:
    """One mailbox's place in a ``Broadcast`` log: what it read, and how much waits.

    The publisher calls ``push`` after each ``append`` meant for this reader. The
    first push queues the cursor's one item in the mailbox; the mailbox's run then
    reads the log message by message through it, in order and merged as the
    message types declare (``merge``). Nothing is allocated per message per
    reader. A push with ``bound`` messages already unread is refused (REJECTED):
    the reader is lagging. ``pause`` then drops what it had not read and keeps the
    item queued as a marker: when the reader's run reaches it, everything told
    before has been handled and ``on_drained`` is called (the resync's cue).
    """

    __slots__ = (
        "_item",
        "_log",
        "_mailbox",
        "_on_drained",
        "bound",
        "closed",
        "link",
        "paused",
        "queued",
        "unread",
    )

    def __init__(
        self, log: Broadcast, mailbox: Mailbox, on_drained: Callable[[], None], bound: int
    ) -> None:
        self._log = log
        self._mailbox = mailbox
        self._on_drained = on_drained
        self._item = _Entry(self, 0.0, _FEED)
        self.bound = bound
        #: the last message read (or skipped); None while paused or closed
        self.link: _Link | None = log.tail
        #: messages pushed and not yet read
        self.unread = 0
        self.queued = False
        self.paused = False
        self.closed = False

    @property
    def last_read(self) -> object:
        """The last message this cursor handed its mailbox (None before the first)."""
        return None if self.link is None else self.link.msg

    def push(self) -> Delivery:
        """One more message (the log's newest) is for this reader.

        ACCEPTED, REJECTED (``bound`` messages unread, or the mailbox is full and
        cannot queue the cursor's item) or DEAD (the mailbox is closed).
        """
        unread = self.unread
        if unread:
            if unread >= self.bound:
                return _REJECTED
            log = self._log
            if unread + 3 > log.size:  # keep the next append off what this reader still needs
                log._grow(min(max(2 * log.size, unread + 3), self.bound + 2))
            self.unread = unread + 1
            return _ACCEPTED
        if self.paused:  # nothing more until resumed
            return _REJECTED
        self.unread = 1
        if self.queued:  # its item is still in the queue, with nothing left to read
            return _ACCEPTED
        result = self._mailbox._enqueue_feed(self._item)
        if result is _ACCEPTED:
            self.queued = True
        else:
            self.unread = 0
        return result

    def take(self) -> object | None:
        """The next message to handle (called by the mailbox's run), or None: the item
        leaves the queue (caught up, or the drain marker of a paused cursor)."""
        unread = self.unread
        if not unread:
            self.queued = False
            if self.paused and not self.closed:
                self._on_drained()
            return None
        link = self.link.next  # type: ignore[union-attr]  # unread > 0: never None
        msg = link.msg
        unread -= 1
        if unread:  # behind: fold what merges into one handler call
            kind = type(msg)
            flags = _FLAGS.get(kind)
            if flags is None:
                flags = _flags_of(kind)
            if flags == _MERGES:
                merge = kind.merge  # type: ignore[union-attr]  # the function: no bound method
                mailbox = self._mailbox
                while unread:
                    following = link.next
                    theirs = following.msg
                    if type(theirs) is not kind:
                        break
                    merged = merge(msg, theirs)
                    if merged is None:
                        break
                    msg = merged
                    link = following
                    unread -= 1
                    mailbox._coalesced += 1
        self.link = link
        self.unread = unread
        if link.at:  # a stamped message: time it from its append
            self._mailbox._latency.add(perf_counter() - link.at)
        return msg

    def flush(self) -> bool:
        """Hand what is unread to the mailbox as ordinary messages now, at the end of its
        queue; before a message told directly must follow them. False: the mailbox
        refused one (the rest is dropped; the reader is behind from ``last_read`` on)."""
        if not self.queued or self.paused:
            return True
        mailbox = self._mailbox
        mailbox._withdraw(self._item)
        self.queued = False
        link = self.link
        unread = self.unread
        self.unread = 0
        ok = True
        while unread and ok:
            link = link.next  # type: ignore[union-attr]
            ok = mailbox.offer(link.msg).ok
            if ok:
                self.link = link
            unread -= 1
        if ok:
            self.link = self._log.tail
        return ok

    def pause(self) -> bool:
        """Stop reading: what was unread is dropped, and the log is let go. True when the
        cursor's item is still queued and will call ``on_drained`` once reached."""
        self.unread = 0
        self.paused = True
        self.link = None
        return self.queued

    def resume(self) -> None:
        """Read again from the log's next message (after a resync)."""
        if self.queued:
            self._mailbox._withdraw(self._item)
            self.queued = False
        self.unread = 0
        self.paused = False
        self.link = self._log.tail

    def close(self) -> None:
        """Read nothing more; let go of the log."""
        if self.queued:
            self._mailbox._withdraw(self._item)
            self.queued = False
        self.closed = True
        self.unread = 0
        self.link = None

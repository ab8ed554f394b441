"""The Store actor's write path: queue, group, hand over one transaction at a time, retry.

Operations are queued in order. ``write_delay`` after the first of them the
queue hands everything queued to the ``HistoryStore`` as one transaction
(group commit: a question and a short answer go together, and the store's
thread keeps out of the way of the stream that just started). At most one
transaction is in flight; what arrives meanwhile goes in the next, bigger one.
A checkpoint of an answer joins one still queued (its new text appended). A
failed transaction is put back at the front and retried with a doubling
backoff; the person is told once when saving fails and once when it works
again. While it fails the queue is bounded (``max_queued`` writes, queued and
in flight): past that, new writes are not kept, the person is told once, with
the reason the disk gave, and the log says how many were lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import attrs

from aiway.actors.protocol import NotifyLevel
from aiway.actors.runtime import Context
from aiway.actors.store.history import StoreBackend
from aiway.actors.store.records import AppendMessage, UpdateMessage, WriteOp

log = logging.getLogger(__name__)

WRITE_DELAY: Final = 0.02
"""Seconds queued writes wait to be grouped into one transaction."""
MAX_QUEUED: Final = 1000
"""Writes held while the disk refuses them (``history.max_queued_writes``)."""
_BACKOFF_INITIAL: Final = 0.5
_BACKOFF_MAX: Final = 10.0


@attrs.frozen(slots=True)
class Flush:
    """The write delay is over: hand what is queued to the store."""


@attrs.frozen(slots=True)
class Written:
    """A transaction ended: ``error`` None, or why it was rolled back."""

    batch: tuple[WriteOp, ...]
    error: BaseException | None


@attrs.frozen(slots=True)
class Retry:
    """The backoff after a failed transaction is over."""


FLUSH: Final = Flush()
RETRY: Final = Retry()

Notifier = Callable[[Context, NotifyLevel, str], None]


class WriteQueue:
    """Owned by one Store actor, which forwards ``Flush``, ``Written`` and ``Retry`` to it."""

    def __init__(
        self,
        store: StoreBackend,
        notify: Notifier,
        *,
        write_delay: float = WRITE_DELAY,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.store = store
        self.notify = notify
        self.write_delay = write_delay
        self.max_queued = max_queued
        self.pending: list[WriteOp] = []
        # key of an answer -> index in pending of its queued checkpoint
        self._checkpoints: dict[int, int] = {}
        self._in_flight_ops = 0
        self._last_error: BaseException | None = None
        #: writes not kept because the queue was full (since saving last worked)
        self.dropped = 0
        #: every write not kept, for metrics
        self.dropped_total = 0
        self.flush_asked = False
        self.in_flight = 0
        self.blocked = False
        self.failing = False
        self.backoff = _BACKOFF_INITIAL
        self.stopped = False
        #: transactions committed and rolled back (for tests and metrics)
        self.saved_batches = 0
        self.failed_batches = 0

    @property
    def handed_over(self) -> bool:
        """Every queued write is with the store (or saving is failing and waits to retry)."""
        return not self.pending or self.blocked

    def add(self, ctx: Context, op: WriteOp) -> None:
        """Queue one write; the first of a group starts the write delay.

        Never blocks. When ``max_queued`` writes wait already (the disk refuses
        them), ``op`` is not kept: counted, told once, logged.
        """
        key = _checkpoint_key(op)
        if key is not None:
            index = self._checkpoints.get(key)
            if index is not None:
                joined = _join(self.pending[index], op)
                if joined is not None:
                    self.pending[index] = joined
                    return
        if len(self.pending) + self._in_flight_ops >= self.max_queued:
            self._drop(ctx)
            return
        if key is not None:
            self._checkpoints[key] = len(self.pending)
        self.pending.append(op)
        if not self.flush_asked:
            self.flush_asked = True
            ctx.schedule(self.write_delay, FLUSH)

    def flush(self, ctx: Context) -> None:
        """The write delay is over."""
        self.flush_asked = False
        self.submit(ctx)

    def submit(self, ctx: Context) -> None:
        """Hand what is queued over now, unless a transaction is in flight or backing off."""
        if self.in_flight or self.blocked or not self.pending:
            return
        batch = tuple(self.pending)
        self.pending = []
        self._checkpoints.clear()
        self.in_flight += 1
        self._in_flight_ops += len(batch)
        me = ctx.self_ref

        def done(error: BaseException | None) -> None:
            if not self.stopped:
                me.tell(Written(batch, error))
            elif error is not None:
                log.error("history: %d writes lost while stopping: %s", len(batch), error)

        self.store.write(batch, done)

    def written(self, ctx: Context, msg: Written) -> None:
        """A transaction ended: go on with what waited, or put it back and back off."""
        self.in_flight -= 1
        self._in_flight_ops -= len(msg.batch)
        if msg.error is None:
            self.saved_batches += 1
            if self.failing:
                self.failing = False
                self.backoff = _BACKOFF_INITIAL
                lost = self.dropped
                self.dropped = 0
                text = f"saving to {self.store.path} again"
                if lost:
                    text += f"; {lost} writes made while it failed were lost"
                self.notify(ctx, NotifyLevel.INFO, text)
            self.submit(ctx)
            return
        self.failed_batches += 1
        self._last_error = msg.error
        log.warning("history: a transaction of %d writes failed: %s", len(msg.batch), msg.error)
        self.pending[:0] = msg.batch
        self._checkpoints = {
            key: index
            for index, op in enumerate(self.pending)
            if (key := _checkpoint_key(op)) is not None
        }
        self.blocked = True
        ctx.schedule(self.backoff, RETRY)
        self.backoff = min(self.backoff * 2, _BACKOFF_MAX)
        if not self.failing:
            self.failing = True
            self.notify(
                ctx,
                NotifyLevel.WARNING,
                f"could not save: {msg.error}. Retrying; up to {self.max_queued} writes "
                "wait meanwhile (history.max_queued_writes)",
            )

    def _drop(self, ctx: Context) -> None:
        """The queue is full: the write is not kept; the first of a run is told and logged."""
        self.dropped += 1
        self.dropped_total += 1
        if self.dropped > 1:
            return
        reason = (
            self._last_error
            if self._last_error is not None
            else f"{self.store.path} has not finished a transaction yet"
        )
        log.error(
            "history: %d writes wait and the disk refuses them (%s); newer writes are lost "
            "until it accepts them again",
            self.max_queued,
            reason,
        )
        self.notify(
            ctx,
            NotifyLevel.ERROR,
            f"the history is not being saved: {reason}. {self.max_queued} writes wait; "
            "newer messages are not kept until the disk accepts writes again (free some "
            f"space, or fix the permissions of {self.store.path.parent})",
        )

    def retry(self, ctx: Context) -> None:
        """The backoff is over."""
        self.blocked = False
        self.submit(ctx)

    def stop(self) -> None:
        """The actor stops: hand over the rest at once, with nobody to tell how it went."""
        self.stopped = True
        if self.pending:
            batch, self.pending = tuple(self.pending), []
            self.store.write(batch)


def _checkpoint_key(op: WriteOp) -> int | None:
    """The answer a checkpoint (an append, or a rewrite of a streaming text) is of."""
    if isinstance(op, AppendMessage) or (isinstance(op, UpdateMessage) and op.state is None):
        return op.key
    return None


def _join(queued: WriteOp, op: WriteOp) -> WriteOp | None:
    """One checkpoint that does what ``queued`` then ``op`` do, if they join up."""
    if type(op) is UpdateMessage:
        return op  # a whole rewrite supersedes what was queued for that answer
    if type(op) is not AppendMessage:
        return None
    if type(queued) is AppendMessage and queued.end == op.start:
        return AppendMessage(op.key, queued.start, queued.text + op.text)
    if type(queued) is UpdateMessage and len(queued.content) == op.start:
        return UpdateMessage(op.key, queued.content + op.text)
    return None

"""The Store actor's write path: queue, group, hand over one transaction at a time, retry.

Operations are queued in order. ``write_delay`` after the first of them the
queue hands everything queued to the ``HistoryStore`` as one transaction
(group commit: a question and a short answer go together, and the store's
thread keeps out of the way of the stream that just started). At most one
transaction is in flight; what arrives meanwhile goes in the next, bigger one.
A newer checkpoint of an answer replaces one still queued. A failed
transaction is put back at the front and retried with a doubling backoff; the
person is told once when saving fails and once when it works again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import attrs

from aiway.actors.protocol import NotifyLevel
from aiway.actors.runtime import Context
from aiway.actors.store.history import StoreBackend
from aiway.actors.store.records import UpdateMessage, WriteOp

log = logging.getLogger(__name__)

WRITE_DELAY: Final = 0.02
"""Seconds queued writes wait to be grouped into one transaction."""
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
        self, store: StoreBackend, notify: Notifier, *, write_delay: float = WRITE_DELAY
    ) -> None:
        self.store = store
        self.notify = notify
        self.write_delay = write_delay
        self.pending: list[WriteOp] = []
        # key of an answer -> index in pending of its queued checkpoint
        self._checkpoints: dict[int, int] = {}
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
        """Queue one write; the first of a group starts the write delay."""
        if type(op) is UpdateMessage and op.state is None:
            index = self._checkpoints.get(op.key)
            if index is not None:
                self.pending[index] = op
                return
            self._checkpoints[op.key] = len(self.pending)
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
        if msg.error is None:
            self.saved_batches += 1
            if self.failing:
                self.failing = False
                self.backoff = _BACKOFF_INITIAL
                self.notify(ctx, NotifyLevel.INFO, f"saving to {self.store.path} again")
            self.submit(ctx)
            return
        self.failed_batches += 1
        log.warning("history: a transaction of %d writes failed: %s", len(msg.batch), msg.error)
        self.pending[:0] = msg.batch
        self._checkpoints.clear()
        self.blocked = True
        ctx.schedule(self.backoff, RETRY)
        self.backoff = min(self.backoff * 2, _BACKOFF_MAX)
        if not self.failing:
            self.failing = True
            self.notify(
                ctx,
                NotifyLevel.WARNING,
                f"could not save: {msg.error}. Retrying; nothing is lost while aiway runs",
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

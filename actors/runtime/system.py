"""The asyncio host: actor cells, the actor system, asks, timers, supervision, shutdown.

Scheduling is event driven: a mailbox going from empty to non-empty schedules
its cell once with ``call_soon``; the run handles up to a batch, then yields
and reschedules itself if more remain. Timers are ``call_later`` handles. No
task waits per idle actor and nothing polls, so an idle system never wakes up.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import inspect
import logging
import signal
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from typing import TypeVar

from aiway.actors.runtime.behaviour import Behaviour, Context, Handler, TimerId
from aiway.actors.runtime.errors import ActorStopped, AskTimeout, DuplicateActorName
from aiway.actors.runtime.mailbox import Delivery, Mailbox, MailboxConfig, MailboxStats
from aiway.actors.runtime.messages import ActorFailed
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.supervision import (
    Directive,
    RestartTracker,
    SupervisorPolicy,
    judge_failure,
)

log = logging.getLogger(__name__)

_ACCEPTED = Delivery.ACCEPTED
_COALESCED = Delivery.COALESCED
_DEAD = Delivery.DEAD
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution
# Runs a ready-queue turn may add for actors made ready during it, before it gives
# the loop back (I/O and timers wait at most this many runs more).
_CHAINED_RUNS = 256

R = TypeVar("R")


class _Cell:
    """One running actor: its mailbox, behaviour, timers, children and supervision."""

    def __init__(
        self,
        system: ActorSystem,
        name: str,
        factory: Callable[[], Behaviour],
        mailbox: MailboxConfig | None,
        policy: SupervisorPolicy,
        parent: _Cell | None,
    ) -> None:
        self.system = system
        self.name = name
        self.factory = factory
        self.policy = policy
        self.tracker = RestartTracker(policy)
        self.parent = parent
        self.children: list[_Cell] = []
        self.mailbox = Mailbox(name, mailbox, self._on_ready, system._dead_letter)
        self.ref = ActorRef(name, self.mailbox, system._dead_letter)
        self.behaviour: Behaviour
        self.handlers: Mapping[type, Handler]
        self.receive: Callable[[Context, object], object]
        self._adopt(factory())
        self.ctx = _AsyncioContext(self)
        self.timers: dict[TimerId, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.pending_asks: set[asyncio.Future[object]] = set()
        self.scheduled = False
        self.running = False
        self.suspended = False
        self.stopping = False
        self.stopped = False
        self.stop_requested = False
        self.stopped_future: asyncio.Future[None] = system.loop.create_future()

    # -- delivery ------------------------------------------------------------

    def deliver(self, msg: object) -> Delivery:
        return self.mailbox.offer(msg)

    def fire_timer(self, timer: TimerId, msg: object) -> None:
        """A scheduled timer came due: forget it and deliver its message."""
        self.timers.pop(timer, None)
        self.mailbox.offer(msg)

    def _on_ready(self) -> None:
        if not self.scheduled and not self.running and not self.suspended:
            self.scheduled = True
            system = self.system
            system._ready.append(self)
            if not system._ready_scheduled:
                system._ready_scheduled = True
                system._schedule_turn()

    def _run(self) -> None:
        self.scheduled = False
        if self.stopped or self.suspended:
            return
        self.running = True
        try:
            result = self.mailbox.process(self.handlers, self.behaviour, self.ctx, self.receive)
        except Exception as exc:
            self.running = False
            self._failed(exc)
            return
        self.running = False
        if self.stop_requested:
            self._finalize()
            return
        if result is not None and self.behaviour.edge and inspect.isawaitable(result):
            self._await_handler(result)
            return
        if self.mailbox._asleep:  # a run that empties the mailbox marks it asleep
            if self.stopping:
                self._finalize()
            return
        self._after_run()

    def _adopt(self, behaviour: Behaviour) -> None:
        """Take ``behaviour`` as this actor's (at start and on restart)."""
        self.behaviour = behaviour
        self.handlers = type(behaviour)._handlers
        self.receive = behaviour.receive

    def _after_run(self) -> None:
        if self.stopped:
            return
        if len(self.mailbox):
            if not self.scheduled and not self.suspended:
                self.scheduled = True
                self.system._enqueue(self)
        elif self.stopping:
            self._finalize()

    def _await_handler(self, awaitable: Awaitable[None]) -> None:
        """Run one async edge handler to completion before the next message."""
        self.suspended = True
        task = asyncio.ensure_future(awaitable, loop=self.system.loop)
        self.tasks.add(task)
        task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Future[None]) -> None:
        self.tasks.discard(task)
        self.suspended = False
        if task.cancelled() or self.stopped:
            return
        exc = task.exception()
        if exc is not None:
            self._failed(exc)
        elif self.stop_requested:
            self._finalize()
        else:
            self._after_run()

    # -- supervision ---------------------------------------------------------

    def _failed(self, exc: BaseException) -> None:
        directive, delay, report = judge_failure(
            self.name, exc, self.policy, self.tracker, self.system.clock()
        )
        self.system._report_failure(report)
        if directive is Directive.RESTART and delay is not None:
            self._cancel_timers()
            self.suspended = True
            self.system.loop.call_later(delay, self._restart)
        elif directive is Directive.ESCALATE:
            self._finalize()
            if self.parent is not None and not self.parent.stopped:
                self.parent._failed(exc)
            else:
                self.system._escalated(self.name)
        else:
            self._finalize()

    def _restart(self) -> None:
        if self.stopped:
            return
        self._adopt(self.factory())
        self.suspended = False
        try:
            self.behaviour.on_start(self.ctx)
        except Exception as exc:
            self._failed(exc)
            return
        self._after_run()

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        try:
            self.behaviour.on_start(self.ctx)
        except Exception as exc:
            self._failed(exc)

    def begin_stop(self) -> None:
        """Graceful: handle what is queued, then stop."""
        if self.stopped:
            return
        self.stopping = True
        if not len(self.mailbox) and not self.running and not self.suspended:
            self._finalize()

    def _finalize(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        for child in reversed(self.children):
            child._finalize()
        try:
            self.behaviour.on_stop(self.ctx)
        except Exception:
            log.exception("on_stop of %s raised", self.name)
        self._cancel_timers()
        for task in list(self.tasks):
            task.cancel()
        self.mailbox.close()
        for msg in self.mailbox.drain_all():
            self.system._dead_letter(self.name, msg)
        self.ref._detach()
        for future in list(self.pending_asks):
            if not future.done():
                future.set_exception(ActorStopped(f"actor {self.name!r} stopped before replying"))
        self.pending_asks.clear()
        self.system._forget(self)
        if not self.stopped_future.done():
            self.stopped_future.set_result(None)

    def _cancel_timers(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()


class _AsyncioContext:
    """The context of an actor on the asyncio host (also the edge context)."""

    __slots__ = ("_cell", "_next_timer")

    def __init__(self, cell: _Cell) -> None:
        self._cell = cell
        self._next_timer = 0

    @property
    def self_ref(self) -> ActorRef:
        return self._cell.ref

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._cell.system.loop

    def tell(self, ref: ActorRef, msg: object) -> Delivery:
        return ref.tell(msg)

    def schedule(self, delay: float, msg: object) -> TimerId:
        cell = self._cell
        self._next_timer += 1
        timer = self._next_timer

        cell.timers[timer] = cell.system.loop.call_later(delay, cell.fire_timer, timer, msg)
        return timer

    def cancel(self, timer: TimerId) -> None:
        handle = self._cell.timers.pop(timer, None)
        if handle is not None:
            handle.cancel()

    def spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        *,
        mailbox: MailboxConfig | None = None,
        policy: SupervisorPolicy | None = None,
    ) -> ActorRef:
        return self._cell.system._spawn(name, factory, mailbox, policy, self._cell)

    def stop(self) -> None:
        cell = self._cell
        if cell.running or cell.suspended:
            cell.stop_requested = True
            # Emptying the mailbox now also ends the batch in progress.
            cell.mailbox.close()
            for msg in cell.mailbox.drain_all():
                cell.system._dead_letter(cell.name, msg)
        else:
            cell._finalize()

    def now(self) -> float:
        return self._cell.system.clock()

    def lookup(self, name: str) -> ActorRef | None:
        return self._cell.system.lookup(name)

    def notify_when_drained(self, ref: ActorRef, msg: object) -> None:
        target = self._cell.system._cells.get(ref.name)
        if target is None:
            return
        me = self._cell.ref

        def notify() -> None:
            me.tell(msg)

        target.mailbox.notify_when_drained(notify)

    def create_task(self, coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        cell = self._cell
        task = cell.system.loop.create_task(coro, name=f"{cell.name}:{name}")
        cell.tasks.add(task)
        task.add_done_callback(cell.tasks.discard)
        return task

    async def put(self, ref: ActorRef, msg: object, timeout: float | None) -> Delivery:
        return await self._cell.system.put(ref, msg, timeout)


@types.coroutine
def _one_turn() -> Generator[None, None, None]:
    """Yield to the loop once: the task's next step is queued (``call_soon``) behind
    every callback already queued, as ``asyncio.sleep(0)`` does, without its coroutine."""
    yield


class _Expired(Exception):
    """An ask's deadline passed (turned into ``AskTimeout`` by ``ask``)."""


def _expire(future: asyncio.Future[object]) -> None:
    if not future.done():
        future.set_exception(_Expired())


class ReplyTarget:
    """The target of an ask's reply ref: resolves the future once, counts late replies."""

    __slots__ = ("future", "system")

    def __init__(self, system: ActorSystem, future: asyncio.Future[object]) -> None:
        self.system = system
        self.future = future

    def offer(self, msg: object) -> Delivery:
        if self.future.done():
            self.system.late_replies += 1
            return Delivery.DEAD
        self.future.set_result(msg)
        return Delivery.ACCEPTED


class _ReplyRef(ActorRef):
    """The reply ref of one ask: one object that is both the ref and its target.

    The first reply is kept here (an ask answered within its first loop turn
    needs no future at all) or, once the ask waits longer, resolves its
    future; a reply after that, or after the ask ended, is counted in the
    system's ``late_replies`` and returns DEAD.
    """

    __slots__ = ("_asked", "_future", "_number", "_open", "_reply", "_system")

    def __init__(self, number: int, asked: str, system: ActorSystem) -> None:
        self._number = number
        self._asked = asked
        self._dead = system._dead_letter
        self._target = None
        self._system = system
        self._open = True
        self._future: asyncio.Future[object] | None = None
        self._reply: object  # set by the first reply, read only after it

    @property
    def name(self) -> str:  # type: ignore[override]
        """``ask-<n>:<asked actor>``, made only when someone reads it (not per ask)."""
        return f"ask-{self._number}:{self._asked}"

    def tell(self, msg: object) -> Delivery:
        if self._open:
            future = self._future
            if future is None:
                self._open = False
                self._reply = msg
                return _ACCEPTED
            if not future.done():
                self._open = False
                future.set_result(msg)
                return _ACCEPTED
        self._system.late_replies += 1
        return _DEAD

    @property
    def alive(self) -> bool:
        """True until the ask has its answer (or gave up)."""
        return self._open


class ActorSystem:
    """The asyncio host: spawns actors, delivers messages, asks, stops gracefully.

    Create it inside a running loop (or pass ``loop``). ``stop`` handles queued
    work first, stops actors in reverse start order, and is bounded in time.
    """

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.monotonic,
        dead_letter_log: int = 64,
    ) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self.clock = clock
        self._cells: dict[str, _Cell] = {}
        self._order: list[_Cell] = []
        self._reserved: dict[str, ActorRef] = {}
        # Actors with work, run in order by one loop callback per turn (one
        # ``call_soon`` for all of them, not a Handle per actor per wake-up).
        self._ready: deque[_Cell] = deque()
        self._ready_scheduled = False
        # Bound once, and one context for every run: ``call_soon`` then makes only its
        # Handle (no bound method, no copied context per turn).
        self._run_ready_callback = self._run_ready
        self._context = contextvars.copy_context()
        # On asyncio's own loops (not in debug mode) a turn is one Handle made here and
        # queued again each time, straight onto the loop's ready deque: what
        # ``call_soon`` does, minus its checks, its Python frames and a Handle per turn.
        # Any other loop gets ``call_soon``.
        self._turn: asyncio.Handle | None = None
        self._loop_ready: deque[asyncio.Handle] = deque()
        loop_ready = getattr(self.loop, "_ready", None)
        if (
            isinstance(self.loop, asyncio.BaseEventLoop)
            and type(loop_ready) is deque
            and not self.loop.get_debug()
        ):
            self._loop_ready = loop_ready
            self._turn = asyncio.Handle(self._run_ready, (), self.loop, self._context)
        self.dead_letters = 0
        self.recent_dead_letters: deque[tuple[str, str]] = deque(maxlen=dead_letter_log)
        self.late_replies = 0
        self.failures: deque[ActorFailed] = deque(maxlen=dead_letter_log)
        self.failure_listeners: list[ActorRef] = []
        self.stopped = asyncio.Event()
        self._stopping = False
        self._ask_counter = 0
        # Deadlines of the open asks: (when, sequence number, future), earliest first,
        # answered ones dropped lazily; one loop timer for all of them.
        self._deadlines: list[tuple[float, int, asyncio.Future[object]]] = []
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._deadline_seq = 0
        self._asks_open = 0

    def _enqueue(self, cell: _Cell) -> None:
        self._ready.append(cell)
        if not self._ready_scheduled:
            self._ready_scheduled = True
            self._schedule_turn()

    def _run_ready(self) -> None:
        """Run every actor that was ready when this turn began, and those its runs make
        ready, up to ``_CHAINED_RUNS`` more; any left then run in the next turn.

        A token that passes conductor, registry and surface takes one loop turn, not
        three (each turn of the loop allocates about nine objects of its own), and
        the loop still gets back within a bounded number of runs.
        """
        ready = self._ready
        left = len(ready) + _CHAINED_RUNS
        try:
            while ready and left:  # no range, no iterator: a turn allocates nothing
                left -= 1
                ready.popleft()._run()
        finally:
            if ready:
                self._schedule_turn()
            else:
                self._ready_scheduled = False

    def _schedule_turn(self) -> None:
        """Queue the next ready-queue turn (its flag stays set until it has run)."""
        turn = self._turn
        if turn is None:
            self.loop.call_soon(self._run_ready_callback, context=self._context)
        else:
            self._loop_ready.append(turn)

    # -- actors ----------------------------------------------------------------

    def spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        *,
        mailbox: MailboxConfig | None = None,
        policy: SupervisorPolicy | None = None,
    ) -> ActorRef:
        """Start a top-level actor. Raises ``DuplicateActorName`` if the name is taken."""
        return self._spawn(name, factory, mailbox, policy, None)

    def _spawn(
        self,
        name: str,
        factory: Callable[[], Behaviour],
        mailbox: MailboxConfig | None,
        policy: SupervisorPolicy | None,
        parent: _Cell | None,
    ) -> ActorRef:
        if name in self._cells:
            raise DuplicateActorName(f"an actor named {name!r} is already running")
        cell = _Cell(self, name, factory, mailbox, policy or SupervisorPolicy(), parent)
        reserved = self._reserved.pop(name, None)
        if reserved is not None:
            reserved._attach(cell.mailbox)
            cell.ref = reserved
        self._cells[name] = cell
        self._order.append(cell)
        if parent is not None:
            parent.children.append(cell)
        cell.start()
        return cell.ref

    def reserve(self, name: str) -> ActorRef:
        """A ref for an actor spawned later under ``name`` (to wire actors in a cycle).

        Until that actor is spawned, telling the ref counts a dead letter.
        """
        if name in self._cells:
            return self._cells[name].ref
        return self._reserved.setdefault(name, ActorRef(name, None, self._dead_letter))

    def lookup(self, name: str) -> ActorRef | None:
        """The ref of a running actor, or None."""
        cell = self._cells.get(name)
        return None if cell is None else cell.ref

    def stop_actor(self, ref: ActorRef) -> None:
        """Stop one actor now; what is still queued becomes dead letters."""
        cell = self._cells.get(ref.name)
        if cell is not None:
            cell.ctx.stop()

    def _forget(self, cell: _Cell) -> None:
        if self._cells.get(cell.name) is cell:
            del self._cells[cell.name]
        if cell in self._order:
            self._order.remove(cell)
        if cell.parent is not None and cell in cell.parent.children:
            cell.parent.children.remove(cell)

    # -- messaging ---------------------------------------------------------------

    def tell(self, ref: ActorRef, msg: object) -> Delivery:
        """Send from outside any actor (same thread as the loop). Never blocks."""
        return ref.tell(msg)

    async def put(self, ref: ActorRef, msg: object, timeout: float | None) -> Delivery:
        """Send, awaiting mailbox space up to ``timeout``; raises ``MailboxFull`` after it.

        A ref to an actor this host does not run (elsewhere, or a test's) is told
        without waiting: its own target decides (and counts a dead letter if gone).
        """
        cell = self._cells.get(ref.name)
        if cell is None or cell.ref is not ref:
            return ref.tell(msg)
        return await cell.mailbox.put(msg, timeout)

    async def ask(
        self, ref: ActorRef, make: Callable[[ActorRef], object], timeout: float
    ) -> object:
        """Send ``make(reply_ref)`` and await the reply.

        Raises ``AskTimeout`` after ``timeout`` seconds (a later reply is
        discarded and counted in ``late_replies``), and ``ActorStopped`` at once
        if the target is not running or stops while the ask is pending.

        The asker yields to the loop once, bare: its next step is queued behind
        the ready-queue turn that the tell scheduled, so a reply told in that
        turn (the common case) is read in the same loop iteration, with no
        wake-up of its own, no future and no deadline. Only an ask still
        unanswered then makes its future, records its deadline (counted from
        that moment: the ask waits at least ``timeout``) and awaits.
        """
        cell = self._cells.get(ref.name)
        if cell is None:
            raise ActorStopped(f"actor {ref.name!r} is not running")
        self._ask_counter += 1
        reply = _ReplyRef(self._ask_counter, ref.name, self)
        try:
            told = ref.tell(make(reply))
            if told is not _ACCEPTED and told is not _COALESCED:
                raise ActorStopped(f"actor {ref.name!r} did not accept the ask (mailbox full)")
            await _one_turn()
            if not reply._open:
                return reply._reply
            if cell.stopped:
                raise ActorStopped(f"actor {ref.name!r} stopped before replying")
            return await self._await_reply(cell, ref.name, reply, timeout)
        finally:
            reply._open = False

    async def _await_reply(
        self, cell: _Cell, name: str, reply: _ReplyRef, timeout: float
    ) -> object:
        """The slow path of ``ask``: a future, a deadline in the shared heap, and the wait."""
        future: asyncio.Future[object] = self.loop.create_future()
        reply._future = future
        pending = cell.pending_asks
        pending.add(future)
        self._arm_deadline(self.loop.time() + timeout, future)
        try:
            return await future
        except _Expired:
            raise AskTimeout(f"no reply from {name!r} within {timeout}s") from None
        finally:
            pending.discard(future)
            if not future.done():
                future.cancel()
            self._asks_open -= 1
            if not self._asks_open:
                # Dropped now: a system idle from here on must not run even one more callback.
                self._disarm_deadlines()

    def _arm_deadline(self, deadline: float, future: asyncio.Future[object]) -> None:
        """Record one open ask's deadline; the shared timer is armed for the earliest."""
        self._asks_open += 1
        self._deadline_seq += 1
        deadlines = self._deadlines
        while deadlines and deadlines[0][2].done():  # answered asks at the head
            heapq.heappop(deadlines)
        heapq.heappush(deadlines, (deadline, self._deadline_seq, future))
        timer = self._deadline_timer
        if timer is None:
            self._deadline_timer = self.loop.call_at(deadline, self._expire_asks)
        elif deadline < timer.when():
            timer.cancel()
            self._deadline_timer = self.loop.call_at(deadline, self._expire_asks)

    def _expire_asks(self) -> None:
        """The shared timer came due: fail every ask past its deadline, re-arm for the next."""
        self._deadline_timer = None
        deadlines = self._deadlines
        # asyncio runs a timer up to one clock tick early: count that tick as due
        now = self.loop.time() + _CLOCK_RESOLUTION
        while deadlines and (deadlines[0][0] <= now or deadlines[0][2].done()):
            _expire(heapq.heappop(deadlines)[2])
        if deadlines:
            self._deadline_timer = self.loop.call_at(deadlines[0][0], self._expire_asks)

    def _disarm_deadlines(self) -> None:
        """No ask is open: drop the shared timer, so an idle system sleeps."""
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        self._deadlines.clear()

    def _dead_letter(self, name: str, msg: object) -> None:
        self.dead_letters += 1
        self.recent_dead_letters.append((name, type(msg).__name__))

    def _report_failure(self, failure: ActorFailed) -> None:
        self.failures.append(failure)
        for listener in self.failure_listeners:
            listener.tell(failure)

    def _escalated(self, name: str) -> None:
        log.error("failure of %s escalated to the system: stopping", name)
        self.loop.create_task(self.stop())

    # -- observing -------------------------------------------------------------------

    def metrics(self) -> tuple[MailboxStats, ...]:
        """An immutable snapshot of every running actor's mailbox, in start order."""
        return tuple(cell.mailbox.stats() for cell in self._order)

    def names(self) -> tuple[str, ...]:
        """Names of the running actors, in start order."""
        return tuple(cell.name for cell in self._order)

    # -- shutdown ---------------------------------------------------------------------

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop every actor gracefully, in reverse start order, within ``timeout`` seconds.

        Each actor first handles what is already queued; an actor still busy
        at the deadline is stopped anyway and its queue counted as dead letters.
        """
        if self._stopping:
            await self.stopped.wait()
            return
        self._stopping = True
        deadline = self.loop.time() + timeout
        for cell in reversed(list(self._order)):
            if cell.stopped:
                continue
            cell.begin_stop()
            remaining = deadline - self.loop.time()
            if not cell.stopped_future.done():
                try:
                    await asyncio.wait_for(asyncio.shield(cell.stopped_future), max(remaining, 0))
                except TimeoutError:
                    log.warning("actor %s did not stop in time; stopping it now", cell.name)
                    cell._finalize()
        self.stopped.set()

    def install_signal_handlers(self) -> None:
        """Stop gracefully on SIGINT and SIGTERM (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(sig, lambda: self.loop.create_task(self.stop()))

    def remove_signal_handlers(self) -> None:
        """Undo ``install_signal_handlers``."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.loop.remove_signal_handler(sig)

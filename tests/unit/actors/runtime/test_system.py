"""The asyncio host: delivery, asks, timers, supervision, stop, dead letters, bridge."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import attrs
import pytest

from aiway.actors.runtime import (
    ActorFailed,
    ActorRef,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    Behaviour,
    Context,
    Delivery,
    Directive,
    DuplicateActorName,
    EdgeActor,
    MailboxConfig,
    RestartTracker,
    SupervisorPolicy,
    ThreadBridge,
    handles,
)
from tests.waiting import wait_until


@attrs.frozen
class Ping:
    reply_to: ActorRef
    n: int = 0


@attrs.frozen
class Boom:
    pass


@attrs.frozen
class Note:
    text: str


class Recorder(Behaviour):
    """Keeps what it got; replies to pings; raises on Boom."""

    def __init__(self, log: list[object], done: asyncio.Event | None = None, upto: int = 0) -> None:
        self.log = log
        self.done = done
        self.upto = upto

    @handles(Note)
    def on_note(self, ctx: Context, msg: Note) -> None:
        self.log.append(msg.text)
        if self.done is not None and len(self.log) >= self.upto:
            self.done.set()

    @handles(Ping)
    def on_ping(self, ctx: Context, msg: Ping) -> None:
        ctx.tell(msg.reply_to, msg.n + 1)

    @handles(Boom)
    def on_boom(self, ctx: Context, msg: Boom) -> None:
        raise ValueError("boom")


class Listener(Behaviour):
    def __init__(self, got: list[ActorFailed], event: asyncio.Event) -> None:
        self.got = got
        self.event = event

    @handles(ActorFailed)
    def on_failed(self, ctx: Context, msg: ActorFailed) -> None:
        self.got.append(msg)
        self.event.set()


@pytest.mark.asyncio
async def test_messages_are_handled_in_order() -> None:
    system = ActorSystem()
    log: list[object] = []
    done = asyncio.Event()
    ref = system.spawn("rec", lambda: Recorder(log, done, 1000))
    for n in range(1000):
        ref.tell(Note(str(n)))
    await asyncio.wait_for(done.wait(), 5)
    assert log == [str(n) for n in range(1000)]
    await system.stop()


@pytest.mark.asyncio
async def test_ask_returns_the_reply() -> None:
    system = ActorSystem()
    ref = system.spawn("rec", lambda: Recorder([]))
    assert await system.ask(ref, lambda r: Ping(r, 41), timeout=1) == 42
    await system.stop()


class Silent(Behaviour):
    def __init__(self, held: list[Ping]) -> None:
        self.held = held

    @handles(Ping)
    def on_ping(self, ctx: Context, msg: Ping) -> None:
        self.held.append(msg)


@pytest.mark.asyncio
async def test_ask_timeout_raises_and_late_reply_is_discarded_and_counted() -> None:
    system = ActorSystem()
    held: list[Ping] = []
    ref = system.spawn("silent", lambda: Silent(held))
    with pytest.raises(AskTimeout, match="no reply from 'silent'"):
        await system.ask(ref, lambda r: Ping(r, 1), timeout=0.01)
    # the reply arrives after the deadline: discarded, never given to a later ask
    assert held[0].reply_to.tell("late") is Delivery.DEAD
    assert system.late_replies == 1
    second = asyncio.ensure_future(system.ask(ref, lambda r: Ping(r, 2), timeout=1))
    await wait_until(lambda: len(held) == 2)
    held[1].reply_to.tell("fresh")
    assert await second == "fresh"
    await system.stop()


@pytest.mark.asyncio
async def test_pending_ask_fails_at_once_when_target_stops() -> None:
    system = ActorSystem()
    held: list[Ping] = []
    ref = system.spawn("silent", lambda: Silent(held))
    pending = asyncio.ensure_future(system.ask(ref, Ping, timeout=30))
    await wait_until(lambda: held)
    system.stop_actor(ref)
    with pytest.raises(ActorStopped):
        await asyncio.wait_for(pending, 1)
    await system.stop()


@pytest.mark.asyncio
async def test_ask_to_stopped_actor_raises() -> None:
    system = ActorSystem()
    ref = system.spawn("rec", lambda: Recorder([]))
    system.stop_actor(ref)
    with pytest.raises(ActorStopped):
        await system.ask(ref, Ping, timeout=1)
    await system.stop()


@pytest.mark.asyncio
async def test_telling_a_stopped_actor_counts_a_dead_letter_and_never_raises() -> None:
    system = ActorSystem()
    ref = system.spawn("rec", lambda: Recorder([]))
    system.stop_actor(ref)
    assert ref.tell(Note("x")) is Delivery.DEAD
    assert system.dead_letters == 1
    assert system.recent_dead_letters[-1] == ("rec", "Note")
    await system.stop()


@pytest.mark.asyncio
async def test_duplicate_names_are_refused() -> None:
    system = ActorSystem()
    system.spawn("rec", lambda: Recorder([]))
    with pytest.raises(DuplicateActorName):
        system.spawn("rec", lambda: Recorder([]))
    await system.stop()


@pytest.mark.asyncio
async def test_failing_handler_is_restarted_and_reported() -> None:
    system = ActorSystem()
    failures: list[ActorFailed] = []
    seen = asyncio.Event()
    system.failure_listeners.append(system.spawn("l", lambda: Listener(failures, seen)))
    log: list[object] = []
    done = asyncio.Event()
    starts: list[int] = []

    def make() -> Recorder:
        starts.append(1)
        return Recorder(log, done, 1)

    ref = system.spawn("rec", make, policy=SupervisorPolicy(backoff_initial=0.001))
    ref.tell(Boom())
    ref.tell(Note("after"))
    await asyncio.wait_for(done.wait(), 5)
    await asyncio.wait_for(seen.wait(), 5)
    assert log == ["after"]
    assert len(starts) == 2  # a fresh behaviour after the failure
    assert failures[0].actor == "rec"
    assert failures[0].action == "restart"
    assert "ValueError: boom" in failures[0].error
    assert "on_boom" in failures[0].traceback
    await system.stop()


@pytest.mark.asyncio
async def test_restarts_beyond_the_window_cap_stop_the_actor() -> None:
    system = ActorSystem()
    policy = SupervisorPolicy(max_restarts=2, backoff_initial=0.001, window_seconds=60)
    ref = system.spawn("rec", lambda: Recorder([]), policy=policy)
    for n in range(3):
        ref.tell(Boom())
        await wait_until(lambda n=n: len(system.failures) > n, what="the failure")
    assert not ref.alive
    assert [f.action for f in system.failures] == ["restart", "restart", "stop"]
    await system.stop()


def test_backoff_grows_exponentially_and_caps() -> None:
    tracker = RestartTracker(
        SupervisorPolicy(max_restarts=10, backoff_initial=0.1, backoff_factor=2, backoff_max=0.5)
    )
    delays = [tracker.next_backoff(now=float(i)) for i in range(5)]
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_restarts_outside_the_window_are_forgotten() -> None:
    tracker = RestartTracker(SupervisorPolicy(max_restarts=2, window_seconds=10))
    assert tracker.next_backoff(0.0) is not None
    assert tracker.next_backoff(1.0) is not None
    assert tracker.next_backoff(2.0) is None
    assert tracker.next_backoff(20.0) is not None


@pytest.mark.asyncio
async def test_escalate_stops_the_child_and_fails_the_parent() -> None:
    system = ActorSystem()
    child_ref: list[ActorRef] = []

    class Parent(Behaviour):
        def on_start(self, ctx: Any) -> None:
            child_ref.append(
                ctx.spawn(
                    "child",
                    lambda: Recorder([]),
                    policy=SupervisorPolicy(directive=Directive.ESCALATE),
                )
            )

    parent = system.spawn("parent", Parent, policy=SupervisorPolicy(directive=Directive.STOP))
    child_ref[0].tell(Boom())
    await wait_until(lambda: not parent.alive, what="the parent to stop")
    assert not child_ref[0].alive
    assert [f.actor for f in system.failures] == ["child", "parent"]
    await system.stop()


class Ticker(Behaviour):
    def __init__(self, fired: list[str], done: asyncio.Event) -> None:
        self.fired = fired
        self.done = done

    def on_start(self, ctx: Any) -> None:
        keep = ctx.schedule(0.01, Note("kept"))
        drop = ctx.schedule(0.005, Note("cancelled"))
        ctx.cancel(drop)
        self.keep = keep

    @handles(Note)
    def on_note(self, ctx: Context, msg: Note) -> None:
        self.fired.append(msg.text)
        self.done.set()


@pytest.mark.asyncio
async def test_timers_fire_and_cancelled_timers_do_not() -> None:
    system = ActorSystem()
    fired: list[str] = []
    done = asyncio.Event()
    system.spawn("t", lambda: Ticker(fired, done))
    await asyncio.wait_for(done.wait(), 5)
    assert fired == ["kept"]
    await system.stop()


@pytest.mark.asyncio
async def test_graceful_stop_handles_queued_work_first_in_reverse_start_order() -> None:
    system = ActorSystem()
    order: list[str] = []
    log: list[object] = []

    class Named(Recorder):
        def __init__(self, name: str) -> None:
            super().__init__(log)
            self.name = name

        def on_stop(self, ctx: Any) -> None:
            order.append(self.name)

    first = system.spawn("first", lambda: Named("first"))
    system.spawn("second", lambda: Named("second"))
    for n in range(100):
        first.tell(Note(str(n)))
    await system.stop(timeout=5)
    assert len(log) == 100
    assert order == ["second", "first"]
    assert system.metrics() == ()


@pytest.mark.asyncio
async def test_stop_is_bounded_when_an_actor_never_finishes() -> None:
    system = ActorSystem()
    never = asyncio.Event()

    class Stuck(EdgeActor):
        @handles(Note)
        async def on_note(self, ctx: Any, msg: Note) -> None:
            await never.wait()

    ref = system.spawn("stuck", Stuck)
    ref.tell(Note("a"))
    ref.tell(Note("b"))
    await asyncio.sleep(0)
    await system.stop(timeout=0.05)
    assert not ref.alive
    assert system.dead_letters >= 1


@pytest.mark.asyncio
async def test_edge_actor_async_handlers_run_one_at_a_time_in_order() -> None:
    system = ActorSystem()
    log: list[str] = []
    done = asyncio.Event()

    class Edge(EdgeActor):
        @handles(Note)
        async def on_note(self, ctx: Any, msg: Note) -> None:
            log.append(f"start {msg.text}")
            await asyncio.sleep(0)
            log.append(f"end {msg.text}")
            if msg.text == "2":
                done.set()

    ref = system.spawn("edge", Edge)
    ref.tell(Note("1"))
    ref.tell(Note("2"))
    await asyncio.wait_for(done.wait(), 5)
    assert log == ["start 1", "end 1", "start 2", "end 2"]
    await system.stop()


@pytest.mark.asyncio
async def test_thread_bridge_delivers_from_another_thread() -> None:
    system = ActorSystem()
    log: list[object] = []
    done = asyncio.Event()
    ref = system.spawn("rec", lambda: Recorder(log, done, 100))
    bridge = ThreadBridge(asyncio.get_running_loop())

    def produce() -> None:
        for n in range(100):
            bridge.tell(ref, Note(str(n)))

    thread = threading.Thread(target=produce)
    thread.start()
    await asyncio.wait_for(done.wait(), 5)
    thread.join()
    assert log == [str(n) for n in range(100)]
    await system.stop()


def test_thread_bridge_after_loop_close_reports_the_drop() -> None:
    loop = asyncio.new_event_loop()
    bridge = ThreadBridge(loop)
    loop.close()

    class Target:
        def offer(self, msg: object) -> Delivery:
            return Delivery.ACCEPTED

    assert not bridge.tell(ActorRef("x", Target(), lambda n, m: None), Note("x"))
    assert bridge.dropped_after_close == 1


@pytest.mark.asyncio
async def test_full_mailbox_rejects_tell_and_edge_put_waits() -> None:
    system = ActorSystem()
    never = asyncio.Event()
    started = asyncio.Event()

    class Slow(EdgeActor):
        @handles(Note)
        async def on_note(self, ctx: Any, msg: Note) -> None:
            started.set()
            await never.wait()

    ref = system.spawn("slow", Slow, mailbox=MailboxConfig(capacity=2))
    ref.tell(Note("busy"))
    await started.wait()
    assert ref.tell(Note("1")).ok
    assert ref.tell(Note("2")).ok
    assert ref.tell(Note("3")) is Delivery.REJECTED
    put = asyncio.ensure_future(system.put(ref, Note("4"), timeout=5))
    await asyncio.sleep(0)
    assert not put.done()
    never.set()
    assert (await put).ok
    (stats,) = system.metrics()
    assert stats.rejected == 1
    assert stats.blocked_puts == 1
    await system.stop()


@pytest.mark.asyncio
async def test_notify_when_drained_tells_the_watcher() -> None:
    system = ActorSystem()
    got: list[object] = []
    done = asyncio.Event()
    watcher = system.spawn("watcher", lambda: Recorder(got, done, 1))
    target = system.spawn("target", lambda: Recorder([]))
    for n in range(10):
        target.tell(Note(str(n)))
    ctx = system._cells["watcher"].ctx
    ctx.notify_when_drained(target, Note("drained"))
    await asyncio.wait_for(done.wait(), 5)
    assert got == ["drained"]
    assert watcher.alive
    await system.stop()


@pytest.mark.asyncio
async def test_metrics_report_processed_and_latency() -> None:
    system = ActorSystem()
    done = asyncio.Event()
    ref = system.spawn("rec", lambda: Recorder([], done, 10))
    for n in range(10):
        ref.tell(Note(str(n)))
    await done.wait()
    (stats,) = system.metrics()
    assert stats.name == "rec"
    assert stats.processed == 10
    assert stats.latency_p99 >= stats.latency_p50 > 0
    assert stats.handler_seconds_max > 0
    await system.stop()

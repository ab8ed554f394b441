"""The mailbox's guarantees: bounds, policies, coalescing, lanes, counters."""

from __future__ import annotations

import asyncio

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.protocol import AvatarFrame, Cancel, Metrics, Token
from aiway.actors.protocol.avatar import Animation, AvatarSize
from aiway.actors.runtime import Delivery, Mailbox, MailboxConfig, MailboxFull, OverflowPolicy
from aiway.actors.runtime.mailbox import LatencyHistogram


@attrs.frozen
class Item:
    sender: int
    n: int


def frame(n: int) -> AvatarFrame:
    return AvatarFrame(AvatarSize.MEDIUM, Animation.IDLE, n, 0, 0, True, ())


def drain(box: Mailbox) -> list[object]:
    out = []
    while (msg := box.take()) is not None:
        out.append(msg)
    return out


def test_reject_policy_refuses_when_full_and_counts_it() -> None:
    box = Mailbox("m", MailboxConfig(capacity=2))
    assert box.offer(Item(0, 0)) is Delivery.ACCEPTED
    assert box.offer(Item(0, 1)) is Delivery.ACCEPTED
    assert box.offer(Item(0, 2)) is Delivery.REJECTED
    stats = box.stats()
    assert (stats.depth, stats.rejected, stats.accepted) == (2, 1, 2)


def test_drop_oldest_evicts_the_oldest_message() -> None:
    box = Mailbox("m", MailboxConfig(capacity=2, policy=OverflowPolicy.DROP_OLDEST))
    for n in range(3):
        box.offer(Item(0, n))
    assert drain(box) == [Item(0, 1), Item(0, 2)]
    assert box.stats().dropped == 1


def test_drop_newest_discards_the_incoming_message() -> None:
    box = Mailbox("m", MailboxConfig(capacity=2, policy=OverflowPolicy.DROP_NEWEST))
    for n in range(3):
        box.offer(Item(0, n))
    assert drain(box) == [Item(0, 0), Item(0, 1)]
    assert box.stats().rejected == 1


def test_consecutive_tokens_of_one_message_merge() -> None:
    box = Mailbox("m")
    box.offer(Token("a", "Hel"))
    assert box.offer(Token("a", "lo")) is Delivery.COALESCED
    box.offer(Token("b", "x"))
    assert drain(box) == [Token("a", "Hello"), Token("b", "x")]
    assert box.stats().coalesced == 1


def test_newer_frame_replaces_the_queued_one_in_place() -> None:
    box = Mailbox("m")
    box.offer(frame(1))
    box.offer(Item(0, 0))
    assert box.offer(frame(2)) is Delivery.COALESCED
    assert drain(box) == [frame(2), Item(0, 0)]


def test_keyed_message_after_take_is_queued_again() -> None:
    box = Mailbox("m")
    box.offer(Metrics(()))
    assert drain(box) == [Metrics(())]
    assert box.offer(Metrics((), dead_letters=1)) is Delivery.ACCEPTED
    assert drain(box) == [Metrics((), dead_letters=1)]


def test_control_lane_is_handled_first_and_never_rejected() -> None:
    box = Mailbox("m", MailboxConfig(capacity=1))
    box.offer(Item(0, 0))
    assert box.offer(Item(0, 1)) is Delivery.REJECTED
    assert box.offer(Cancel()) is Delivery.ACCEPTED
    assert drain(box) == [Cancel(), Item(0, 0)]


def test_watermarks_enter_high_and_leave_low() -> None:
    box = Mailbox("m", MailboxConfig(capacity=10, high_watermark=0.8, low_watermark=0.5))
    for n in range(8):
        box.offer(Item(0, n))
    assert box.pressured
    box.take()
    box.take()
    assert box.pressured  # 6 left: still above the low mark
    box.take()
    assert not box.pressured  # 5 left: at the low mark


def test_drain_callback_fires_once_at_low_watermark() -> None:
    box = Mailbox("m", MailboxConfig(capacity=4, low_watermark=0.5, high_watermark=1.0))
    for n in range(4):
        box.offer(Item(0, n))
    fired: list[int] = []
    box.notify_when_drained(lambda: fired.append(len(box)))
    box.take()
    assert fired == []
    box.take()
    box.take()
    assert fired == [2]


def test_offer_to_closed_mailbox_is_dead() -> None:
    box = Mailbox("m")
    box.close()
    assert box.offer(Item(0, 0)) is Delivery.DEAD


def test_on_ready_called_only_when_going_from_empty_to_non_empty() -> None:
    calls: list[int] = []
    box = Mailbox("m", on_ready=lambda: calls.append(1))
    box.offer(Item(0, 0))
    box.offer(Item(0, 1))
    drain(box)
    box.offer(Item(0, 2))
    assert len(calls) == 2


@pytest.mark.asyncio
async def test_put_waits_for_space_and_counts_the_block() -> None:
    box = Mailbox("m", MailboxConfig(capacity=2, low_watermark=0.5))
    box.offer(Item(0, 0))
    box.offer(Item(0, 1))
    put = asyncio.ensure_future(box.put(Item(0, 2), timeout=5))
    await asyncio.sleep(0)
    assert not put.done()
    box.take()
    assert await put is Delivery.ACCEPTED
    stats = box.stats()
    assert stats.blocked_puts == 1
    assert stats.blocked_seconds > 0
    assert drain(box) == [Item(0, 1), Item(0, 2)]


@pytest.mark.asyncio
async def test_put_raises_mailbox_full_after_timeout() -> None:
    box = Mailbox("m", MailboxConfig(capacity=1))
    box.offer(Item(0, 0))
    with pytest.raises(MailboxFull, match="stayed full"):
        await box.put(Item(0, 1), timeout=0.01)
    assert box.stats().put_timeouts == 1


def test_histogram_percentiles_are_close() -> None:
    hist = LatencyHistogram()
    for us in range(1, 1001):
        hist.add(us / 1e6)
    assert 400e-6 < hist.percentile(0.5) < 600e-6
    assert 850e-6 < hist.percentile(0.99) < 1150e-6
    assert LatencyHistogram().percentile(0.5) == 0.0


operations = st.lists(
    st.one_of(
        st.tuples(st.just("item"), st.integers(0, 3)),
        st.tuples(st.just("token"), st.sampled_from(["a", "b"])),
        st.tuples(st.just("frame"), st.integers(0, 5)),
        st.tuples(st.just("control"), st.none()),
        st.tuples(st.just("take"), st.none()),
    ),
    max_size=200,
)


@given(
    ops=operations,
    capacity=st.integers(1, 16),
    policy=st.sampled_from(list(OverflowPolicy)),
)
def test_mailbox_invariants_hold_for_any_sequence(
    ops: list[tuple[str, object]], capacity: int, policy: OverflowPolicy
) -> None:
    box = Mailbox("m", MailboxConfig(capacity=capacity, policy=policy))
    counters = dict.fromkeys(range(4), 0)
    taken: list[object] = []
    for op, arg in ops:
        if op == "item":
            assert isinstance(arg, int)
            box.offer(Item(arg, counters[arg]))
            counters[arg] += 1
        elif op == "token":
            box.offer(Token(str(arg), "x"))
        elif op == "frame":
            assert isinstance(arg, int)
            box.offer(frame(arg))
        elif op == "control":
            box.offer(Cancel())
        else:
            msg = box.take()
            if msg is not None:
                taken.append(msg)
                box.record(0.0, 0.0)
        stats = box.stats()
        assert stats.depth <= capacity
    stats = box.stats()
    assert stats.accepted == (
        stats.processed + stats.depth + stats.control_depth + stats.coalesced + stats.dropped
    )
    assert stats.high_water <= capacity
    # per-sender FIFO: each sender's items come out in increasing order
    for sender in range(4):
        seen = [m.n for m in taken + drain(box) if isinstance(m, Item) and m.sender == sender]
        assert seen == sorted(seen)


class _Sink:
    """A handler table target that keeps what ``Mailbox.process`` hands it."""

    def __init__(self) -> None:
        self.got: list[object] = []

    def keep(self, ctx: None, msg: object) -> None:
        self.got.append(msg)

    def fallback(self, ctx: None, msg: object) -> None:
        self.got.append(msg)


@given(
    ops=operations,
    capacity=st.integers(1, 600),
    policy=st.sampled_from(list(OverflowPolicy)),
    batch=st.integers(1, 600),
    burst=st.integers(1, 700),
)
def test_runs_keep_the_invariants_and_the_batch_for_any_sequence(
    ops: list[tuple[str, object]], capacity: int, policy: OverflowPolicy, batch: int, burst: int
) -> None:
    # The actor's own path (``process``, the fast ``offer``, the stamps routed by the
    # mark), with bursts long enough to cross 256 (segments) and the watermarks.
    box = Mailbox("m", MailboxConfig(capacity=capacity, policy=policy, batch=batch))
    sink = _Sink()
    handlers = {Item: _Sink.keep, Cancel: _Sink.keep}
    counters = dict.fromkeys(range(4), 0)
    deepest = 0
    for op, arg in ops:
        if op == "item":
            assert isinstance(arg, int)
            for _ in range(burst if arg == 0 else 1):
                box.offer(Item(arg, counters[arg]))
                counters[arg] += 1
                deepest = max(deepest, box.stats().depth)
        elif op == "token":
            box.offer(Token(str(arg), "x"))
        elif op == "frame":
            assert isinstance(arg, int)
            box.offer(frame(arg))
        elif op == "control":
            box.offer(Cancel())
        else:
            before = len(box)
            controls = box.stats().control_depth
            handled = len(sink.got)
            box.process(handlers, sink, None, _Sink.fallback.__get__(sink))
            ran = sink.got[handled:]
            assert len(ran) == min(before, batch)  # a run stops at its batch
            assert all(isinstance(m, Cancel) for m in ran[:controls])  # control lane first
            assert len(box) == before - len(ran)
        stats = box.stats()
        deepest = max(deepest, stats.depth)
        assert stats.depth <= capacity
        assert stats.processed == len(sink.got)
        assert stats.high_water == deepest
    stats = box.stats()
    assert stats.accepted == (
        stats.processed + stats.depth + stats.control_depth + stats.coalesced + stats.dropped
    )
    assert stats.high_water <= capacity
    assert stats.latency_p99 >= stats.latency_p50 >= 0
    for sender in range(4):
        seen = [m.n for m in sink.got + drain(box) if isinstance(m, Item) and m.sender == sender]
        assert seen == sorted(seen)

"""The broadcast ring grows as a slow reader needs it, and never overwrites what it has not read."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from aiway.actors.runtime.mailbox import Broadcast, Delivery, Mailbox, MailboxConfig


@attrs.frozen(slots=True)
class Item:
    n: int


def read_all(mailbox: Mailbox) -> list[int]:
    got: list[int] = []
    mailbox.process({Item: lambda _t, _c, msg: got.append(msg.n)}, None, None, lambda _c, _m: None)
    return got


def test_a_new_ring_is_small_and_a_cursor_does_not_grow_it_to_its_bound() -> None:
    log = Broadcast()
    log.cursor(Mailbox("reader", MailboxConfig(capacity=65536, batch=100_000)), lambda: None)
    assert log.size <= 256


def test_a_reader_falling_behind_grows_the_ring_and_reads_everything_in_order() -> None:
    log = Broadcast()
    slow = Mailbox("reader", MailboxConfig(capacity=5000, batch=100_000))
    fast = Mailbox("reader", MailboxConfig(capacity=5000, batch=100_000))
    slow_cursor = log.cursor(slow, lambda: None)
    fast_cursor = log.cursor(fast, lambda: None)
    fast_got: list[int] = []
    for n in range(3000):
        log.append(Item(n))
        assert slow_cursor.push() is Delivery.ACCEPTED
        assert fast_cursor.push() is Delivery.ACCEPTED
        fast_got += read_all(fast)  # the fast reader keeps up
    assert log.size >= 3002
    assert fast_got == list(range(3000))
    assert read_all(slow) == list(range(3000))


def test_a_reader_at_its_bound_is_refused_and_the_ring_stops_at_bound_plus_two() -> None:
    log = Broadcast()
    mailbox = Mailbox("reader", MailboxConfig(capacity=1000, batch=100_000))
    cursor = log.cursor(mailbox, lambda: None)
    results = []
    for n in range(1001):
        log.append(Item(n))
        results.append(cursor.push())
    # the registry pauses a refused reader (lagging) and resyncs it with a snapshot;
    # until then what it had not read is still there, in order
    assert results == [Delivery.ACCEPTED] * 1000 + [Delivery.REJECTED]
    assert log.size == 1002
    assert read_all(mailbox) == list(range(1000))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 400)), min_size=1, max_size=12))
def test_readers_reading_at_any_pace_see_every_message_once_in_order(
    plan: list[tuple[int, int]],
) -> None:
    log = Broadcast()
    boxes = [Mailbox("reader", MailboxConfig(capacity=100_000, batch=1_000_000)) for _ in range(3)]
    cursors = [log.cursor(box, lambda: None) for box in boxes]
    seen: list[list[int]] = [[], [], []]
    sent = 0
    for reader, burst in plan:
        for _ in range(burst):
            log.append(Item(sent))
            for cursor in cursors:
                assert cursor.push() is Delivery.ACCEPTED
            sent += 1
        seen[reader] += read_all(boxes[reader])
    for index, box in enumerate(boxes):
        seen[index] += read_all(box)
        assert seen[index] == list(range(sent))

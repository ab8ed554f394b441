"""What a cell sends to one address comes out in the order it was sent, whatever order
Thespian's transport delivers it in (``wire.Sequencer`` and ``wire.Resequencer``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.runtime.thespian import wire
from aiway.actors.runtime.thespian.wire import Batch, Envelope, Resequencer, Sequencer


def numbered(sequencer: Sequencer, count: int, address: object = "cell-b") -> list[Batch]:
    return [
        sequencer.batch("b", address, [Envelope("b", str(i).encode(), ())]) for i in range(count)
    ]


def payloads(batches: list[Batch]) -> list[int]:
    return [int(envelope.data) for batch in batches for envelope in batch.envelopes]


def test_a_batch_that_overtook_an_earlier_one_waits_for_it() -> None:
    """The race seen after a re-placement: the first token's batch arrived after the next
    four (``tok2 tok3 tok4 tok5 tok1``)."""
    first, *rest = numbered(Sequencer(), 5)
    order = Resequencer()
    for batch in rest:
        assert order.accept(batch, now=0.0) == []
    assert payloads(order.accept(first, now=0.1)) == [0, 1, 2, 3, 4]
    assert not order.held


def test_each_address_is_numbered_from_one_and_each_sender_is_its_own_stream() -> None:
    one, other = Sequencer(), Sequencer()
    a = numbered(one, 2, "cell-a")
    b = numbered(one, 1, "cell-b")
    assert [batch.seq for batch in (*a, *b)] == [1, 2, 1]
    assert one.stream != other.stream
    order = Resequencer()
    # another sender's batches never wait for this one's
    assert payloads(order.accept(numbered(other, 1)[0], now=0.0)) == [0]
    assert order.accept(a[1], now=0.0) == []
    assert payloads(order.accept(a[0], now=0.0)) == [0, 1]


def test_an_address_that_changes_starts_a_count_of_its_own() -> None:
    """A cell created again elsewhere is a new receiver: it must not wait for what went
    to the lost one."""
    sequencer = Sequencer()
    numbered(sequencer, 3, "lost")
    again = numbered(sequencer, 1, "placed-again")
    assert again[0].seq == 1
    assert payloads(Resequencer().accept(again[0], now=0.0)) == [0]


def test_batches_sent_from_outside_an_actor_pass_straight_through() -> None:
    order = Resequencer()
    plain = Batch([Envelope("b", b"7", ())])
    assert order.accept(plain, now=0.0) == [plain]


def test_a_gap_that_stays_open_is_given_up_and_a_late_batch_still_delivered() -> None:
    first, second, third, fourth = numbered(Sequencer(), 4)
    order = Resequencer(gap_timeout=2.0)
    assert order.accept(second, now=10.0) == []
    assert order.accept(fourth, now=10.5) == []
    assert order.wait(now=11.0) == 1.0
    assert order.overdue(now=11.9) == []
    # the first never came: what waited goes on up to the next gap, which waits anew
    assert payloads(order.overdue(now=12.0)) == [1]
    assert order.skipped == 1
    assert order.wait(now=12.0) == 2.0
    assert payloads(order.accept(third, now=12.1)) == [2, 3]
    assert not order.held
    # and the lost one, should it come after all, is not dropped
    assert payloads(order.accept(first, now=13.0)) == [0]


@given(st.permutations(list(range(12))))
def test_any_arrival_order_is_handed_over_in_the_sent_order(arrival: list[int]) -> None:
    batches = numbered(Sequencer(), 12)
    order = Resequencer()
    out: list[int] = []
    for index in arrival:
        out.extend(payloads(order.accept(batches[index], now=0.0)))
    assert out == list(range(12))
    assert not order.held


def test_a_malformed_number_is_handed_over_as_it_came() -> None:
    order = Resequencer()
    odd = Batch([Envelope("b", b"1", ())], None, "stream", "seven")  # type: ignore[arg-type]
    assert order.accept(odd, now=0.0) == [odd]
    assert not order.held


def test_what_a_receiver_holds_is_bounded_across_streams() -> None:
    """Many senders each with a gap: the one waiting longest is given up first."""
    order = Resequencer()
    for n in range(wire.STREAMS_LIMIT + 1):
        second = numbered(Sequencer(), 2)[1]
        released = order.accept(second, now=float(n))
    assert len(order.held) == wire.STREAMS_LIMIT
    assert payloads(released) == [1] and order.skipped == 1

"""The mailbox's C core (``_lane.c``): the plain tell and the run, at their edges.

``test_mailbox.py`` holds the mailbox's guarantees (they run through the C core
too); these are the things only C can get wrong: a reference kept or dropped
once too often, a cycle the collector cannot see, a run that does not stop
where it must, an exception lost on the way out.
"""

from __future__ import annotations

import gc
import sys
from types import MappingProxyType

import attrs
import pytest

from aiway.actors.protocol import Cancel, Token
from aiway.actors.runtime import Delivery, Mailbox, MailboxConfig
from aiway.actors.runtime._lane import Lane


@attrs.frozen(slots=True)
class Plain:
    n: int


class Boom(Exception):
    pass


class Target:
    def __init__(self) -> None:
        self.got: list[object] = []
        self.box: Mailbox | None = None

    def keep(self, ctx: object, msg: object) -> object:
        self.got.append(msg)
        return None

    def fallback(self, ctx: object, msg: object) -> object:
        self.got.append(("fallback", msg))
        return None


HANDLERS = {Plain: Target.keep, Cancel: Target.keep}


def run(box: Mailbox, target: Target, handlers: object = HANDLERS) -> object:
    return box.process(handlers, target, None, target.fallback)  # type: ignore[arg-type]


def test_the_mailbox_runs_on_the_compiled_core() -> None:
    assert issubclass(Mailbox, Lane)
    assert Mailbox.offer is Lane.offer
    assert Lane.__module__ == "aiway.actors.runtime._lane"


def test_a_plain_tell_and_run_keep_no_reference_to_the_message() -> None:
    box = Mailbox("m", MailboxConfig(capacity=4096))
    target = Target()
    msg = Plain(1)
    before = sys.getrefcount(msg)
    for _ in range(3):
        for _ in range(2000):
            assert box.offer(msg) is Delivery.ACCEPTED
        assert sys.getrefcount(msg) == before + 2000  # one per queued message
        run(box, target)
        run(box, target)
        run(box, target)
        run(box, target)
        assert len(box) == 0
        target.got.clear()
        assert sys.getrefcount(msg) == before


def test_a_handler_that_raises_is_counted_and_the_rest_stays_queued_in_order() -> None:
    box = Mailbox("m")
    target = Target()

    def explode(self: Target, ctx: object, msg: object) -> None:
        assert isinstance(msg, Plain)
        self.got.append(msg)
        if msg.n == 3:
            raise Boom

    for n in range(10):
        box.offer(Plain(n))
    with pytest.raises(Boom):
        run(box, target, {Plain: explode})
    assert [m.n for m in target.got] == [0, 1, 2, 3]  # type: ignore[attr-defined]
    assert box.stats().processed == 4
    run(box, target, {Plain: explode})
    assert [m.n for m in target.got] == list(range(10))  # type: ignore[attr-defined]
    assert box.stats().processed == 10


def test_a_handler_result_ends_the_run_and_is_returned() -> None:
    box = Mailbox("m")
    target = Target()
    result = object()

    def halt(self: Target, ctx: object, msg: object) -> object:
        self.got.append(msg)
        return result if msg == Plain(2) else None

    for n in range(6):
        box.offer(Plain(n))
    before = sys.getrefcount(result)
    assert run(box, target, {Plain: halt}) is result
    assert target.got == [Plain(0), Plain(1), Plain(2)]
    assert len(box) == 3
    assert sys.getrefcount(result) == before  # the run let go of it
    assert run(box, target, {Plain: halt}) is None
    assert len(target.got) == 6


def test_a_control_message_told_during_a_run_is_handled_next() -> None:
    box = Mailbox("m")
    target = Target()

    def tell_cancel(self: Target, ctx: object, msg: object) -> None:
        self.got.append(msg)
        if msg == Plain(1):
            box.offer(Cancel())

    for n in range(4):
        box.offer(Plain(n))
    run(box, target, {Plain: tell_cancel, Cancel: Target.keep})
    assert target.got == [Plain(0), Plain(1), Cancel(), Plain(2), Plain(3)]


def test_a_handler_that_empties_the_mailbox_ends_the_run() -> None:
    box = Mailbox("m")
    target = Target()

    def stop(self: Target, ctx: object, msg: object) -> None:
        self.got.append(msg)
        box.drain_all()
        box.close()

    for n in range(5):
        box.offer(Plain(n))
    run(box, target, {Plain: stop})
    assert target.got == [Plain(0)]
    assert box.offer(Plain(9)) is Delivery.DEAD


def test_messages_without_a_handler_and_a_handler_table_that_is_not_a_dict() -> None:
    box = Mailbox("m")
    target = Target()
    told = [Plain(0), Token("t", "a"), Plain(1), object(), Plain(2)]
    for msg in told:
        box.offer(msg)
    run(box, target, MappingProxyType({Plain: Target.keep}))
    assert target.got[0] == Plain(0)
    assert target.got[1][0] == "fallback"  # type: ignore[index]
    assert target.got[2] == Plain(1)
    assert target.got[3] == ("fallback", told[3])
    assert target.got[4] == Plain(2)
    assert box.stats().processed == 5


def test_a_run_stops_at_its_batch_in_the_plain_path() -> None:
    box = Mailbox("m", MailboxConfig(capacity=2048, batch=300))
    target = Target()
    for n in range(1000):
        box.offer(Plain(n))
    run(box, target)
    assert len(target.got) == 300
    run(box, target)
    assert target.got == [Plain(n) for n in range(600)]


def test_a_mailbox_in_a_cycle_is_collected() -> None:
    box = Mailbox("m")
    holder = [box]
    box.on_ready = holder.copy  # the mailbox reaches itself through holder
    box.offer(Plain(1))
    assert box._queue in gc.get_referents(box)
    assert box._control in gc.get_referents(box)
    gc.collect()
    marker = Plain(12345)
    box.offer(marker)
    before = sys.getrefcount(marker)
    del box, holder
    gc.collect()
    assert sys.getrefcount(marker) == before - 1  # the queue that held it is gone


def test_the_wake_up_is_timed_every_eighth_time_and_on_ready_called_once_per_wake() -> None:
    woken: list[int] = []
    box = Mailbox("m", on_ready=lambda: woken.append(1))
    target = Target()
    timed = 0
    for _ in range(16):
        box.offer(Plain(0))
        box.offer(Plain(1))
        timed += box._woke_at > 0
        run(box, target)
        assert box._asleep
    assert len(woken) == 16
    assert timed == 2
    assert box.stats().latency_p50 > 0


def test_a_run_that_reaches_the_low_watermark_leaves_pressure_and_calls_back_once() -> None:
    box = Mailbox("m", MailboxConfig(capacity=10, high_watermark=0.8, low_watermark=0.5, batch=3))
    target = Target()
    called: list[int] = []
    for n in range(9):
        box.offer(Plain(n))
    assert box.pressured
    box.notify_when_drained(lambda: called.append(len(box)))
    run(box, target)  # 6 left: above the low watermark (5)
    assert box.pressured
    assert called == []
    run(box, target)  # 3 left
    assert not box.pressured
    assert called == [3]
    run(box, target)
    assert called == [3]
    assert box._asleep
    assert box.stats().processed == 9


def test_a_drain_callback_that_raises_propagates_after_the_run_is_counted() -> None:
    box = Mailbox("m", MailboxConfig(capacity=10, batch=8))
    target = Target()

    def fail() -> None:
        raise Boom

    for n in range(8):
        box.offer(Plain(n))
    box.notify_when_drained(fail)
    with pytest.raises(Boom):
        run(box, target)
    assert len(target.got) == 8
    assert box.stats().processed == 8
    assert box._asleep

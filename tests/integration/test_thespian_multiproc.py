"""Cells in processes of their own (multiprocQueueBase): bursts, order, and batching.

A cell drains its mailbox right after each Thespian message (a self-sent
drain would cross a multiprocessing queue), a batch at a time until it is
empty, and sends what a handler run told as one Thespian message per
destination.
"""

from __future__ import annotations

import asyncio

import pytest

from aiway.actors.runtime import MailboxConfig
from aiway.actors.runtime.thespian import BehaviourSpec, ThespianHost
from profiling.bench_thespian import CHUNK, Counter, Expect, Finish, Produce, Producer
from tests.unit.actors.runtime.thespian.support import Note, Recorder, Reporter
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


async def test_a_burst_larger_than_a_mailbox_batch_is_handled_entirely(
    host: ThespianHost,
) -> None:
    finish = Finish()
    done = host.spawn("finish", lambda: finish)
    producer = host.spawn("producer", BehaviourSpec.of(Producer))
    counter = host.spawn("counter", BehaviourSpec.of(Counter), mailbox=MailboxConfig(4096))
    count = 2000  # one handler run of the producer tells them all: more than a batch (512)
    finish.future = asyncio.get_running_loop().create_future()
    counter.tell(Expect(count, done))
    producer.tell(Produce(counter, count))
    await asyncio.wait_for(finish.future, 20)
    await host.refresh_metrics()
    (stats,) = [s for s in host.remote_stats if s.name.startswith("counter")]
    assert stats.processed == count + 1
    assert count // CHUNK > 1
    (sender,) = [c for c in host.cell_counters if c.name == "producer"]
    assert (sender.sent, sender.refused, sender.dead_letters) == (count, 0, 0)
    assert sender.pid == host.pids()["producer"]


async def test_tells_from_the_loop_arrive_in_order(host: ThespianHost) -> None:
    got = Reporter()
    # the bridge hands all 1501 reports to the loop at once: room for them
    ref = host.spawn("reporter", lambda: got, mailbox=MailboxConfig(capacity=4096))
    rec = host.spawn("rec", BehaviourSpec.of(Recorder, reporter=ref, name="rec"))
    for n in range(1500):
        rec.tell(Note(str(n)))
    await wait_until(lambda: len(got.of("rec")) == 1501, timeout=20, what="every note")
    assert got.of("rec") == ["started", *(f"{n}#{n + 1}" for n in range(1500))]

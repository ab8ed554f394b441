"""The runtime benchmark: one-way throughput and ask latency, ours beside three baselines.

In one run, in rounds of slices where the sides take turns in a rotating order
(so machine noise hits every side alike), it measures:

* one-way burst throughput: N messages told from outside the system to one
  counting actor, in bursts of the mailbox capacity (metrics on, as always),
  against a bare ``asyncio.Queue`` consumer task (the floor), a bare
  ``deque.append`` + handler-call loop (the aim: at least half of it), and
  Thespian's ``simpleSystemBase`` (tell N, then ask for the count);
* ask round trip p50/p99: ``ActorSystem.ask`` to a behaviour that replies with
  ``ctx.tell``, against an ``asyncio.Queue`` request/response pair and
  Thespian's ``simpleSystemBase`` ``ask``.

Every side runs the same handler work (count, compare with the burst's end).
The message is one shared frozen instance, so we measure delivery, not
allocation of the message.

One-way rates are messages per CPU second of this process
(``time.process_time``): every side is single-threaded and never blocks, so on
a quiet machine that equals wall time, and on a shared one the time other
processes take from us does not count against whichever side it happened to
hit. Ask latencies are wall time (``perf_counter_ns``) per round trip; their
median is robust to that noise, their p99 is not. ``python -m profiling.bench_runtime`` prints the
rows; ``python -m profiling.report`` prints them with every other benchmark.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from itertools import repeat
from time import perf_counter_ns, process_time
from typing import Any

import attrs

from aiway.actors.runtime import ActorRef, ActorSystem, Behaviour, Context, MailboxConfig, handles
from profiling import goal, median, median_ratio, row

#: messages per side and round, one-way (ours, asyncio.Queue, deque)
ONE_WAY_MESSAGES = 200_000
#: Thespian is ~30x slower; fewer messages keep a round short (a rate is a rate)
THESPIAN_MESSAGES = 40_000
#: burst size, and the capacity of our mailbox and of the bounded asyncio.Queue
BURST = 1024
#: round trips per side and round
ASKS = 20_000
ROUNDS = 5
#: slices per round: the sides take turns at a fine grain (see ``measure``)
SLICES = 10
#: a p99 on a shared machine is mostly the tail of other people's work: its ratio to
#: another p99 swings by half between runs, so --check only catches a doubling
P99_TOLERANCE = 1.0


@attrs.frozen(slots=True)
class Tick:
    """One counted message."""


@attrs.frozen(slots=True)
class Ping:
    """A request that wants a reply at ``reply_to``."""

    reply_to: ActorRef


@attrs.frozen(slots=True)
class Pong:
    """The reply to a Ping."""


TICK = Tick()
PONG = Pong()


def _noop() -> None:
    pass


class Counter(Behaviour):
    """Counts ticks and calls ``on_mark`` when the count reaches ``mark`` (a burst's end).

    The baselines call ``on_tick`` directly, so every side does the same work
    per message.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mark = -1
        self.on_mark: Callable[[], None] = _noop

    def arm(self, mark: int, on_mark: Callable[[], None]) -> None:
        self.mark = mark
        self.on_mark = on_mark

    @handles(Tick)
    def on_tick(self, ctx: Context | None, msg: Tick) -> None:
        self.count += 1
        if self.count == self.mark:
            self.on_mark()


class Echo(Behaviour):
    """Replies to every Ping with the shared Pong."""

    @handles(Ping)
    def on_ping(self, ctx: Context, msg: Ping) -> None:
        ctx.tell(msg.reply_to, PONG)


# -- one-way: each returns the CPU seconds it took to deliver and handle n messages ----


async def _ours_one_way(n: int) -> float:
    system = ActorSystem()
    counter = Counter()
    ref = system.spawn("counter", lambda: counter, mailbox=MailboxConfig(capacity=BURST))
    loop = asyncio.get_running_loop()
    tell = ref.tell
    sent = 0
    started = process_time()
    while sent < n:
        size = min(BURST, n - sent)
        reached: asyncio.Future[None] = loop.create_future()
        counter.arm(sent + size, partial(reached.set_result, None))
        for _ in repeat(None, size):
            tell(TICK)
        sent += size
        await reached
    elapsed = process_time() - started
    (stats,) = system.metrics()
    await system.stop()
    if counter.count != n or stats.rejected or stats.processed != n:
        raise RuntimeError(f"ours lost messages: {counter.count} of {n}, {stats}")
    return elapsed


async def _queue_one_way_with(
    n: int, consume: Callable[[asyncio.Queue[Tick], Counter], Awaitable[None]], what: str
) -> float:
    """CPU seconds for ``n`` messages put in bursts into a bounded Queue read by ``consume``."""
    queue: asyncio.Queue[Tick] = asyncio.Queue(maxsize=BURST)
    counter = Counter()
    loop = asyncio.get_running_loop()
    consumer = loop.create_task(consume(queue, counter))
    put = queue.put_nowait
    sent = 0
    started = process_time()
    while sent < n:
        size = min(BURST, n - sent)
        reached: asyncio.Future[None] = loop.create_future()
        counter.arm(sent + size, partial(reached.set_result, None))
        for _ in repeat(None, size):
            put(TICK)
        sent += size
        await reached
    elapsed = process_time() - started
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    if counter.count != n:
        raise RuntimeError(f"{what} lost messages: {counter.count} of {n}")
    return elapsed


async def _drain_batches(queue: asyncio.Queue[Tick], counter: Counter) -> None:
    """The strongest fair Queue consumer: one await per wake-up, then drain what is there."""
    get = queue.get
    get_nowait = queue.get_nowait
    qsize = queue.qsize
    handle = counter.on_tick
    while True:
        handle(None, await get())
        for _ in repeat(None, qsize()):
            handle(None, get_nowait())


async def _get_each(queue: asyncio.Queue[Tick], counter: Counter) -> None:
    get = queue.get
    handle = counter.on_tick
    while True:
        handle(None, await get())


async def _queue_batch_one_way(n: int) -> float:
    return await _queue_one_way_with(n, _drain_batches, "batch-draining asyncio.Queue")


async def _queue_one_way(n: int) -> float:
    return await _queue_one_way_with(n, _get_each, "asyncio.Queue")


def _deque_one_way(n: int) -> float:
    queue: deque[Tick] = deque()
    counter = Counter()
    counter.arm(n, _noop)
    append = queue.append
    popleft = queue.popleft
    handle = counter.on_tick
    sent = 0
    started = process_time()
    while sent < n:
        size = min(BURST, n - sent)
        for _ in repeat(None, size):
            append(TICK)
        sent += size
        while queue:
            handle(None, popleft())
    elapsed = process_time() - started
    if counter.count != n:
        raise RuntimeError(f"deque loop lost messages: {counter.count} of {n}")
    return elapsed


# -- ask: each returns n round-trip times in nanoseconds -------------------------------


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    """p50 and p99 of round trips, in microseconds."""
    ordered = sorted(samples_ns)
    return ordered[len(ordered) // 2] / 1e3, ordered[int(len(ordered) * 0.99)] / 1e3


async def _ours_ask(n: int) -> list[int]:
    system = ActorSystem()
    ref = system.spawn("echo", Echo)
    ask = system.ask
    samples: list[int] = []
    record = samples.append
    for _ in repeat(None, n):
        started = perf_counter_ns()
        reply = await ask(ref, Ping, 1.0)
        record(perf_counter_ns() - started)
        if reply is not PONG:
            raise RuntimeError(f"ours replied {reply!r}")
    await system.stop()
    return samples


async def _queue_ask(n: int) -> list[int]:
    requests: asyncio.Queue[object] = asyncio.Queue()
    replies: asyncio.Queue[Pong] = asyncio.Queue()

    async def serve() -> None:
        get = requests.get
        put = replies.put_nowait
        while True:
            await get()
            put(PONG)

    server = asyncio.get_running_loop().create_task(serve())
    samples: list[int] = []
    record = samples.append
    for _ in repeat(None, n):
        started = perf_counter_ns()
        requests.put_nowait(TICK)
        reply = await replies.get()
        record(perf_counter_ns() - started)
        if reply is not PONG:
            raise RuntimeError(f"asyncio.Queue pair replied {reply!r}")
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    return samples


# -- Thespian ----------------------------------------------------------------------------


def _thespian_actors() -> tuple[type, type]:
    """Thespian actor classes, defined lazily so importing this module needs no Thespian."""
    from thespian.actors import Actor

    class ThespianCounter(Actor):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def receiveMessage(self, msg: object, sender: Any) -> None:
            if msg is TICK:
                self.count += 1
            elif msg == "count":
                self.send(sender, self.count)

    class ThespianEcho(Actor):  # type: ignore[misc]
        def receiveMessage(self, msg: object, sender: Any) -> None:
            if isinstance(msg, Tick):
                self.send(sender, PONG)

    return ThespianCounter, ThespianEcho


def _thespian_system() -> Any:
    from thespian.actors import ActorSystem as ThespianSystem

    return ThespianSystem("simpleSystemBase")


def _thespian_one_way(n: int) -> float:
    counter_class, _ = _thespian_actors()
    system = _thespian_system()
    try:
        counter = system.createActor(counter_class)
        tell = system.tell
        started = process_time()
        for _ in repeat(None, n):
            tell(counter, TICK)
        count = system.ask(counter, "count", 5)
        elapsed = process_time() - started
    finally:
        system.shutdown()
    if count != n:
        raise RuntimeError(f"Thespian counted {count} of {n}")
    return elapsed


def _thespian_ask(n: int) -> list[int]:
    _, echo_class = _thespian_actors()
    system = _thespian_system()
    try:
        echo = system.createActor(echo_class)
        ask = system.ask
        samples: list[int] = []
        record = samples.append
        for _ in repeat(None, n):
            started = perf_counter_ns()
            reply = ask(echo, TICK, 1)
            record(perf_counter_ns() - started)
            if reply != PONG:
                raise RuntimeError(f"Thespian replied {reply!r}")
    finally:
        system.shutdown()
    return samples


# -- rounds ------------------------------------------------------------------------------


def _sides(one_way: int, thespian_one_way: int, asks: int) -> dict[str, Callable[[], Any]]:
    """Each side's measurement of one slice; asyncio sides get a fresh loop each time."""
    return {
        "ours_one_way": lambda: asyncio.run(_ours_one_way(one_way)),
        "queue_one_way": lambda: asyncio.run(_queue_one_way(one_way)),
        "queue_batch_one_way": lambda: asyncio.run(_queue_batch_one_way(one_way)),
        "deque_one_way": lambda: _deque_one_way(one_way),
        "thespian_one_way": lambda: _thespian_one_way(thespian_one_way),
        "ours_ask": lambda: asyncio.run(_ours_ask(asks)),
        "queue_ask": lambda: asyncio.run(_queue_ask(asks)),
        "thespian_ask": lambda: _thespian_ask(asks),
    }


def measure(rounds: int, one_way: int, thespian_one_way: int, asks: int) -> dict[str, list[Any]]:
    """Per side, one result per round: a rate (msgs/s) or (p50, p99) in microseconds.

    A round is ``SLICES`` slices; in each slice every side does a tenth of its
    work, in an order that rotates from slice to slice. A burst of load from
    another process thus lands on every side of a round alike, and the per-round
    ratios stay steady. One small warm-up slice runs first.
    """
    sides = _sides(one_way // SLICES, thespian_one_way // SLICES, asks // SLICES)
    for fn in _sides(BURST, 100, 100).values():
        fn()
    names = list(sides)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for index in range(rounds):
        seconds = dict.fromkeys(names, 0.0)
        samples: dict[str, list[int]] = {name: [] for name in names}
        for piece in range(SLICES):
            shift = (index + piece) % len(names)
            for name in names[shift:] + names[:shift]:
                gc.collect()
                got = sides[name]()
                if isinstance(got, list):
                    samples[name] += got
                else:
                    seconds[name] += got
        results["ours_one_way"].append(one_way / seconds["ours_one_way"])
        results["queue_one_way"].append(one_way / seconds["queue_one_way"])
        results["queue_batch_one_way"].append(one_way / seconds["queue_batch_one_way"])
        results["deque_one_way"].append(one_way / seconds["deque_one_way"])
        results["thespian_one_way"].append(thespian_one_way / seconds["thespian_one_way"])
        for name in ("ours_ask", "queue_ask", "thespian_ask"):
            results[name].append(_percentiles(samples[name]))
    return results


def run(quick: bool = False, rounds: int | None = None) -> list[dict[str, Any]]:
    """Measure and return the report rows (``quick``: a quarter of the work, 3 rounds)."""
    scale = 4 if quick else 1
    rounds = rounds or (3 if quick else ROUNDS)
    one_way, thespian_one_way, asks = (
        ONE_WAY_MESSAGES // scale,
        THESPIAN_MESSAGES // scale,
        ASKS // scale,
    )
    r = measure(rounds, one_way, thespian_one_way, asks)
    ours = r["ours_one_way"]
    baselines: tuple[tuple[str, list[float], dict[str, Any] | None, str, str], ...] = (
        (
            "asyncio.Queue put_nowait/get task",
            r["queue_one_way"],
            goal("ratio", ">=", 2.0),
            "",
            f"{one_way} messages told from outside in bursts of {BURST} (the mailbox "
            f"capacity; the Queue is bounded alike), per side and round; {rounds} rounds "
            f"of {SLICES} slices, the sides taking turns in rotating order; "
            "rate = messages per CPU second of the process (time.process_time). Every "
            "side runs the same handler (count, compare); ours keeps every counter on",
        ),
        (
            "asyncio.Queue, batch-draining consumer",
            r["queue_batch_one_way"],
            goal("ratio", ">=", 1.5),
            "",
            "the batch-draining Queue consumer awaits get() once per wake-up, then takes "
            "qsize() messages with get_nowait(): the strongest fair Queue peer",
        ),
        ("deque.append + handler loop", r["deque_one_way"], goal("ratio", ">=", 0.5), "", ""),
        (
            "Thespian simpleSystemBase tell",
            r["thespian_one_way"],
            None,
            "",
            f"Thespian side: {thespian_one_way} tells per round, each slice of them "
            "followed by one ask for the count",
        ),
    )
    rows = []
    for what, values, target, aim, note in baselines:
        ratio = median_ratio(ours, values)
        rows.append(
            row(
                name="mailbox one-way burst",
                unit="msgs/s",
                ours=median(ours),
                baseline=what,
                baseline_value=median(values),
                ratio=ratio,
                goal=target,
                aim=aim,
                better="higher",
                note=note,
            )
        )
    for index, label in ((0, "p50"), (1, "p99")):
        mine = [sample[index] for sample in r["ours_ask"]]
        for what, side in (
            ("Thespian simpleSystemBase ask", "thespian_ask"),
            ("asyncio.Queue request/reply pair", "queue_ask"),
        ):
            values = [sample[index] for sample in r[side]]
            first = side == "thespian_ask"
            # p50: at most half of Thespian's, no slower than the two-Queue pair
            target = goal("ratio", "<=", 0.5 if first else 1.0) if label == "p50" else None
            rows.append(
                row(
                    name=f"ask round trip {label}",
                    unit="us",
                    ours=median(mine),
                    baseline=what,
                    baseline_value=median(values),
                    ratio=median_ratio(mine, values),
                    goal=target,
                    better="lower",
                    note=(
                        f"{asks} sequential asks per side and round, each timed alone; "
                        "p50 and p99 of each round, medians over rounds"
                    )
                    if first
                    else "",
                    tolerance=None if label == "p50" else P99_TOLERANCE,
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print this module's rows with the report's table."""
    from profiling.report import main as report_main

    args = sys.argv[1:] if argv is None else argv
    return report_main(["--only", "runtime", *args])


if __name__ == "__main__":
    sys.exit(main())

"""The broadcast benchmark: the SurfaceRegistry publishing to 1, 10 and 100 surfaces.

Ours: a ``SurfaceRegistry`` on the asyncio host with N surface actors (each a
bounded outbox, as ``Assistant.attach`` makes them). Each published message is
a ``Token`` of its own message id, so none merges with another and each one
really reaches every outbox; the registry wraps it once in ``Published`` and
shares that object with every surface. Baseline, in the same run: the
strongest fair naive fan-out: the same frozen message object put into a
per-surface ``asyncio.Queue`` (no copy: a frozen message needs none), drained
by one task per surface; it is called directly, without a mailbox of its own
in front, and has no bounds, lag detection or resync.

Messages are built before anything is measured. They go out in batches of
``BATCH`` (below every outbox's capacity, so no surface lags); a batch is done
when every surface has taken its last message. Surfaces do nothing else per
message (a counter past 256 would allocate an int each time, on either side).

Figures: messages published per second of wall time (medians of interleaved
rounds), and allocations per published message, measured in a fresh process
under memray (see ``profiling.profile``) as the marginal cost between a short
and a long run, so set-up is not counted.

``python -m profiling.bench_broadcast`` prints the rows with the report's table.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiway.actors.protocol import Capability, Published, StateSnapshot, Token
from aiway.actors.registry import RegisterSurface, SurfaceRegistry
from aiway.actors.runtime import (
    ActorSystem,
    Behaviour,
    Context,
    MailboxConfig,
    OverflowPolicy,
    handles,
)
from profiling import NOISE_NOTE, goal, median, median_ratio, row
from profiling.pipeline import Countdown

ROOT = Path(__file__).resolve().parents[1]
SURFACES = (1, 10, 100)
BATCH = 128
SURFACE_CAPACITY = 256  # the default outbox (settings: mailbox.surface_capacity)


def messages(count: int) -> list[Token]:
    """``count`` tokens, each of its own message, so none merges with another."""
    return [Token(f"m{index}", " word") for index in range(count)]


class _Surface(Behaviour):
    """Takes every published message; calls ``done`` on a batch's last one."""

    def __init__(self, done: Countdown, joined: Countdown) -> None:
        self.done = done
        self.joined = joined
        self.last: object = None

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.joined()

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        if msg.message is self.last:
            self.done()


class Ours:
    """A registry and ``surfaces`` surface actors on this loop's actor system."""

    def __init__(self, surfaces: int) -> None:
        self.system = ActorSystem()
        self.registry = self.system.spawn(
            "registry", SurfaceRegistry, mailbox=MailboxConfig(capacity=4096)
        )
        self.done = Countdown(surfaces)
        self.joined = Countdown(surfaces)
        self.surfaces = [_Surface(self.done, self.joined) for _ in range(surfaces)]
        for index, surface in enumerate(self.surfaces):
            ref = self.system.spawn(
                f"surface:{index}",
                lambda surface=surface: surface,  # type: ignore[misc]
                mailbox=MailboxConfig(capacity=SURFACE_CAPACITY, policy=OverflowPolicy.REJECT),
            )
            self.registry.tell(
                RegisterSurface(f"s{index}", ref, "bench", frozenset({Capability.STREAMING}))
            )

    async def ready(self) -> None:
        await asyncio.wait_for(self.joined.event.wait(), 10)

    async def publish(self, batches: list[list[Token]]) -> None:
        tell = self.registry.tell
        for batch in batches:
            last = batch[-1]
            for surface in self.surfaces:
                surface.last = last
            self.done.rearm()
            for msg in batch:
                tell(msg)
            await self.done.event.wait()

    async def close(self) -> None:
        await self.system.stop()


class Naive:
    """The baseline: each message shared with every surface, into per-surface asyncio.Queues."""

    def __init__(self, surfaces: int) -> None:
        self.done = Countdown(surfaces)
        self.queues: list[asyncio.Queue[Token]] = [asyncio.Queue() for _ in range(surfaces)]
        self.last = ""
        self.tasks = [asyncio.create_task(self._drain(queue)) for queue in self.queues]

    async def _drain(self, queue: asyncio.Queue[Token]) -> None:
        while True:
            msg = await queue.get()
            if msg.message_id is self.last:
                self.done()

    async def ready(self) -> None:
        return None

    async def publish(self, batches: list[list[Token]]) -> None:
        queues = self.queues
        for batch in batches:
            self.last = batch[-1].message_id
            self.done.rearm()
            for msg in batch:
                for queue in queues:
                    queue.put_nowait(msg)
            await self.done.event.wait()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


Side = Callable[[int], Ours | Naive]
SIDES: dict[str, Side] = {"ours": Ours, "naive": Naive}


def _batches(count: int) -> list[list[Token]]:
    made = messages(count)
    return [made[start : start + BATCH] for start in range(0, count, BATCH)]


async def _rates(surfaces: int, count: int, rounds: int) -> dict[str, list[float]]:
    """Messages/s for each side, in rounds whose order alternates."""
    results: dict[str, list[float]] = {name: [] for name in SIDES}
    names = list(SIDES)
    for index in range(rounds):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            side = SIDES[name](surfaces)
            await side.ready()
            await side.publish(_batches(BATCH))  # warm up
            batches = _batches(count)
            started = time.perf_counter()
            await side.publish(batches)
            results[name].append(count / (time.perf_counter() - started))
            await side.close()
    return results


async def _allocations_child(side: str, surfaces: int, counts: list[int], folder: Path) -> None:
    """One fresh side per run: warm up, then publish ``count`` messages under memray."""
    from profiling.profile import tracker

    for index, count in enumerate(counts):
        made = SIDES[side](surfaces)
        await made.ready()
        await made.publish(_batches(4 * BATCH))
        batches = _batches(count)
        publish: Callable[[list[list[Token]]], Awaitable[None]] = made.publish
        with tracker(folder / f"{index}.bin"):
            await publish(batches)
        await made.close()


def allocations_per_message(side: str, surfaces: int, batches: int) -> float:
    """Marginal allocations of one more published message, measured in a fresh process.

    Between ``2 * BATCH`` messages and ``batches`` more batches: records grow
    with messages times surfaces, so more surfaces need fewer messages.
    """
    from profiling.profile import count_allocations

    short, long = 2 * BATCH, (2 + batches) * BATCH
    with tempfile.TemporaryDirectory() as folder:
        command = ["profiling.bench_broadcast", "allocations", side, str(surfaces)]
        command += ["--folder", folder, str(short), str(long)]
        subprocess.run([sys.executable, "-m", *command], cwd=ROOT, check=True)
        first, second = (
            count_allocations(Path(folder) / f"{index}.bin").allocations for index in (0, 1)
        )
    return max(second - first, 0) / (long - short)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rate and allocation rows per number of surfaces, ours beside the naive fan-out."""
    # Work scales with messages times surfaces: fewer messages for more surfaces.
    deliveries, rounds = (BATCH * 200, 3) if quick else (BATCH * 800, 5)
    alloc_deliveries = BATCH * 40 if quick else BATCH * 160
    rows: list[dict[str, Any]] = []
    rate_note = (
        f"Tokens of distinct messages (none merges) in batches of {BATCH}, "
        f"{deliveries} deliveries (messages x surfaces) a round, published until every "
        f"surface took them; medians of {rounds} alternating rounds. {NOISE_NOTE}"
    )
    alloc_note = (
        "memray in a fresh process (Python allocators traced; frees and memray's own "
        f"frame objects left out); the marginal cost of {alloc_deliveries} more "
        "deliveries (messages x surfaces) after a short run"
    )
    per_message: dict[int, float] = {}
    for surfaces in SURFACES:
        count = max(4, deliveries // surfaces // BATCH) * BATCH
        rates = asyncio.run(_rates(surfaces, count, rounds))
        ratio = median_ratio(rates["ours"], rates["naive"])
        rows.append(
            row(
                name=f"broadcast to {surfaces} surfaces",
                unit="msgs/s",
                ours=median(rates["ours"]),
                baseline="naive shared message + asyncio.Queue per surface",
                baseline_value=median(rates["naive"]),
                ratio=ratio,
                target="-",
                met=None,
                better="higher",
                note=rate_note,
            )
        )
        batches = max(2, alloc_deliveries // surfaces // BATCH)
        ours = allocations_per_message("ours", surfaces, batches)
        naive = allocations_per_message("naive", surfaces, batches)
        per_message[surfaces] = ours
        rows.append(
            row(
                name=f"broadcast allocations per message, {surfaces} surfaces",
                unit="allocs/msg",
                ours=ours,
                baseline="naive shared message + asyncio.Queue per surface",
                baseline_value=naive,
                ratio=ours / naive if naive else None,
                target="-",
                met=None,
                better="lower",
                note=alloc_note,
            )
        )
    most, fewest = max(SURFACES), min(SURFACES)
    added = (per_message[most] - per_message[fewest]) / (most - fewest)
    rows.append(
        row(
            name="broadcast allocations added per surface per message",
            unit="allocs",
            ours=added,
            baseline="-",
            baseline_value=None,
            ratio=None,
            goal=goal("ours", "<=", 1.0),
            aim="0",
            better="lower",
            note=alloc_note,
        )
    )
    flat = per_message[most] / per_message[fewest] if per_message[fewest] else None
    rows.append(
        row(
            name=f"broadcast allocations per message, {most} vs {fewest} surfaces",
            unit="x",
            ours=flat,
            baseline=f"{fewest} surface, same run",
            baseline_value=per_message[fewest],
            ratio=flat,
            goal=goal("ratio", "<=", 1.1),
            better="lower",
            note=alloc_note,
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    """The report's table for this module (``allocations ...`` is the measuring child)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["allocations"]:
        parser = argparse.ArgumentParser(prog="python -m profiling.bench_broadcast allocations")
        parser.add_argument("side", choices=tuple(SIDES))
        parser.add_argument("surfaces", type=int)
        parser.add_argument("counts", type=int, nargs="+")
        parser.add_argument("--folder", type=Path, required=True)
        options = parser.parse_args(args[1:])
        asyncio.run(
            _allocations_child(options.side, options.surfaces, options.counts, options.folder)
        )
        return 0
    from profiling.report import main as report_main

    return report_main(["--only", "broadcast", *args])


if __name__ == "__main__":
    sys.exit(main())

"""Profile scenario ``broadcast``: the SurfaceRegistry publishing to 1, 10 and 100 surfaces.

The set-up of ``profiling.bench_broadcast``: a registry and N surface actors
on the asyncio host, Tokens of distinct messages (none merges) published in
batches below every outbox's capacity. One capture per number of surfaces;
the unit is one published message (delivered to every surface).

``python -m profiling.profile_broadcast [--quick] [--flamegraph]``
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from profiling.bench_broadcast import BATCH, Ours, _batches
from profiling.profile import Tracking, scenario_main

UNIT = "published message"
VARIANTS = ("1", "10", "100")
DELIVERIES = BATCH * 400  # messages x surfaces
QUICK_DELIVERIES = BATCH * 80


async def _publish(surfaces: int, count: int, tracking: Tracking) -> None:
    registry = Ours(surfaces)
    try:
        await registry.ready()
        await registry.publish(_batches(4 * BATCH))  # warm up
        batches = _batches(count)
        with tracking():
            await registry.publish(batches)
    finally:
        await registry.close()


def play(tracking: Tracking, quick: bool, variant: str | None) -> int:
    """Trace publishing to ``variant`` surfaces; returns the messages published."""
    surfaces = int(variant or "1")
    deliveries = QUICK_DELIVERIES if quick else DELIVERIES
    count = max(2, deliveries // surfaces // BATCH) * BATCH
    asyncio.run(_publish(surfaces, count, tracking))
    return count


def main(argv: Sequence[str] | None = None) -> int:
    return scenario_main("broadcast", argv)


if __name__ == "__main__":
    sys.exit(main())

"""An idle actor system wakes the loop no more than a bare loop does, and holds no timer.

Every loop wake-up is counted (each call of the selector's ``select``, see
``profiling.bench_idle``), and every live timer handle, whatever its callback:
no filter by name, so a poller of any origin fails the test.
"""

from __future__ import annotations

import asyncio

import pytest

from aiway.actors.runtime import ActorSystem
from profiling.bench_idle import Hello, Idler, live_timers, wakeups_in_window

IDLE_ACTORS = 10
WINDOW = 0.5


async def _wakeups_in_window(system: ActorSystem | None) -> tuple[int, int]:
    """(loop wake-ups in the window, live timers at its start) with ``system`` idle."""
    if system is not None:
        for index in range(IDLE_ACTORS):
            ref = system.spawn(f"idler-{index}", Idler)
            await system.ask(ref, Hello, 30.0)  # a long deadline: it must not linger
    await asyncio.sleep(0)  # let what the asks scheduled run
    timers = live_timers(asyncio.get_running_loop())
    return await wakeups_in_window(WINDOW), len(timers)


@pytest.mark.asyncio
async def test_an_idle_system_wakes_the_loop_no_more_than_a_bare_loop() -> None:
    bare, _ = await _wakeups_in_window(None)
    system = ActorSystem()
    try:
        ours, timers = await _wakeups_in_window(system)
    finally:
        await system.stop()

    assert timers == 0, f"{timers} live timers in an idle system after its asks"
    assert ours <= bare, f"{ours} loop wake-ups in {WINDOW} s idle; a bare loop: {bare}"

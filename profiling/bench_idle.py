"""The idle benchmark: an actor system with nothing to do must not wake up or burn CPU.

It starts an ``ActorSystem`` with ten actors, has each handle one message (so
every cell has run at least once), then lets the loop sit for a window
(``IDLE_SECONDS``, 10 s; 1 s with ``--quick``). It counts the event loop's
wake-ups in that window and the process's CPU time, and does the same on a bare
asyncio loop with no actors, in the same run, as the baseline.

How wake-ups are counted, a measurement hack stated plainly: asyncio's
selector loop calls ``self._selector.select(timeout)`` exactly once per
iteration of its run loop, so we wrap that method on the loop's own selector
object (``loop._selector``, private) for the window and count calls. The
window is one ``asyncio.sleep``, which itself costs the bare loop two calls
(the blocking select that ends when the sleep's timer is due, and the one that
resumes the sleeping task); anything beyond the bare loop's count is a wake-up
the actors caused. CPU is ``time.process_time()`` over the window (user +
system, all threads) as a percentage of one core; voluntary context switches
from ``resource.getrusage`` are recorded alongside as a cross-check.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import sys
from collections.abc import Callable
from time import perf_counter, process_time
from typing import Any

import attrs

from aiway.actors.runtime import ActorRef, ActorSystem, Behaviour, Context, handles
from profiling import goal, row

IDLE_ACTORS = 10
IDLE_SECONDS = 10.0
QUICK_IDLE_SECONDS = 1.0
#: CPU below this share of one core over the window counts as "not measurable"
CPU_FLOOR_PERCENT = 0.1


@attrs.frozen(slots=True)
class Hello:
    """Wakes an idle actor once before the window; it replies so we know it ran."""

    reply_to: ActorRef


class Idler(Behaviour):
    """Replies to Hello and otherwise does nothing at all."""

    @handles(Hello)
    def on_hello(self, ctx: Context, msg: Hello) -> None:
        ctx.tell(msg.reply_to, None)


@attrs.frozen(slots=True)
class IdleSample:
    """What one idle window cost."""

    wakeups: int
    """Calls to the loop selector's ``select`` in the window."""
    cpu_percent: float
    """Process CPU time over the window, as a percentage of one core."""
    context_switches: int
    """Voluntary context switches of the process in the window."""
    seconds: float
    """Wall-clock length of the window."""


def _count_selects(loop: asyncio.AbstractEventLoop) -> tuple[Callable[[], int], Callable[[], None]]:
    """Wrap the loop's selector ``select``; return (read the count, undo the wrap)."""
    selector: Any = getattr(loop, "_selector", None)
    if selector is None:
        raise RuntimeError(
            f"cannot count wake-ups: {type(loop).__name__} has no _selector "
            "(this benchmark needs asyncio's selector event loop)"
        )
    original = selector.select
    calls = 0

    def counting_select(timeout: float | None = None) -> Any:
        nonlocal calls
        calls += 1
        return original(timeout)

    selector.select = counting_select

    def undo() -> None:
        del selector.select  # back to the class's method

    return (lambda: calls), undo


def live_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """Every timer handle the loop holds that is not cancelled, whatever its callback."""
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    return [handle for handle in scheduled if not handle.cancelled()]


def callback_module(handle: asyncio.Handle) -> str:
    """The module of the code a handle will call (through partials and bound methods)."""
    target: object = handle._callback  # type: ignore[attr-defined]
    while True:
        inner = getattr(target, "func", None) or getattr(target, "__func__", None)
        if inner is None:
            break
        target = inner
    module = getattr(target, "__module__", None)
    if module is None:  # a bound builtin (a future's set_result, ...): its owner's module
        owner = getattr(target, "__self__", None)
        module = type(owner).__module__ if owner is not None else "?"
    return str(module)


async def wakeups_in_window(seconds: float) -> int:
    """The loop's wake-ups (``select`` calls) while the calling task sleeps ``seconds``."""
    count, undo = _count_selects(asyncio.get_running_loop())
    try:
        await asyncio.sleep(seconds)
    finally:
        wakeups = count()
        undo()
    return wakeups


async def _idle_window(actors: int, seconds: float) -> IdleSample:
    loop = asyncio.get_running_loop()
    system = ActorSystem() if actors else None
    if system is not None:
        refs = [system.spawn(f"idler-{i}", Idler) for i in range(actors)]
        for ref in refs:
            await system.ask(ref, Hello, 1.0)
    gc.collect()
    count, undo = _count_selects(loop)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu, wall = process_time(), perf_counter()
    try:
        await asyncio.sleep(seconds)
    finally:
        cpu, wall = process_time() - cpu, perf_counter() - wall
        switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - usage.ru_nvcsw
        wakeups = count()
        undo()
    if system is not None:
        await system.stop()
    return IdleSample(wakeups, 100.0 * cpu / wall, switches, wall)


def measure(seconds: float) -> tuple[IdleSample, IdleSample]:
    """One idle window with the actors, then one on a bare loop: (ours, bare)."""
    ours = asyncio.run(_idle_window(IDLE_ACTORS, seconds))
    bare = asyncio.run(_idle_window(0, seconds))
    return ours, bare


def run(quick: bool = False, seconds: float | None = None) -> list[dict[str, Any]]:
    """Measure one idle window each side and return the report rows."""
    seconds = seconds or (QUICK_IDLE_SECONDS if quick else IDLE_SECONDS)
    ours, bare = measure(seconds)
    # The window's length stays out of the name, so a --quick run checks against
    # a baseline written by a full one.
    name = f"idle, {IDLE_ACTORS} actors"
    baseline = "bare asyncio loop, no actors"
    return [
        row(
            name=f"{name}: loop wake-ups",
            unit="wake-ups",
            ours=ours.wakeups,
            baseline=baseline,
            baseline_value=bare.wakeups,
            ratio=ours.wakeups / bare.wakeups if bare.wakeups else None,
            goal=goal("ours", "<=", bare.wakeups),
            aim="0 more than the bare loop",
            better="lower",
            note=(
                f"one {seconds:g} s window each side; "
                "wake-ups = calls to loop._selector.select in the window (wrapped for the "
                "window: a measurement hack); the window is one asyncio.sleep, which costs "
                f"the bare loop its {bare.wakeups}; voluntary context switches: ours "
                f"{ours.context_switches}, bare {bare.context_switches}"
            ),
        ),
        row(
            name=f"{name}: CPU",
            unit="% core",
            ours=ours.cpu_percent,
            baseline=baseline,
            baseline_value=bare.cpu_percent,
            ratio=None,  # both are ~0: their quotient is noise, the target is absolute
            goal=goal("ours", "<", CPU_FLOOR_PERCENT),
            aim="none measurable",
            better="lower",
            note="CPU = time.process_time() over the window / wall time, % of one core",
        ),
    ]


if __name__ == "__main__":
    from profiling.report import main as report_main

    sys.exit(report_main(["--only", "idle", *sys.argv[1:]]))

"""Profile scenario ``idle``: a whole session doing nothing for 10 seconds.

``Assistant.start`` with default settings (the avatar included), one surface
attached without the avatar capability, so nothing animates; its backend points
at a port nobody listens on and is never asked. The traced window is 10 s of
real time (1 s with ``--quick``) of the loop sitting idle. Anything allocated
here is a wake-up that should not happen; the unit is one second.

``python -m profiling.profile_idle [--quick] [--flamegraph]``
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import attrs

from aiway.actors.app import Assistant
from aiway.actors.backends.ollama import OllamaBackend
from profiling.pipeline import MODEL, Countdown, CountingSurface, pipeline_settings
from profiling.profile import Tracking, scenario_main

UNIT = "second"
SECONDS = 10
QUICK_SECONDS = 1


async def _idle(seconds: int, tracking: Tracking) -> None:
    base = pipeline_settings()
    settings = attrs.evolve(base, avatar=attrs.evolve(base.avatar, enabled=True))
    assistant = Assistant.start(settings, OllamaBackend("http://127.0.0.1:9"), model=MODEL)
    ended, joined = Countdown(1), Countdown(1)
    surface = CountingSurface(ended, joined)
    assistant.attach("idle", lambda: surface, surface_type="bench", capabilities=frozenset())
    try:
        await asyncio.wait_for(joined.event.wait(), 10)
        await asyncio.sleep(0.2)  # let start-up settle (first frame, state)
        with tracking():
            await asyncio.sleep(seconds)
    finally:
        await assistant.stop()


def play(tracking: Tracking, quick: bool, variant: str | None) -> int:
    """Trace an idle window; returns its seconds."""
    seconds = QUICK_SECONDS if quick else SECONDS
    asyncio.run(_idle(seconds, tracking))
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    return scenario_main("idle", argv)


if __name__ == "__main__":
    sys.exit(main())

"""Profile scenario ``avatar``: 10 seconds of Yollayah animating, on a simulated clock.

The session's actors (``Assistant.start``: registry, avatar, conductor, stream
manager; the backend is never asked) run on a real ``ActorSystem`` whose loop
keeps simulated time: when nothing is ready, the loop jumps its clock to the
next timer instead of sleeping (nothing here waits for I/O). So the avatar's
own timers drive it exactly as on a real clock, through the real runtime, and
10 s of animation take well under a second. One surface with the avatar
capability counts the frames it takes (the unit); it is attached before the
trace, so the avatar animates and wanders with default settings. ``--quick``
simulates 2 s.

``python -m profiling.profile_avatar [--quick] [--flamegraph]``
"""

from __future__ import annotations

import asyncio
import selectors
import sys
from collections.abc import Sequence

from aiway.actors.app import Assistant
from aiway.actors.backends.ollama import OllamaBackend
from aiway.actors.protocol import AvatarFrame, Capability, Published, StateSnapshot
from aiway.actors.runtime import ActorSystem, Behaviour, Context, handles
from aiway.config import load_settings
from profiling.pipeline import MODEL
from profiling.profile import Tracking, scenario_main

UNIT = "frame"
SECONDS = 10.0
QUICK_SECONDS = 2.0


class SimulatedClockLoop(asyncio.SelectorEventLoop):
    """A selector loop whose clock jumps over every wait instead of sleeping.

    Only for code that does no I/O: a wait for a timer becomes an instant
    jump of ``time()``; a wait with no timer at all would never end, so it raises.
    """

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0
        selector: selectors.BaseSelector = self._selector  # type: ignore[attr-defined]
        select = selector.select

        def jump(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            if timeout is None:
                raise RuntimeError("the simulated loop would wait for ever: no timer is due")
            if timeout > 0:
                self._now += timeout
            return select(0)

        selector.select = jump  # type: ignore[method-assign]

    def time(self) -> float:
        return self._now


class AvatarWatcher(Behaviour):
    """A surface that shows the avatar: counts the frames it takes."""

    def __init__(self) -> None:
        self.frames = 0
        self.joined = False

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.joined = True

    @handles(AvatarFrame)
    def on_frame(self, ctx: Context, msg: AvatarFrame) -> None:
        self.frames += 1

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        return None


async def _animate(seconds: float, tracking: Tracking) -> int:
    loop = asyncio.get_running_loop()
    settings = load_settings(env={}, config_path=None).settings
    system = ActorSystem(clock=loop.time)
    assistant = Assistant.start(
        settings, OllamaBackend("http://127.0.0.1:9"), model=MODEL, system=system
    )
    watcher = AvatarWatcher()
    capabilities = frozenset({Capability.AVATAR, Capability.ANIMATIONS})
    assistant.attach(
        "avatar-watcher", lambda: watcher, surface_type="bench", capabilities=capabilities
    )
    try:
        await asyncio.sleep(1.0)  # simulated: attach, first frames, warm caches
        if not watcher.joined or not watcher.frames:
            raise RuntimeError("the avatar surface got no frame: nothing would be measured")
        before = watcher.frames
        with tracking():
            await asyncio.sleep(seconds)
        return watcher.frames - before
    finally:
        await assistant.stop()


def play(tracking: Tracking, quick: bool, variant: str | None) -> int:
    """Trace ``SECONDS`` of simulated animation; returns the frames the surface took."""
    seconds = QUICK_SECONDS if quick else SECONDS
    with asyncio.Runner(loop_factory=SimulatedClockLoop) as runner:
        return runner.run(_animate(seconds, tracking))


def main(argv: Sequence[str] | None = None) -> int:
    return scenario_main("avatar", argv)


if __name__ == "__main__":
    sys.exit(main())

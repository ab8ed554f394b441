"""Allocation budget: a steady-state frame allocates nothing in the avatar's own code.

Each avatar runs with its defaults, so it wanders: it plays and walks
``2 * FRAMES_PER_AVATAR`` ticks first (every cell of that walk gets its frames
cached), then goes back to its anchor with its random generator rewound, so the
measured ticks retrace the first half of the same walk: steady state, wandering
included. Avatars playing in place (wandering off) are measured too. Ticks run
through the handler under ``memray.Tracker`` with Python allocators traced.
Allocation records are counted by hand (frees skipped, see FACTS.md) and kept
only when a stack frame lies in ``actors/avatar/``: the test context and the
sink it tells allocate nothing, and the runtime's dispatch is not the avatar's
code. Checked once by hand: one list made per tick in ``_on_tick`` fails it
with exactly 1.00 per frame.

memray watches Python calls through a profile hook, and on Python 3.11 that hook
makes the interpreter materialise a frame object per call (and a method object
per builtin method call) that untraced code never creates. Those records are
told apart by their native stack (``native_traces=True``, the same rule as
profiling/bench_avatar.py) and left out.
"""

from __future__ import annotations

import gc
import random
from collections import Counter
from pathlib import Path

import memray
import pytest

from aiway.actors.avatar import Avatar
from aiway.actors.protocol import (
    Anchor,
    AvatarFrame,
    AvatarSize,
    AvatarViewers,
    ConversationState,
    Mood,
    MoveTo,
    SetMood,
    SetSize,
    SetWander,
    State,
)
from profiling.bench_avatar import made_by_profiler
from tests.unit.actors.avatar.support import LeanContext

FRAMES_PER_AVATAR = 300
_OURS = "/aiway/actors/avatar/"


def playing(size: AvatarSize, conversation: ConversationState, wander: bool) -> LeanContext:
    """A watched avatar of ``size``, warmed up for the ticks the test will measure.

    Wandering, it walks twice as many ticks as will be measured, then returns to
    its anchor with its generator rewound: the measured walk retraces that one.
    In place, two full cycles (no animation here has more than 8 frames).
    """
    rng = random.Random(0)
    ctx = LeanContext()
    avatar = Avatar(ctx.registry, reduce_motion=False, rng=rng)
    ctx.behaviour = avatar
    avatar.on_start(ctx)
    for msg in (SetWander(wander), SetSize(size), SetMood(Mood.CALM), State(conversation)):
        avatar.receive(ctx, msg)
    start = rng.getstate()
    avatar.receive(ctx, AvatarViewers(1))  # watched: the clock (and the walk) start
    for _ in range(2 * FRAMES_PER_AVATAR if wander else 2 * 8):
        ctx.fire()
    if wander:
        rng.setstate(start)
        avatar.receive(ctx, MoveTo(Anchor.BOTTOM_RIGHT))  # the anchor; the walk starts over
    return ctx


def count_ours(path: Path) -> tuple[int, int, Counter[str]]:
    """Allocations with a stack frame in the avatar package: (real, profiler-made, top lines)."""
    total = profiler_made = 0
    lines: Counter[str] = Counter()
    frees = {memray.AllocatorType.FREE, memray.AllocatorType.PYMALLOC_FREE}
    for record in memray.FileReader(path).get_allocation_records():
        if record.allocator in frees or record.allocator is memray.AllocatorType.MUNMAP:
            continue
        ours = [frame for frame in record.stack_trace() if _OURS in frame[1]]
        if not ours:
            continue
        native = [frame[0] for frame in record.native_stack_trace()]
        if made_by_profiler(native):
            profiler_made += record.n_allocations
            continue
        total += record.n_allocations
        function, filename, line = ours[0]
        lines[f"{filename}:{line} ({function}) via {' < '.join(native[:4])}"] += (
            record.n_allocations
        )
    return total, profiler_made, lines


def test_steady_state_frames_allocate_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if request.config.getoption("memray", default=False):
        pytest.skip("memray allows one tracker per process and pytest --memray holds it")
    contexts = [
        playing(size, conversation, wander)
        for size in AvatarSize
        for conversation in (ConversationState.READY, ConversationState.RESPONDING)
        for wander in (True, False)
    ]
    published_before = [ctx.sink.last for ctx in contexts]
    # Cells each avatar showed while measured (the test's own allocations are not counted:
    # only records with a frame in the avatar package are).
    cells: list[set[tuple[int, int]]] = [set() for _ in contexts]
    path = tmp_path / "avatar-frames.bin"
    # No collection inside the window: a gc callback that another library
    # registered (hypothesis has one) builds its info dict in whatever frame
    # triggered the collection, which memray would charge to the avatar.
    gc.collect()
    gc.disable()
    try:
        with memray.Tracker(path, trace_python_allocators=True, native_traces=True):
            for ctx, shown in zip(contexts, cells, strict=True):
                for _ in range(FRAMES_PER_AVATAR):
                    ctx.fire()
                    frame = ctx.sink.last
                    assert isinstance(frame, AvatarFrame)
                    shown.add((frame.x, frame.y))
    finally:
        gc.enable()
    total, profiler_made, lines = count_ours(path)
    assert total + profiler_made > 0, "memray saw no call into the avatar: nothing was measured"
    ticked = FRAMES_PER_AVATAR * len(contexts)
    top = "\n".join(f"  {count:6d}  {where}" for where, count in lines.most_common(8))
    assert total == 0, (
        f"the avatar allocated {total} times in {ticked} steady-state frames "
        f"({total / ticked:.2f} per frame); top lines:\n{top}"
    )
    # The frames really were produced and published, each one a cached object.
    for ctx, before in zip(contexts, published_before, strict=True):
        assert isinstance(ctx.sink.last, AvatarFrame)
        assert isinstance(before, AvatarFrame)
        assert ctx.sink.last.size is before.size
    # The wandering ones really walked while measured; the others stayed put.
    walked = [len(shown) for shown in cells[0::2]]
    assert min(walked) >= 10, f"cells shown by each wandering avatar: {walked}"
    assert all(len(shown) == 1 for shown in cells[1::2])

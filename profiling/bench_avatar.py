"""Avatar frames: time and allocations to produce and publish one steady-state frame.

Ours: the Avatar's clock tick with its defaults (wandering on: advance the
frame, move, pick the cached ``AvatarFrame``, tell the registry). Baseline, in
the same run: the strongest fair naive renderer: it renders each frame's lines
once (a string per cell, joined per row, ANSI-coloured) and caches the message,
so a frame is an index step and a tell; it does not wander, has no moods, sizes
or placement. Both publish through an ``ActorRef`` to a sink. Each figure is the
median of several repeats; allocations are counted with memray (Python
allocators traced, frees and the records only its profile hook makes left out;
see tests/unit/actors/avatar/test_allocations.py).

Run: ``.venv/bin/python -m profiling.bench_avatar``. ``run(quick=False)`` returns
the rows (name, unit, ours, baseline, baseline_value, ratio, target, met, better).
"""

from __future__ import annotations

import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import memray

from aiway.actors.avatar import Avatar, SpriteSheet, default_sprites
from aiway.actors.avatar.harness import LeanContext
from aiway.actors.protocol import (
    Anchor,
    Animation,
    AvatarSize,
    AvatarViewers,
    Mood,
    MoveTo,
    SetMood,
    SetSize,
)
from aiway.actors.runtime import (
    Delivery,
)
from profiling import goal, row

MEDIUM_TARGET_US = 20.0
BASELINE = "naive renderer, lines cached"
_ACCEPTED = Delivery.ACCEPTED  # looked up once: an Enum member lookup allocates on 3.11
_FREES = frozenset(
    {memray.AllocatorType.FREE, memray.AllocatorType.PYMALLOC_FREE, memray.AllocatorType.MUNMAP}
)


def ours(size: AvatarSize) -> Callable[[], None]:
    """One frame of the Avatar with its defaults (wandering), warmed up."""
    ctx = LeanContext()
    avatar = Avatar(ctx.registry, reduce_motion=False, rng=random.Random(0))
    ctx.behaviour = avatar
    avatar.on_start(ctx)
    for msg in (SetSize(size), SetMood(Mood.CALM), AvatarViewers(1)):
        avatar.receive(ctx, msg)
    for _ in range(16):
        ctx.fire()
    return ctx.fire


def retraced(size: AvatarSize, frames: int) -> Callable[[], None]:
    """One frame of a wandering avatar whose next ``frames`` frames retrace a walk it made.

    As the budget test does: it walks ``2 * frames`` ticks (every cell it will
    stand on gets its frames built), then goes back to its anchor with its
    generator rewound, so the measured frames are the steady state, not first
    visits to new cells.
    """
    rng = random.Random(0)
    ctx = LeanContext()
    avatar = Avatar(ctx.registry, reduce_motion=False, rng=rng)
    ctx.behaviour = avatar
    avatar.on_start(ctx)
    for msg in (SetSize(size), SetMood(Mood.CALM)):
        avatar.receive(ctx, msg)
    start = rng.getstate()
    avatar.receive(ctx, AvatarViewers(1))  # watched: the clock (and the walk) start
    for _ in range(2 * frames):
        ctx.fire()
    rng.setstate(start)
    avatar.receive(ctx, MoveTo(Anchor.BOTTOM_RIGHT))  # the anchor; the walk starts over
    return ctx.fire


_ANSI = {"salmon": 209, "pink": 218, "rose": 204, "red": 160, "white": 15, "yellow": 220}


class _Cell:
    __slots__ = ("code", "glyph")

    def __init__(self, glyph: str, colour: str) -> None:
        self.glyph = glyph
        self.code = _ANSI.get(colour, 7)

    def __str__(self) -> str:
        return f"\x1b[38;5;{self.code}m{self.glyph}\x1b[0m"


def naive(size: AvatarSize) -> Callable[[], None]:
    """One frame the naive way, with the one cache anyone would add: each frame's
    message is rendered once (a string per cell, joined per row) and kept."""
    sheet = default_sprites().sheet(size)
    grids = [_cells(sheet, rows) for rows in (f.rows for f in sheet.frames(Animation.IDLE))]
    messages = [
        {
            "type": "avatar",
            "size": size.value,
            "x": 66,
            "y": 19,
            "lines": ["".join(str(cell) if cell else " " for cell in row) for row in grid],
        }
        for grid in grids
    ]
    tell = LeanContext().registry.tell
    state = [0]
    count = len(messages)

    def frame() -> None:
        index = state[0] + 1
        if index == count:
            index = 0
        state[0] = index
        tell(messages[index])

    return frame


def _cells(
    sheet: SpriteSheet, rows: tuple[tuple[tuple[int, str, str], ...], ...]
) -> list[list[_Cell | None]]:
    grid: list[list[_Cell | None]] = []
    for runs in rows:
        row: list[_Cell | None] = [None] * sheet.width
        for column, text, colour in runs:
            for offset, glyph in enumerate(text):
                row[column + offset] = _Cell(glyph, colour)
        grid.append(row)
    return grid


def time_per_frame_us(frame: Callable[[], None], frames: int) -> float:
    """The mean time of one frame over ``frames`` frames, in microseconds."""
    start = time.perf_counter_ns()
    for _ in itertools.repeat(None, frames):  # range() would allocate ints past 256
        frame()
    return (time.perf_counter_ns() - start) / frames / 1000.0


def made_by_profiler(native: list[str]) -> bool:
    """True for an allocation that only memray's profile hook causes (innermost frame first).

    On Python 3.11 the hook makes the interpreter build a frame object for every
    Python call (``call_trace`` -> ``_PyFrame_GetFrameObject``) and a bound method
    for every builtin method call (``trace_call_function`` -> ``PyCMethod_New``).
    Untraced code allocates neither. Anything a builtin itself allocates while
    traced still counts: ``trace_call_function`` is its caller, not the allocator.
    """
    if "call_trace" in native or "call_trace_protected" in native:
        return True
    for depth, name in enumerate(native[:6]):
        if name == "PyCMethod_New":
            return "trace_call_function" in native[depth + 1 : depth + 3]
    return False


def real_allocations(path: Path) -> Iterator[memray.AllocationRecord]:
    """The allocation records of a capture made with ``trace_python_allocators=True`` and
    ``native_traces=True``, without frees and without what the profile hook made."""
    for record in memray.FileReader(path).get_allocation_records():
        if record.allocator in _FREES:
            continue
        if made_by_profiler([frame[0] for frame in record.native_stack_trace()]):
            continue
        yield record


def _allocations(frame: Callable[[], None], frames: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frames.bin"
        with memray.Tracker(path, trace_python_allocators=True, native_traces=True):
            for _ in itertools.repeat(None, frames):  # range() would allocate ints past 256
                frame()
        return sum(record.n_allocations for record in real_allocations(path))


def allocations_per_frame(frame: Callable[[], None], frames: int) -> float:
    """Allocations per frame under memray (one tracker at a time).

    The fixed cost of tracking an empty loop (the loop's range, memray's exit)
    is measured the same way and taken off.
    """
    fixed = _allocations(frame, 0)
    return max(0, _allocations(frame, frames) - fixed) / frames


def run(quick: bool = False) -> list[dict[str, Any]]:
    """One time row and one allocation row per size, ours beside the naive renderer.

    Time: rounds alternate ours and the baseline; each figure is a median over
    rounds and the ratio the median of per-round ratios. Allocations: one count
    each (they do not vary from run to run).
    """
    frames, rounds = (400, 3) if quick else (2000, 7)
    rows: list[dict[str, Any]] = []
    for size in AvatarSize:
        mine, theirs = ours(size), naive(size)
        mine_us: list[float] = []
        theirs_us: list[float] = []
        for _ in range(rounds):
            mine_us.append(time_per_frame_us(mine, frames))
            theirs_us.append(time_per_frame_us(theirs, frames))
        ours_median = statistics.median(mine_us)
        ratio = statistics.median(o / t for o, t in zip(mine_us, theirs_us, strict=True))
        name = f"avatar frame {size.value}"
        rows.append(
            row(
                name=f"{name}: time",
                unit="us/frame",
                ours=round(ours_median, 3),
                baseline=BASELINE,
                baseline_value=round(statistics.median(theirs_us), 3),
                ratio=round(ratio, 4),
                goal=goal("ours", "<", MEDIUM_TARGET_US),
                aim="10 us" if size is AvatarSize.MEDIUM else "",
                better="lower",
                note=(
                    f"time: {frames} frames per round, {rounds} alternating rounds, medians; "
                    "ours wanders (the default), the baseline replays cached messages"
                ),
            )
        )
        mine_allocs = allocations_per_frame(retraced(size, frames // 4), frames // 4)
        theirs_allocs = allocations_per_frame(theirs, frames // 4)
        rows.append(
            row(
                name=f"{name}: allocations",
                unit="allocs/frame",
                ours=mine_allocs,
                baseline=BASELINE,
                baseline_value=theirs_allocs,
                ratio=mine_allocs / theirs_allocs if theirs_allocs else None,
                goal=goal("ours", "<=", 0),
                better="lower",
            )
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a plain-text table."""
    header = ("benchmark", "unit", "ours", "baseline", "ratio", "target", "met")
    lines = [header]
    for one in rows:
        ratio = one["ratio"]
        lines.append(
            (
                str(one["name"]),
                str(one["unit"]),
                f"{one['ours']:g}",
                f"{one['baseline_value']:g}",
                "-" if ratio is None else f"{ratio:.3f}x",
                str(one["target"]),
                "yes" if one["met"] else "NO",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    ]
    out.insert(1, "  ".join("-" * width for width in widths))
    out.append(f"baseline: {BASELINE}; ratio = ours / baseline (lower is better)")
    return "\n".join(out)


if __name__ == "__main__":
    results = run()
    print(format_table(results))
    sys.exit(0 if all(one["met"] for one in results) else 1)

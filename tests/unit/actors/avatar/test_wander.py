"""Wandering: one cell per step, always inside the free area, for every size, area and seed."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from aiway.actors.avatar import default_sprites
from aiway.actors.protocol import (
    Anchor,
    AvatarFrame,
    AvatarSize,
    AvatarViewers,
    MoveTo,
    PointAt,
    Resized,
    SetSize,
    SetWander,
)
from aiway.actors.runtime.testing import Probe
from tests.unit.actors.avatar.support import frames, last_frame, last_state, start_avatar

areas = st.tuples(st.integers(1, 160), st.integers(1, 60))


def assert_inside(shown: list[AvatarFrame], area: tuple[int, int]) -> None:
    for frame in shown:
        sheet = default_sprites().sheet(frame.size)
        room_x = max(0, area[0] - sheet.width)
        room_y = max(0, area[1] - sheet.height)
        assert 0 <= frame.x <= room_x, (frame.x, area, frame.size)
        assert 0 <= frame.y <= room_y, (frame.y, area, frame.size)


def assert_single_steps(shown: list[AvatarFrame]) -> None:
    for before, after in itertools.pairwise(shown):
        assert abs(after.x - before.x) <= 1 and abs(after.y - before.y) <= 1


def wander(size: AvatarSize, area: tuple[int, int], seed: int) -> Probe:
    probe, _ = start_avatar(seed=seed, area=area)
    probe.send(SetSize(size))
    probe.send(AvatarViewers(1))
    return probe


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(AvatarSize), areas, st.integers(0, 2**32 - 1))
def test_wandering_stays_inside_the_area_one_cell_per_step(
    size: AvatarSize, area: tuple[int, int], seed: int
) -> None:
    probe = wander(size, area, seed)
    probe.clear()
    probe.advance(40.0)
    shown = frames(probe)
    assert shown  # the default animation has several frames, so the clock ran
    assert_inside(shown, area)
    assert_single_steps(shown)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(AvatarSize), areas, areas, st.integers(0, 2**32 - 1))
def test_wandering_after_a_resize_stays_inside_the_new_area(
    size: AvatarSize, first: tuple[int, int], second: tuple[int, int], seed: int
) -> None:
    probe = wander(size, first, seed)
    probe.advance(15.0)
    probe.send(Resized(*second))
    probe.clear()
    probe.advance(25.0)
    assert_inside(frames(probe), second)
    assert_single_steps(frames(probe)[1:])


def test_wandering_drifts_after_a_pause_and_rests_between_targets() -> None:
    probe = wander(AvatarSize.MEDIUM, (120, 40), seed=3)
    start = (last_frame(probe).x, last_frame(probe).y)
    probe.advance(2.9)  # the first pause lasts at least 3 s
    assert (last_frame(probe).x, last_frame(probe).y) == start
    probe.advance(30.0)
    positions = {(f.x, f.y) for f in frames(probe)}
    assert len(positions) > 10
    assert last_state(probe).anchor is Anchor.BOTTOM_RIGHT  # wandering is not a logical move


def test_same_seed_same_path() -> None:
    paths = []
    for _ in range(2):
        probe = wander(AvatarSize.SMALL, (90, 30), seed=11)
        probe.advance(30.0)
        paths.append([(f.x, f.y) for f in frames(probe)])
    assert paths[0] == paths[1]


def test_wandering_off_or_pointing_keeps_the_avatar_still() -> None:
    probe = wander(AvatarSize.MEDIUM, (120, 40), seed=5)
    probe.send(SetWander(False))
    probe.send(MoveTo(Anchor.CENTER))
    spot = (last_frame(probe).x, last_frame(probe).y)
    probe.advance(30.0)
    assert {(f.x, f.y) for f in frames(probe)[-20:]} == {spot}
    probe.send(SetWander(True))
    probe.send(PointAt(0, 0))
    probe.advance(30.0)
    assert (last_frame(probe).x, last_frame(probe).y) == (0, 0)
    assert last_state(probe).wandering is False

"""The frame cache (shared, bounded) and snapshots of rendered frames as text."""

from __future__ import annotations

import pytest

from aiway.actors.avatar import FrameCache, default_sprites, frame_text
from aiway.actors.protocol import Animation, AvatarSize

MEDIUM_IDLE = """\
▀▄..▄▄▄▄▄▄..▄▀
▀▀▀▄█•██•█▄▀▀▀
▄▀▀█▄█╰╯█▄█▀▀▄
...▀██████▀..▄
....▀▀..▀▀▀▀▀."""

MEDIUM_BLINK = """\
▀▄..▄▄▄▄▄▄..▄▀
▀▀▀▄█─██─█▄▀▀▀
▄▀▀█▄█╰╯█▄█▀▀▄
...▀██████▀..▄
....▀▀..▀▀▀▀▀."""

# Colours by initial: Red, rOse, Salmon, Pink, White.
MEDIUM_IDLE_COLOURS = """\
RO..SSSSSS..OR
ROOSSWSSWSSOOR
ROSSPSRRSPSSOR
...SSSSSSSS..S
....SS..SSSSS."""

TINY_HAPPY = """\
▀^██^▀
.▀╰╯▀▄"""

SMALL_TALKING_OPEN = """\
.▄.▄▄▄▄.▄.
▀▀█•██•█▀▀
..▀▄()▄▀▄▀"""

LARGE_ERROR = """\
.......▄▄▄▄▄▄▄▄▄▄.......
.....▄████████████▄.....
..▀▀███×████████×███▀▀..
▄▄▄▄██████╭──╮██████▄▄▄▄
.....▀████████████▀.....
.......██████████.....▄.
......▄██████████▄▄▄▄▄▀.
......▀▀........▀▀......"""

INITIALS = {"red": "R", "rose": "O", "salmon": "S", "pink": "P", "white": "W"}


@pytest.mark.parametrize(
    ("size", "animation", "index", "expected"),
    [
        (AvatarSize.MEDIUM, Animation.IDLE, 0, MEDIUM_IDLE),
        (AvatarSize.MEDIUM, Animation.IDLE, 3, MEDIUM_BLINK),
        (AvatarSize.TINY, Animation.HAPPY, 0, TINY_HAPPY),
        (AvatarSize.SMALL, Animation.TALKING, 1, SMALL_TALKING_OPEN),
        (AvatarSize.LARGE, Animation.ERROR, 0, LARGE_ERROR),
    ],
)
def test_rendered_frame_matches_snapshot(
    size: AvatarSize, animation: Animation, index: int, expected: str
) -> None:
    frame = FrameCache(default_sprites()).frame(size, animation, index, 3, 4, True)
    width = default_sprites().sheet(size).width
    assert frame_text(frame.rows, width, ".") == expected


def test_medium_idle_colours_match_snapshot() -> None:
    frame = default_sprites().sheet(AvatarSize.MEDIUM).frames(Animation.IDLE)[0]
    coloured = tuple(
        tuple((column, INITIALS[colour] * len(text), colour) for column, text, colour in runs)
        for runs in frame.rows
    )
    assert frame_text(coloured, 14, ".") == MEDIUM_IDLE_COLOURS


def test_a_placement_is_built_once_and_shares_the_sprite_rows() -> None:
    cache = FrameCache(default_sprites())
    strip = cache.strip(AvatarSize.MEDIUM, Animation.TALKING, 10, 2, True)
    assert cache.strip(AvatarSize.MEDIUM, Animation.TALKING, 10, 2, True) is strip
    sprite_frames = default_sprites().sheet(AvatarSize.MEDIUM).frames(Animation.TALKING)
    assert [f.frame for f in strip] == list(range(len(sprite_frames)))
    for frame, sprite in zip(strip, sprite_frames, strict=True):
        assert frame.rows is sprite.rows
        assert (frame.size, frame.animation, frame.x, frame.y, frame.visible) == (
            AvatarSize.MEDIUM,
            Animation.TALKING,
            10,
            2,
            True,
        )


def test_each_key_part_makes_a_distinct_frame() -> None:
    cache = FrameCache(default_sprites())
    base = cache.frame(AvatarSize.SMALL, Animation.IDLE, 0, 1, 1, True)
    others = [
        cache.frame(AvatarSize.TINY, Animation.IDLE, 0, 1, 1, True),
        cache.frame(AvatarSize.SMALL, Animation.WINK, 0, 1, 1, True),
        cache.frame(AvatarSize.SMALL, Animation.IDLE, 1, 1, 1, True),
        cache.frame(AvatarSize.SMALL, Animation.IDLE, 0, 2, 1, True),
        cache.frame(AvatarSize.SMALL, Animation.IDLE, 0, 1, 2, True),
        cache.frame(AvatarSize.SMALL, Animation.IDLE, 0, 1, 1, False),
    ]
    assert all(other is not base and other != base for other in others)
    assert cache.frame(AvatarSize.SMALL, Animation.IDLE, 0, 1, 1, True) is base


def test_frame_index_wraps_around_the_animation() -> None:
    cache = FrameCache(default_sprites())
    count = len(default_sprites().sheet(AvatarSize.MEDIUM).frames(Animation.IDLE))
    first = cache.frame(AvatarSize.MEDIUM, Animation.IDLE, 0, 0, 0, True)
    assert cache.frame(AvatarSize.MEDIUM, Animation.IDLE, count, 0, 0, True) is first


def test_cache_is_bounded_and_drops_the_oldest_strip_of_the_table_taken_longest_ago() -> None:
    cache = FrameCache(default_sprites(), capacity=3)
    first = cache.strip(AvatarSize.TINY, Animation.IDLE, 0, 0, True)
    second = cache.strip(AvatarSize.TINY, Animation.IDLE, 1, 0, True)
    other = cache.strip(AvatarSize.TINY, Animation.WINK, 0, 0, True)
    assert cache.strip(AvatarSize.TINY, Animation.IDLE, 0, 0, True) is first  # idle taken last
    cache.strip(AvatarSize.TINY, Animation.IDLE, 2, 0, True)
    assert len(cache) == 3
    assert cache.strip(AvatarSize.TINY, Animation.IDLE, 0, 0, True) is first
    assert cache.strip(AvatarSize.TINY, Animation.IDLE, 1, 0, True) is second
    assert cache.strip(AvatarSize.TINY, Animation.WINK, 0, 0, True) is not other


def test_within_a_table_the_oldest_built_strip_goes_first() -> None:
    cache = FrameCache(default_sprites(), capacity=2)
    first = cache.strip(AvatarSize.TINY, Animation.IDLE, 0, 0, True)
    second = cache.strip(AvatarSize.TINY, Animation.IDLE, 1, 0, True)
    cache.strip(AvatarSize.TINY, Animation.IDLE, 2, 0, True)
    assert len(cache) == 2
    assert cache.strip(AvatarSize.TINY, Animation.IDLE, 1, 0, True) is second
    assert cache.strip(AvatarSize.TINY, Animation.IDLE, 0, 0, True) is not first


def test_cache_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        FrameCache(default_sprites(), capacity=0)

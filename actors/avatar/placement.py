"""Where Yollayah sits: anchors and percentages of the free area, and the room to wander in.

A position is the cell of the sprite's top-left corner inside the free area
(the area a surface leaves for the avatar, reported by ``Resized``). Every
anchor is a pair of percentages of the span, the room left once the sprite is
placed: 0 is the left or top edge, 100 puts the sprite flush against the right
or bottom edge. So a position is inside the area whenever the sprite fits; a
sprite larger than the area sits at 0 and the surface clips it.

``FOLLOW`` keeps the avatar beside the newest text. Every surface grows its
conversation at the bottom, so it sits at the bottom-right, like
``BOTTOM_RIGHT``; only ``AvatarState.anchor`` tells them apart, which lets a
surface that knows its cursor place the avatar there instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from aiway.actors.protocol.avatar import Anchor

ANCHOR_PERCENT: Mapping[Anchor, tuple[int, int]] = MappingProxyType(
    {
        Anchor.TOP_LEFT: (0, 0),
        Anchor.TOP_RIGHT: (100, 0),
        Anchor.BOTTOM_LEFT: (0, 100),
        Anchor.BOTTOM_RIGHT: (100, 100),
        Anchor.CENTER: (50, 50),
        Anchor.FOLLOW: (100, 100),
    }
)
"""Each named anchor as x/y percent of the span (``PERCENT`` carries its own)."""


def clamp_percent(value: int) -> int:
    """A percentage clamped to 0-100 (docs/TAGS.md: larger values clamp to 100)."""
    return 0 if value < 0 else min(value, 100)


def span(area: int, sprite: int) -> int:
    """The largest top-left coordinate that keeps ``sprite`` cells inside ``area`` (>= 0)."""
    room = area - sprite
    return room if room > 0 else 0  # not max(): it makes an iterator


def cell_at(percent: int, room: int) -> int:
    """The cell at ``percent`` of ``room`` (0..room), rounded half up."""
    return (clamp_percent(percent) * room + 50) // 100

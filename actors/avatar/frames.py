"""The frame cache: one shared ``AvatarFrame`` per (size, animation, frame, x, y, visible).

Frames are built from the sprites' precomputed colour runs (shared, never
copied) the first time a placement is seen, then reused: an animation that
plays in place allocates nothing per frame. A placement's frames are kept
together as a strip (indexed by frame number), so advancing a frame is an index,
not a lookup. The cache is bounded (least recently used strips go first); the
positions of a bounded area make a bounded working set.
"""

from __future__ import annotations

from collections import OrderedDict

from aiway.actors.avatar.sprites import SpriteSet
from aiway.actors.protocol.avatar import Animation, AvatarSize
from aiway.actors.protocol.conductor import AvatarFrame

Strip = tuple[AvatarFrame, ...]
"""The frames of one animation at one placement, by frame index."""

_StripKey = tuple[AvatarSize, Animation, int, int, bool]


class FrameCache:
    """Builds and keeps ``AvatarFrame`` objects; at most ``capacity`` strips."""

    def __init__(self, sprites: SpriteSet, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError(f"frame cache capacity must be >= 1, got {capacity}")
        self.sprites = sprites
        self.capacity = capacity
        self._strips: OrderedDict[_StripKey, Strip] = OrderedDict()

    def strip(self, size: AvatarSize, animation: Animation, x: int, y: int, visible: bool) -> Strip:
        """Every frame of ``animation`` at (x, y); built once, then shared."""
        key = (size, animation, x, y, visible)
        found = self._strips.get(key)
        if found is not None:
            self._strips.move_to_end(key)
            return found
        sheet = self.sprites.sheet(size)
        drawn = sheet.drawn(animation)
        built = tuple(
            AvatarFrame(size, drawn, index, x, y, visible, frame.rows)
            for index, frame in enumerate(sheet.frames(animation))
        )
        self._strips[key] = built
        if len(self._strips) > self.capacity:
            self._strips.popitem(last=False)
        return built

    def frame(
        self, size: AvatarSize, animation: Animation, index: int, x: int, y: int, visible: bool
    ) -> AvatarFrame:
        """One frame by its full key (``index`` wraps around the animation)."""
        frames = self.strip(size, animation, x, y, visible)
        return frames[index % len(frames)]

    def __len__(self) -> int:
        """How many strips are cached."""
        return len(self._strips)

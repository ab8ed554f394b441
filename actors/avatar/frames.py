"""The frame cache: one shared ``AvatarFrame`` per (size, animation, frame, x, y, visible).

Frames are built from the sprites' precomputed colour runs (shared, never
copied) the first time a placement is seen, then reused: an animation that
plays in place allocates nothing per frame. A placement's frames are kept
together as a strip (indexed by frame number), so advancing a frame is an index,
not a lookup. The strips of one (size, animation, visible) are a ``Placements``
table by row and column, which the Avatar takes once per change of what it
shows: a wandering step is then two lookups by int in that table, which
allocate nothing once the cell has been seen (a key of enums would: on Python
3.11 an ``Enum`` hashes in Python, and the hash is a new int; so would a key
tuple). The cache is bounded: beyond its capacity the strips of the table taken
longest ago go first, oldest built first; the positions of a bounded area make
a bounded working set.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from aiway.actors.avatar.sprites import SpriteSet
from aiway.actors.protocol.avatar import Animation, AvatarSize
from aiway.actors.protocol.conductor import AvatarFrame

Strip = tuple[AvatarFrame, ...]
"""The frames of one animation at one placement, by frame index."""

_TableKey = tuple[AvatarSize, Animation, bool]


def _build(
    sprites: SpriteSet, size: AvatarSize, animation: Animation, x: int, y: int, visible: bool
) -> Strip:
    sheet = sprites.sheet(size)
    drawn = sheet.drawn(animation)
    return tuple(
        AvatarFrame(size, drawn, index, x, y, visible, frame.rows)
        for index, frame in enumerate(sheet.frames(animation))
    )


class Placements:
    """The strips of one (size, animation, visible), by cell; owned by a ``FrameCache``.

    ``at`` returns the strip at a cell, building it the first time (and letting
    the cache drop its oldest strips beyond capacity); a cell seen before costs
    two dictionary lookups by int and no allocation.
    """

    __slots__ = ("_built", "_cache", "_rows", "animation", "size", "visible")

    def __init__(
        self, cache: FrameCache, size: AvatarSize, animation: Animation, visible: bool
    ) -> None:
        self._cache = cache
        self.size = size
        self.animation = animation
        self.visible = visible
        self._rows: dict[int, dict[int, Strip]] = {}
        self._built: deque[tuple[int, int]] = deque()  # cells, oldest first

    def at(self, x: int, y: int) -> Strip:
        """Every frame at (x, y); built once, then shared."""
        row = self._rows.get(y)
        if row is None:
            row = self._rows[y] = {}
        else:
            found = row.get(x)
            if found is not None:
                return found
        built = row[x] = _build(self._cache.sprites, self.size, self.animation, x, y, self.visible)
        self._built.append((x, y))
        self._cache._added()
        return built

    def _drop_oldest(self) -> None:
        x, y = self._built.popleft()
        row = self._rows[y]
        del row[x]
        if not row:
            del self._rows[y]

    def __len__(self) -> int:
        """How many cells have their strip here."""
        return len(self._built)


class FrameCache:
    """Builds and keeps ``AvatarFrame`` objects; at most ``capacity`` strips.

    Strips live in ``Placements`` tables; when the cache is full, the oldest
    strip of the table taken longest ago goes first (a table is taken by
    ``placements`` and ``strip``).
    """

    def __init__(self, sprites: SpriteSet, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError(f"frame cache capacity must be >= 1, got {capacity}")
        self.sprites = sprites
        self.capacity = capacity
        self._tables: OrderedDict[_TableKey, Placements] = OrderedDict()
        self._count = 0

    def placements(self, size: AvatarSize, animation: Animation, visible: bool) -> Placements:
        """The table of ``animation`` at every cell (made empty the first time)."""
        key = (size, animation, visible)
        found = self._tables.get(key)
        if found is not None:
            self._tables.move_to_end(key)
            return found
        table = Placements(self, size, animation, visible)
        self._tables[key] = table
        return table

    def strip(self, size: AvatarSize, animation: Animation, x: int, y: int, visible: bool) -> Strip:
        """Every frame of ``animation`` at (x, y); built once, then shared."""
        return self.placements(size, animation, visible).at(x, y)

    def frame(
        self, size: AvatarSize, animation: Animation, index: int, x: int, y: int, visible: bool
    ) -> AvatarFrame:
        """One frame by its full key (``index`` wraps around the animation)."""
        frames = self.strip(size, animation, x, y, visible)
        return frames[index % len(frames)]

    def _added(self) -> None:
        """A strip was built: drop the oldest beyond capacity."""
        self._count += 1
        while self._count > self.capacity:
            for oldest in self._tables.values():
                if len(oldest):
                    oldest._drop_oldest()
                    self._count -= 1
                    break

    def __len__(self) -> int:
        """How many strips are cached."""
        return self._count

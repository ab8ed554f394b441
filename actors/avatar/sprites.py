"""Yollayah's sprite sheets: the file format, its loader and validator, and colour runs.

One plain-text file per size lives beside this module in ``art/`` (``tiny.txt``,
``small.txt``, ``medium.txt``, ``large.txt``). A file is read line by line:

* Blank lines, and lines whose first non-blank character is ``#``, are ignored
  (a row line starts with ``|``, so ``#`` inside a row is an ordinary key).
* ``size NAME WIDTH HEIGHT`` comes first: the size name (tiny, small, medium,
  large) and the dimensions in cells of every frame in the file.
* ``palette`` opens the palette; each following line is ``KEY GLYPH COLOUR``:
  a one-character key (not ``#`` or ``|``), the one-cell glyph it paints, and a
  colour name from ``COLOURS`` (surfaces map names to their terminal colours).
* ``animation NAME`` opens an animation (a value of ``Animation``: idle,
  thinking, talking, happy, swimming, waiting, error, wink).
* ``frame MS`` opens a frame of the current animation, shown for ``MS``
  milliseconds (an integer from 1 to 60000). Exactly HEIGHT row lines follow.
* A row line is ``|`` + WIDTH cells + ``|``. Each cell is a palette key, or a
  space for a transparent cell. The bars keep trailing spaces visible and make
  a ragged row stand out.

Every file must have an ``idle`` animation; any other animation it leaves out
falls back to idle. Anything else (a ragged row, an unknown key, an animation
with no frame, a bad duration, an unknown colour) raises ``SpriteError`` naming
the file and the line.

At load every frame is turned, once, into colour runs: per row a tuple of
``(column, text, colour)``, where a run is a stretch of neighbouring cells of one
colour (a transparent cell ends a run). A surface paints one call per run.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import attrs

from aiway.actors.avatar.errors import SpriteError
from aiway.actors.protocol.avatar import Animation, AvatarSize

Run = tuple[int, str, str]
"""``(column, text, colour)``: neighbouring cells of one colour, column relative to the sprite."""

Rows = tuple[tuple[Run, ...], ...]
"""A frame's runs, one tuple per row."""

COLOURS = frozenset(
    {
        "black",
        "white",
        "gray",
        "red",
        "rose",
        "pink",
        "salmon",
        "coral",
        "orange",
        "yellow",
        "green",
        "cyan",
        "blue",
        "purple",
        "magenta",
    }
)
"""The colour names a palette may use."""

MAX_DURATION_MS = 60_000
_RESERVED_KEYS = frozenset("#| ")


@attrs.frozen(slots=True)
class SpriteFrame:
    """One precomputed frame: its colour runs and how long it shows (seconds)."""

    rows: Rows
    duration: float


@attrs.frozen(slots=True)
class SpriteSheet:
    """Every animation of one size. ``animations`` always holds ``Animation.IDLE``."""

    size: AvatarSize
    width: int
    height: int
    animations: Mapping[Animation, tuple[SpriteFrame, ...]]
    source: str = ""

    def frames(self, animation: Animation) -> tuple[SpriteFrame, ...]:
        """The frames of ``animation``, or of idle when this size does not draw it."""
        found = self.animations.get(animation)
        return found if found is not None else self.animations[Animation.IDLE]

    def drawn(self, animation: Animation) -> Animation:
        """The animation actually drawn for ``animation`` (idle when it falls back)."""
        return animation if animation in self.animations else Animation.IDLE


@attrs.frozen(slots=True)
class SpriteSet:
    """One sheet per size."""

    sheets: Mapping[AvatarSize, SpriteSheet]

    def sheet(self, size: AvatarSize) -> SpriteSheet:
        """The sheet of ``size``."""
        return self.sheets[size]


def colour_runs(cells: str, palette: Mapping[str, tuple[str, str]]) -> tuple[Run, ...]:
    """Split one row of palette keys into colour runs (keys must be in ``palette``)."""
    runs: list[Run] = []
    start = -1
    text: list[str] = []
    colour = ""
    for column, key in enumerate(cells):
        if key == " ":
            if text:
                runs.append((start, "".join(text), colour))
                text = []
            continue
        glyph, key_colour = palette[key]
        if text and key_colour != colour:
            runs.append((start, "".join(text), colour))
            text = []
        if not text:
            start = column
            colour = key_colour
        text.append(glyph)
    if text:
        runs.append((start, "".join(text), colour))
    return tuple(runs)


class _Parser:
    """Reads one sheet; keeps just enough state to name the line of any problem."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.size: AvatarSize | None = None
        self.width = 0
        self.height = 0
        self.palette: dict[str, tuple[str, str]] = {}
        self.in_palette = False
        self.animations: dict[Animation, list[SpriteFrame]] = {}
        self.animation_lines: dict[Animation, int] = {}
        self.current: Animation | None = None
        self.frame_start = 0
        self.frame_ms = 0
        self.frame_rows: list[tuple[Run, ...]] | None = None
        # Identical rows across frames share one tuple of runs.
        self.shared_rows: dict[tuple[Run, ...], tuple[Run, ...]] = {}

    def fail(self, line: int, problem: str) -> SpriteError:
        return SpriteError(self.source, line, problem)

    def parse(self, text: str) -> SpriteSheet:
        last = 0
        for number, raw in _numbered(text):
            last = number
            line = raw.rstrip("\r\n")
            stripped = line.strip()
            if line.startswith("|"):
                self.row(number, line)
            elif not stripped or stripped.startswith("#"):
                continue
            else:
                self.directive(number, stripped)
        self.close_frame(last)
        return self.finish(last)

    def directive(self, number: int, line: str) -> None:
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "size":
            self.size_line(number, rest)
            return
        if self.size is None:
            raise self.fail(number, f"expected 'size NAME WIDTH HEIGHT' first, got {line!r}")
        if word == "palette":
            self.close_frame(number)
            self.in_palette = True
        elif word == "animation":
            self.animation_line(number, rest)
        elif word == "frame":
            self.frame_line(number, rest)
        elif self.in_palette:
            self.palette_line(number, line)
        else:
            raise self.fail(
                number, f"unknown line {line!r}: expected palette, animation, frame or a |row|"
            )

    def size_line(self, number: int, rest: str) -> None:
        if self.size is not None:
            raise self.fail(number, "a second 'size' line; a file holds one size")
        parts = rest.split()
        names = ", ".join(s.value for s in AvatarSize)
        if len(parts) != 3 or parts[0] not in {s.value for s in AvatarSize}:
            raise self.fail(number, f"expected 'size NAME WIDTH HEIGHT' with NAME one of {names}")
        try:
            width, height = int(parts[1]), int(parts[2])
        except ValueError:
            raise self.fail(
                number, f"size width and height must be integers, got {rest!r}"
            ) from None
        if not (1 <= width <= 200 and 1 <= height <= 100):
            raise self.fail(number, f"size {width}x{height} is out of range (1-200 by 1-100)")
        self.size, self.width, self.height = AvatarSize(parts[0]), width, height

    def palette_line(self, number: int, line: str) -> None:
        parts = line.split()
        if len(parts) != 3:
            raise self.fail(number, f"palette entry must be 'KEY GLYPH COLOUR', got {line!r}")
        key, glyph, colour = parts
        if len(key) != 1 or key in _RESERVED_KEYS:
            raise self.fail(
                number, f"palette key must be one character other than # and |, got {key!r}"
            )
        if key in self.palette:
            raise self.fail(number, f"palette key {key!r} is defined twice")
        if len(glyph) != 1 or unicodedata.east_asian_width(glyph) in ("W", "F"):
            raise self.fail(number, f"glyph {glyph!r} must be one character one cell wide")
        if colour not in COLOURS:
            raise self.fail(
                number, f"unknown colour {colour!r}; known colours: {', '.join(sorted(COLOURS))}"
            )
        self.palette[key] = (glyph, colour)

    def animation_line(self, number: int, rest: str) -> None:
        self.close_frame(number)
        self.in_palette = False
        try:
            animation = Animation(rest)
        except ValueError:
            names = ", ".join(a.value for a in Animation)
            raise self.fail(number, f"unknown animation {rest!r}; known: {names}") from None
        if animation in self.animations:
            raise self.fail(number, f"animation {rest!r} is defined twice")
        self.animations[animation] = []
        self.animation_lines[animation] = number
        self.current = animation

    def frame_line(self, number: int, rest: str) -> None:
        self.close_frame(number)
        if self.current is None:
            raise self.fail(number, "a frame before any 'animation NAME' line")
        try:
            ms = int(rest)
        except ValueError:
            raise self.fail(
                number, f"frame duration must be whole milliseconds, got {rest!r}"
            ) from None
        if not 1 <= ms <= MAX_DURATION_MS:
            raise self.fail(number, f"frame duration {ms} ms is out of range (1-{MAX_DURATION_MS})")
        self.frame_start, self.frame_ms, self.frame_rows = number, ms, []

    def row(self, number: int, line: str) -> None:
        rows = self.frame_rows
        if rows is None:
            raise self.fail(number, "a |row| outside a frame: put 'frame MS' before it")
        body = line.rstrip()
        if len(body) < 2 or not body.endswith("|"):
            raise self.fail(number, "a row must end with '|' (bars mark both edges)")
        cells = body[1:-1]
        if len(cells) != self.width:
            raise self.fail(
                number, f"ragged row: {len(cells)} cells wide, the size line says {self.width}"
            )
        if len(rows) == self.height:
            raise self.fail(number, f"frame has more than {self.height} rows")
        for column, key in enumerate(cells):
            if key != " " and key not in self.palette:
                raise self.fail(number, f"unknown palette key {key!r} at column {column + 1}")
        runs = colour_runs(cells, self.palette)
        rows.append(self.shared_rows.setdefault(runs, runs))

    def close_frame(self, number: int) -> None:
        rows = self.frame_rows
        if rows is None:
            return
        if len(rows) != self.height:
            raise self.fail(
                self.frame_start,
                f"frame has {len(rows)} rows, the size line says {self.height}"
                f" (the frame ends at line {number})",
            )
        assert self.current is not None
        self.animations[self.current].append(SpriteFrame(tuple(rows), self.frame_ms / 1000.0))
        self.frame_rows = None

    def finish(self, last: int) -> SpriteSheet:
        if self.size is None:
            raise self.fail(max(last, 1), "no 'size NAME WIDTH HEIGHT' line")
        for animation, frames in self.animations.items():
            if not frames:
                raise self.fail(
                    self.animation_lines[animation], f"animation {animation.value!r} has no frames"
                )
        if Animation.IDLE not in self.animations:
            raise self.fail(max(last, 1), "no 'animation idle': every size needs idle")
        return SpriteSheet(
            size=self.size,
            width=self.width,
            height=self.height,
            animations={a: tuple(f) for a, f in self.animations.items()},
            source=self.source,
        )


def _numbered(text: str) -> Iterator[tuple[int, str]]:
    return enumerate(text.split("\n"), start=1)


def parse_sheet(text: str, source: str = "<sprite>") -> SpriteSheet:
    """Parse and validate one sheet; ``source`` names it in errors."""
    return _Parser(source).parse(text)


def load_sheet(path: Path | Traversable) -> SpriteSheet:
    """Read and parse one sheet file (UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpriteError(str(path), 0, f"cannot read sprite file: {exc}") from exc
    return parse_sheet(text, str(path))


def load_sprites(directory: Path | Traversable | None = None) -> SpriteSet:
    """Load ``<size>.txt`` for every size from ``directory`` (default: the packaged art)."""
    folder = directory if directory is not None else files("aiway.actors.avatar") / "art"
    sheets: dict[AvatarSize, SpriteSheet] = {}
    for size in AvatarSize:
        path = folder / f"{size.value}.txt"
        sheet = load_sheet(path)
        if sheet.size is not size:
            raise SpriteError(str(path), 1, f"file declares size {sheet.size.value!r}")
        sheets[size] = sheet
    return SpriteSet(sheets)


@functools.cache
def default_sprites() -> SpriteSet:
    """The packaged sprites, loaded and precomputed once per process."""
    return load_sprites()

"""Text for a terminal grid: cell widths, sanitising, fitting and word wrapping.

Everything here is pure and works in terminal cells, not characters: an East
Asian wide character takes two cells, a combining mark none. ``wrap`` is a
greedy word wrap that reports where each line starts in its source text, which
is what lets a streaming answer re-wrap only its last line: with greedy
wrapping, text appended at the end can only change the last line (and add new
ones), so every line before it is final.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
_TAB = "    "


def sanitize(text: str) -> str:
    """Text safe to draw: tabs become four spaces, other control characters ``?``.

    Newlines are kept (they separate paragraphs). ``\\r`` is dropped.
    """
    if "\t" in text:
        text = text.replace("\t", _TAB)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "")
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub("?", text)


@lru_cache(maxsize=4096)
def char_width(char: str) -> int:
    """How many cells one character takes: 0, 1 or 2."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` takes (one line, already sanitised)."""
    if text.isascii():
        return len(text)
    return sum(char_width(char) for char in text)


def fit(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` cells (never splits a wide character)."""
    if width <= 0:
        return ""
    if text.isascii():
        return text if len(text) <= width else text[:width]
    used = 0
    for index, char in enumerate(text):
        used += char_width(char)
        if used > width:
            return text[:index]
    return text


def pad(text: str, width: int) -> str:
    """``text`` fitted to ``width`` cells and padded with spaces to exactly ``width``."""
    fitted = fit(text, width)
    missing = width - cell_width(fitted)
    return fitted + " " * missing if missing > 0 else fitted


def _overflow_at(text: str, start: int, width: int) -> int:
    """The index of the first character from ``start`` that no longer fits in ``width`` cells."""
    if text.isascii():
        return min(len(text), start + width)
    used = 0
    for index in range(start, len(text)):
        used += char_width(text[index])
        if used > width:
            # a line always takes at least one character, even a too-wide one
            return max(index, start + 1)
    return len(text)


def wrap(text: str, width: int, *, continuation: bool = False) -> list[tuple[int, str]]:
    """Greedy word wrap of one paragraph: ``(start, line)`` for each line.

    ``start`` is the index in ``text`` where the line's characters begin; the
    spaces a line break eats are skipped (they belong to no line), trailing
    spaces of a broken line are dropped, and a word longer than the width is
    broken where it overflows. Text that ends in the spaces of a break yields
    a last, empty line starting at ``len(text)``: that is where more text
    would go. There is always at least one line.

    ``continuation`` says ``text`` continues a paragraph right after a line
    break, so its leading spaces are eaten by that break (this is how the tail
    of a streaming paragraph is re-wrapped on its own, with the same result as
    wrapping the whole paragraph).
    """
    width = max(1, width)
    lines: list[tuple[int, str]] = []
    length = len(text)
    start = 0
    if continuation:
        while start < length and text[start] == " ":
            start += 1
    while True:
        end = _overflow_at(text, start, width)
        if end >= length:
            lines.append((start, text[start:]))
            return lines
        if text[end] == " ":
            cut = end
        else:
            cut = text.rfind(" ", start, end)
            if cut <= start:
                cut = end  # no space to break at: break the word
        lines.append((start, text[start:cut].rstrip(" ")))
        start = cut
        while start < length and text[start] == " ":
            start += 1

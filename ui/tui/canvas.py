"""Where the renderer paints: a protocol, and a text grid that stands in for the terminal.

The renderer only ever calls ``put`` (text that fits, in one style, at a
cell). The curses layer implements it with one ``addstr`` per call; the
``TextGrid`` here records cells and styles so tests compare the screen as
text (snapshots) and benchmarks measure painting without a terminal.
"""

from __future__ import annotations

from typing import Protocol

from aiway.ui.tui.text import char_width


class Canvas(Protocol):
    """A grid of cells that text is painted onto."""

    def put(self, y: int, x: int, text: str, style: str) -> None:
        """Paint ``text`` (one line, already fitted) at row ``y``, column ``x``."""
        ...


class TextGrid:
    """A canvas in memory: characters and style names per cell, and a count of calls."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.calls = 0
        self.chars = [[" "] * width for _ in range(height)]
        self.styles = [[""] * width for _ in range(height)]

    def resize(self, width: int, height: int) -> None:
        """A new size; the content is lost, as with a terminal's new pad."""
        self.__init__(width, height)  # type: ignore[misc]

    def put(self, y: int, x: int, text: str, style: str) -> None:
        self.calls += 1
        if not 0 <= y < self.height:
            return
        row = self.chars[y]
        marks = self.styles[y]
        column = x
        for char in text:
            cells = 1 if char.isascii() else char_width(char)
            if cells == 0:
                continue
            if column >= self.width:
                break
            if column >= 0:
                row[column] = char
                marks[column] = style
                if cells == 2 and column + 1 < self.width:
                    row[column + 1] = ""
                    marks[column + 1] = style
            column += cells

    def text(self) -> str:
        """The screen as lines of text, trailing spaces removed."""
        return "\n".join("".join(row).rstrip() for row in self.chars)

    def row(self, y: int) -> str:
        return "".join(self.chars[y]).rstrip()

    def style_at(self, y: int, x: int) -> str:
        return self.styles[y][x]

    def find(self, needle: str) -> tuple[int, int] | None:
        """Row and column of the first occurrence of ``needle``, if any."""
        for y in range(self.height):
            column = "".join(self.chars[y]).find(needle)
            if column >= 0:
                return y, column
        return None

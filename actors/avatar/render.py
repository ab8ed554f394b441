"""Frames as plain text: the glyphs of a frame's colour runs laid on a grid.

For logs, the headless surface and snapshot tests; colours are dropped.
"""

from __future__ import annotations

from aiway.actors.avatar.sprites import Rows


def frame_text(rows: Rows, width: int, blank: str = " ") -> str:
    """The frame as ``len(rows)`` lines of ``width`` cells; transparent cells are ``blank``."""
    lines: list[str] = []
    for runs in rows:
        cells = [blank] * width
        for column, text, _colour in runs:
            cells[column : column + len(text)] = text
        lines.append("".join(cells))
    return "\n".join(lines)

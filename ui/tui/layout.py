"""Where each part of the screen goes, for a terminal of a given size.

From top to bottom: the conversation pane, a rule with key hints, the input
box and the status bar. On the pane's right, when the terminal is wide
enough, is the avatar's lane: Yollayah lives and wanders there and nowhere
else, so she never covers a line of text (a narrow terminal has no lane and
no avatar). Right of that, while tasks are active, the task panel. A terminal
smaller than ``MIN_WIDTH`` x ``MIN_HEIGHT`` gets no layout, only a message
saying so.
"""

from __future__ import annotations

import attrs

MIN_WIDTH = 40
MIN_HEIGHT = 10
INPUT_ROWS = 3
TASK_PANEL_MIN_TERMINAL = 60
TASK_PANEL_WIDTH = 32
AVATAR_LANE_WIDTH = 16
"""The avatar's lane: the medium sprite (14 cells) and a cell of air either side."""
MIN_TEXT_WIDTH = 56
"""The conversation keeps at least this many columns; the avatar's lane goes first."""


@attrs.frozen(slots=True)
class Rect:
    """A rectangle of cells: top row, left column, height, width."""

    y: int
    x: int
    height: int
    width: int

    def contains(self, row: int, column: int) -> bool:
        return self.y <= row < self.y + self.height and self.x <= column < self.x + self.width


EMPTY = Rect(0, 0, 0, 0)


@attrs.frozen(slots=True)
class Layout:
    """The rectangles of one screen size."""

    width: int
    height: int
    too_small: bool
    conversation: Rect = EMPTY
    tasks: Rect = EMPTY
    avatar: Rect = EMPTY
    rule: Rect = EMPTY
    input: Rect = EMPTY
    status: Rect = EMPTY

    @property
    def shows_tasks(self) -> bool:
        return self.tasks.width > 0


def compute_layout(
    width: int, height: int, *, tasks: bool, avatar_width: int = AVATAR_LANE_WIDTH
) -> Layout:
    """The layout of a ``width`` x ``height`` terminal.

    ``tasks``: the task panel is wanted; ``avatar_width``: the lane the avatar
    wants (its sprite and some air), given only if the text keeps ``MIN_TEXT_WIDTH``.
    """
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return Layout(width, height, True)
    status = Rect(height - 1, 0, 1, width)
    input_box = Rect(height - 1 - INPUT_ROWS, 0, INPUT_ROWS, width)
    rule = Rect(input_box.y - 1, 0, 1, width)
    pane_height = rule.y
    panel = EMPTY
    pane_width = width
    if tasks and width >= TASK_PANEL_MIN_TERMINAL:
        panel_width = min(TASK_PANEL_WIDTH, width // 3)
        pane_width = width - panel_width
        panel = Rect(0, pane_width, pane_height, panel_width)
    lane = EMPTY
    if avatar_width > 0 and pane_width - avatar_width >= MIN_TEXT_WIDTH:
        pane_width -= avatar_width
        lane = Rect(0, pane_width, pane_height, avatar_width)
    return Layout(
        width,
        height,
        False,
        conversation=Rect(0, 0, pane_height, pane_width),
        tasks=panel,
        avatar=lane,
        rule=rule,
        input=input_box,
        status=status,
    )

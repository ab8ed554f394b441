"""Where each part of the screen goes, for a terminal of a given size.

From top to bottom: the conversation pane (with the task panel on its right
while tasks are active), a rule with key hints, the input box and the status
bar. A terminal smaller than ``MIN_WIDTH`` x ``MIN_HEIGHT`` gets no layout,
only a message saying so.
"""

from __future__ import annotations

import attrs

MIN_WIDTH = 40
MIN_HEIGHT = 10
INPUT_ROWS = 3
TASK_PANEL_MIN_TERMINAL = 60
TASK_PANEL_WIDTH = 32


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
    rule: Rect = EMPTY
    input: Rect = EMPTY
    status: Rect = EMPTY

    @property
    def shows_tasks(self) -> bool:
        return self.tasks.width > 0


def compute_layout(width: int, height: int, *, tasks: bool) -> Layout:
    """The layout of a ``width`` x ``height`` terminal; ``tasks``: the task panel is wanted."""
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
    return Layout(
        width,
        height,
        False,
        conversation=Rect(0, 0, pane_height, pane_width),
        tasks=panel,
        rule=rule,
        input=input_box,
        status=status,
    )

"""The renderer: the UI thread's picture of the screen, painted region by region, only what changed.

It holds the layout, the wrapped conversation, the input editor, the status,
the task cards, the latest metrics and the avatar frame. ``apply`` folds in a
``Changes`` from the view model; ``paint`` paints onto a canvas only the
regions marked dirty and, in the conversation pane, only the rows whose line
differs from what is already there (the pane keeps what it last painted per
row). The avatar has a lane of its own beside the pane (see ``layout``) and is
painted only there, one call per colour run, clipped to the lane: it never
covers the conversation, the input, the status or a metadata line. Rows it
leaves are blanked. Nothing here touches curses.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiway.actors.protocol import AvatarFrame, ConversationState, Metrics
from aiway.ui.tui import panels, styles
from aiway.ui.tui.canvas import Canvas
from aiway.ui.tui.conversation import ConversationLayout, Line
from aiway.ui.tui.editor import Editor
from aiway.ui.tui.layout import AVATAR_LANE_WIDTH, EMPTY, Layout, Rect, compute_layout
from aiway.ui.tui.text import cell_width, fit, pad
from aiway.ui.tui.viewmodel import Changes, StatusView, TaskView

CONVERSATION = "conversation"
TASKS = "tasks"
AVATAR = "avatar"
RULE = "rule"
INPUT = "input"
STATUS = "status"
REGIONS = (CONVERSATION, TASKS, AVATAR, RULE, INPUT, STATUS)

TASK_LINGER = 3.0
"""Seconds a finished task card stays before the panel lets it go."""

_AVATAR_STYLES = {name: styles.avatar_style(name) for name in styles.AVATAR_COLOURS}
_SPRITE_WIDTHS_KEPT = 256

SpriteRows = tuple[tuple[tuple[int, str, str], ...], ...]
"""An avatar frame's rows: per row its ``(column, text, colour)`` runs."""


def _paints_the_same(frame: AvatarFrame, shown: AvatarFrame) -> bool:
    """True when ``frame`` would paint exactly what ``shown`` painted."""
    if frame is shown:
        return True
    if frame.visible != shown.visible:
        return False
    if not frame.visible:
        return True  # hidden paints nothing, wherever it is
    return (
        frame.x == shown.x
        and frame.y == shown.y
        and (frame.rows is shown.rows or frame.rows == shown.rows)
    )


class Renderer:
    """The screen's state on the UI thread; see the module docstring."""

    def __init__(
        self, width: int, height: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.editor = Editor()
        self.status: StatusView | None = None
        self.metrics: Metrics | None = None
        self.tasks: tuple[TaskView, ...] = ()
        self.show_metrics = False
        self.quit: str | None = None
        self.layout = compute_layout(width, height, tasks=False)
        self.conversation = ConversationLayout(self.layout.conversation.width)
        self.dirty: set[str] = set(REGIONS)
        self._painted: list[Line | None] = [None] * self.layout.conversation.height
        self._anchor: int | None = None
        self._input_anchor = 0
        self._status_text: tuple[str, str, str] | None = None
        self._frame: AvatarFrame | None = None
        self._avatar_rect: Rect | None = None
        #: the lane the avatar wants: its sprite's width and some air
        self._avatar_width = AVATAR_LANE_WIDTH
        #: lane rows holding avatar cells now (blanked when she leaves them)
        self._avatar_rows: set[int] = set()
        self._metrics_lines: list[Line] = []
        #: set when the avatar's lane (her area) changed size
        self.area_changed = True
        #: a sprite's width in cells by its rows (kept alive here, so the id stays theirs)
        self._sprite_widths: dict[int, tuple[SpriteRows, int]] = {}
        #: what the status bar was last worked out from (it is worked out again only if
        #: one of them changed, or while an answer streams: its rate moves with time)
        self._status_inputs: tuple[object, ...] | None = None

    # -- input from the view model ---------------------------------------------------

    def apply(self, changes: Changes) -> None:
        """Fold in one batch of changes."""
        if changes.reset or changes.entries or changes.first_serial:
            self.conversation.apply(changes)
        if changes.status is not None:
            self.status = changes.status
        if changes.tasks is not None:
            self.tasks = changes.tasks
            self.dirty.add(TASKS)
            self._relayout()
        if changes.metrics is not None:
            self.metrics = changes.metrics
            if self.show_metrics:
                self._metrics_lines = []
        if changes.avatar is not None:
            self.set_avatar(changes.avatar)
        if changes.quit is not None:
            self.quit = changes.quit

    def set_avatar(self, frame: AvatarFrame) -> None:
        """A new avatar frame: the rows it covered are restored, then it is painted.

        A frame that would paint what is on screen already (the same sprite rows
        at the same cell, shown or hidden alike) changes nothing and is not painted.
        """
        shown = self._frame
        if shown is not None and _paints_the_same(frame, shown):
            return
        self._frame = frame
        self._avatar_rect = None
        if frame.visible and frame.rows:
            width = self._sprite_width(frame.rows)
            self._avatar_rect = Rect(frame.y, frame.x, len(frame.rows), width)
            wanted = max(AVATAR_LANE_WIDTH, width + 2)
            if wanted != self._avatar_width:
                self._avatar_width = wanted  # a larger (or smaller again) sprite: a new lane
                self._relayout()
        self.dirty.add(AVATAR)

    def _sprite_width(self, rows: SpriteRows) -> int:
        """A sprite's width in cells; worked out once per rows (they are shared, not copied)."""
        known = self._sprite_widths.get(id(rows))
        if known is not None and known[0] is rows:
            return known[1]
        if len(self._sprite_widths) >= _SPRITE_WIDTHS_KEPT:
            self._sprite_widths.clear()  # frames from a link: new rows every time
        width = max(
            (column + cell_width(text) for row in rows for column, text, _ in row), default=0
        )
        self._sprite_widths[id(rows)] = (rows, width)
        return width

    # -- input from the person ---------------------------------------------------------

    def resize(self, width: int, height: int) -> None:
        """A new terminal size: lay everything out again and repaint it all."""
        if (width, height) == (self.layout.width, self.layout.height):
            return
        self._relayout(width, height, force=True)

    def invalidate(self) -> None:
        """Repaint everything (Ctrl+L, or a new pad)."""
        self.dirty.update(REGIONS)
        self._painted = [None] * self.layout.conversation.height
        self._status_text = None
        self._avatar_rows = set(range(self.layout.avatar.height))

    @property
    def wants_metrics(self) -> bool:
        """True while fresh metrics can change the screen much: F2 open, or an answer in flight.

        Idle, the status bar keeps the last figure; asking anyway would wake the UI
        every second for a repaint that changes nothing.
        """
        return self.show_metrics or state_is_busy(self.status)

    def touch_input(self) -> None:
        self.dirty.add(INPUT)

    def toggle_metrics(self, show: bool | None = None) -> None:
        self.show_metrics = not self.show_metrics if show is None else show
        self._metrics_lines = []
        self._painted = [None] * self.layout.conversation.height

    def scroll(self, lines: int) -> None:
        """Scroll the pane: negative is up (older), positive down; down to the end follows."""
        height = self.layout.conversation.height
        total = self.conversation.total
        top = self.top() + lines
        if top >= max(0, total - height):
            self._anchor = None
        else:
            self._anchor = self.conversation.origin + max(0, top)

    def page(self, pages: int) -> None:
        self.scroll(pages * max(1, self.layout.conversation.height - 1))

    def scroll_to_top(self) -> None:
        self._anchor = self.conversation.origin
        if self.conversation.total <= self.layout.conversation.height:
            self._anchor = None

    def scroll_to_end(self) -> None:
        self._anchor = None

    def top(self) -> int:
        """The first conversation line shown."""
        last = max(0, self.conversation.total - self.layout.conversation.height)
        if self._anchor is None:
            return last
        return min(max(0, self._anchor - self.conversation.origin), last)

    @property
    def following(self) -> bool:
        return self._anchor is None

    def visible_tasks(self, now: float) -> tuple[TaskView, ...]:
        """Task cards to show: running ones, and finished ones for a moment."""
        return tuple(
            task
            for task in self.tasks
            if task.finished_at is None or now - task.finished_at < TASK_LINGER
        )

    def expired_tasks(self, now: float) -> bool:
        """True when a finished task card is past its linger (the view model may forget it)."""
        return any(
            task.finished_at is not None and now - task.finished_at >= TASK_LINGER
            for task in self.tasks
        )

    def next_deadline(self, now: float) -> float | None:
        """When something time-based changes on screen without a message (a card expiring)."""
        ends = [
            task.finished_at + TASK_LINGER for task in self.tasks if task.finished_at is not None
        ]
        pending = [end for end in ends if end > now]
        return min(pending) if pending else None

    # -- painting -------------------------------------------------------------------------

    def paint(self, canvas: Canvas) -> bool:
        """Paint every region that changed; True when anything was painted."""
        now = self.prepare()
        painted = False
        for region in REGIONS:
            painted = self.paint_region(region, canvas, now) or painted
        return painted

    def prepare(self) -> float:
        """Start a paint: the time it paints for (the task panel may come or go)."""
        now = self.clock()
        if self.layout.shows_tasks != bool(self.visible_tasks(now)):
            self._relayout()
        return now

    def paint_region(self, region: str, canvas: Canvas, now: float) -> bool:
        """Paint one region if it changed; True when anything was painted."""
        layout = self.layout
        dirty = region in self.dirty
        self.dirty.discard(region)
        if layout.too_small:
            if region != CONVERSATION or not dirty:
                return False
            self._paint_too_small(canvas, layout)
            return True
        if region == CONVERSATION:
            return self._paint_conversation(canvas, layout.conversation)
        if region == STATUS:
            return self._paint_status(canvas, layout.status, now, dirty)
        if not dirty:
            return False
        if region == TASKS:
            if not layout.shows_tasks:
                return False
            panels.paint_tasks(canvas, layout.tasks, self.visible_tasks(now))
        elif region == AVATAR:
            return self._paint_avatar(canvas, layout.avatar)
        elif region == RULE:
            canvas.put(layout.rule.y, 0, panels.rule_line(layout.width), styles.RULE)
        elif region == INPUT:
            self._input_anchor = panels.paint_input(
                canvas, layout.input, self.editor, self._input_anchor
            )
        return True

    def rect_of(self, region: str) -> Rect:
        """Where a region is in the current layout."""
        layout = self.layout
        if layout.too_small:
            return (
                Rect(0, 0, layout.height, layout.width)
                if region == CONVERSATION
                else Rect(0, 0, 0, 0)
            )
        rect: Rect = getattr(layout, region)
        return rect

    def _paint_conversation(self, canvas: Canvas, pane: Rect) -> bool:
        if self.show_metrics:
            if not self._metrics_lines:
                self._metrics_lines = panels.metrics_lines(self.metrics, pane.width)
            lines = self._metrics_lines[: pane.height]
        else:
            lines = self.conversation.lines(self.top(), pane.height)
        painted = self._painted
        blank: Line = ("", styles.TEXT)
        repainted = False
        for row in range(pane.height):
            line = lines[row] if row < len(lines) else blank
            before = painted[row]
            if before is line or before == line:
                continue
            canvas.put(pane.y + row, pane.x, pad(line[0], pane.width), line[1])
            if len(line) == 3:
                for column, text, style in line[2]:
                    if column < pane.width:
                        canvas.put(
                            pane.y + row, pane.x + column, fit(text, pane.width - column), style
                        )
            painted[row] = line
            repainted = True
        return repainted

    def _paint_avatar(self, canvas: Canvas, lane: Rect) -> bool:
        """Blank the lane rows the avatar leaves, paint her runs clipped to the lane."""
        if lane.width <= 0 or lane.height <= 0:
            self._avatar_rows = set()
            return False
        frame, rect = self._frame, self._avatar_rect
        showing: set[int] = set()
        if frame is not None and rect is not None:
            showing = {y for y in range(rect.y, rect.y + rect.height) if 0 <= y < lane.height}
        blank = " " * lane.width
        for y in sorted(self._avatar_rows | showing):
            canvas.put(lane.y + y, lane.x, blank, styles.TEXT)
        self._avatar_rows = showing
        if frame is None or rect is None:
            return True
        for y in sorted(showing):
            for column, run, colour in frame.rows[y - rect.y]:
                x = rect.x + column
                if x < 0 or x >= lane.width:
                    continue
                text = run if x + len(run) <= lane.width else fit(run, lane.width - x)
                canvas.put(lane.y + y, lane.x + x, text, _AVATAR_STYLES.get(colour, styles.TEXT))
        return True

    def _paint_status(self, canvas: Canvas, rect: Rect, now: float, dirty: bool) -> bool:
        status = self.status
        inputs = (status, self.metrics, self.top(), self.conversation.total, self._anchor)
        streaming = (
            status is not None and status.answer_started is not None and status.answer_ended is None
        )
        if not dirty and not streaming and inputs == self._status_inputs:
            return False  # e.g. an avatar frame: nothing the bar shows has changed
        self._status_inputs = inputs
        height = self.layout.conversation.height
        scroll = panels.scroll_text(self.top(), height, self.conversation.total, self.following)
        segments = panels.status_segments(status, self.metrics, scroll, now)
        if segments == self._status_text and not dirty:
            return False
        self._status_text = segments
        label, label_style, rest = segments
        label = fit(label, rect.width)
        canvas.put(rect.y, rect.x, label, label_style)
        used = cell_width(label)
        if used < rect.width:
            canvas.put(rect.y, rect.x + used, pad(rest, rect.width - used), styles.STATUS)
        return True

    def _paint_too_small(self, canvas: Canvas, layout: Layout) -> None:
        message = panels.too_small_lines(layout.width, layout.height)
        first = max(0, (layout.height - len(message)) // 2)
        for y in range(layout.height):
            index = y - first
            if 0 <= index < len(message):
                text, style = message[index][:2]
                text = fit(text, layout.width)
                left = max(0, (layout.width - cell_width(text)) // 2)
                canvas.put(y, 0, " " * left, styles.TEXT)
                canvas.put(y, left, pad(text, layout.width - left), style)
            else:
                canvas.put(y, 0, " " * layout.width, styles.TEXT)

    # -- layout ---------------------------------------------------------------------------------

    def _relayout(
        self, width: int | None = None, height: int | None = None, *, force: bool = False
    ) -> None:
        old = self.layout
        wanted = bool(self.visible_tasks(self.clock()))
        layout = compute_layout(
            old.width if width is None else width,
            old.height if height is None else height,
            tasks=wanted,
            avatar_width=self._avatar_width,
        )
        if layout == old and not force:
            return
        self.layout = layout
        if layout.avatar != old.avatar:
            self.area_changed = True
        if layout.conversation != old.conversation:
            self.conversation.resize(max(1, layout.conversation.width))
            self._metrics_lines = []
        self.invalidate()

    @property
    def avatar_area(self) -> Rect:
        """The avatar's lane (empty when the terminal has no room for one)."""
        return EMPTY if self.layout.too_small else self.layout.avatar


def state_is_busy(status: StatusView | None) -> bool:
    """True while an answer is being thought about or streamed."""
    return status is not None and status.state in (
        ConversationState.THINKING,
        ConversationState.RESPONDING,
    )

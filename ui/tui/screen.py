"""The curses side, owned by npyscreen on the main thread: theme, pad, widgets, the wake-up loop.

npyscreen sets curses up and tears it down (``NPSApp.run(fork=False)``), owns
the pad the screen is drawn on and the colour pairs (``Theme`` adds one pair
per style and one per avatar colour). Each screen region is an npyscreen
widget whose ``update`` asks the renderer to paint that region, and only
regions that changed are updated; the pad is then refreshed once, so curses
sends the terminal only the cells that differ.

The loop sleeps in ``select`` on the terminal and a wake-up pipe: the view
model writes one byte when something changes (and ``SIGWINCH`` writes one
through ``signal.set_wakeup_fd``). There is no polling: metrics are asked
for only while F2 is open or an answer is in flight (``MetricsClock``), so an
idle screen wakes only for what changes it (the avatar's frames), and a wake-up
that brings nothing new paints nothing. Model-driven repaints are paced to at
most ``FRAME_RATE`` per second (keys repaint at once). No other thread ever
calls curses.
"""

from __future__ import annotations

import contextlib
import curses
import locale
import math
import os
import select
import sys
import time
from typing import Any

import npyscreen

from aiway.ui.tui import render, styles
from aiway.ui.tui.clipboard import Clipboard
from aiway.ui.tui.controller import Controller
from aiway.ui.tui.editor import Editor
from aiway.ui.tui.input_history import InputHistory
from aiway.ui.tui.keys import Key, KeyReader, RawKey
from aiway.ui.tui.metrics_clock import MetricsClock
from aiway.ui.tui.remote_metrics import RemoteMetrics
from aiway.ui.tui.render import Renderer
from aiway.ui.tui.session import Session
from aiway.ui.tui.viewmodel import ViewModel

FRAME_RATE = 20.0
ESCAPE_DELAY_MS = 25
_FIRST_PAIR = 20  # npyscreen's own theme uses the pairs below this
_MAX_KEYS_PER_WAKE = 8192
BRACKETED_PASTE_ON = "\x1b[?2004h"
BRACKETED_PASTE_OFF = "\x1b[?2004l"


class Theme(npyscreen.ThemeManager):  # type: ignore[misc]
    """npyscreen's theme manager (aiway paints with its own attributes: ``build_attributes``)."""


def build_attributes(theme: str = "dark") -> dict[str, int]:
    """Curses attributes for every style name (colour pairs initialised here, once).

    Theme ``none`` (``NO_COLOR``) initialises no colour pair at all: bold, dim,
    italic, underline and reverse only.
    """
    flags = {
        styles.BOLD: curses.A_BOLD,
        styles.DIM: curses.A_DIM,
        styles.REVERSE: curses.A_REVERSE,
        styles.ITALIC: getattr(curses, "A_ITALIC", 0),
        styles.UNDERLINE: curses.A_UNDERLINE,
    }
    colours = 0
    if curses.has_colors():
        try:
            curses.use_default_colors()  # pair 0 is the terminal's own colours, in every theme
            colours = 0 if theme == "none" else curses.COLORS
        except curses.error:
            colours = 0
    rich = colours >= 256
    next_pair = _FIRST_PAIR
    attributes: dict[str, int] = {}

    def pair(foreground: int, background: int) -> int:
        nonlocal next_pair
        if colours == 0 or next_pair >= curses.COLOR_PAIRS:
            return 0
        curses.init_pair(next_pair, foreground, background)
        next_pair += 1
        return curses.color_pair(next_pair - 1)

    for name, (foreground, background, flag_bits) in styles.palette(theme).items():
        attribute = 0
        for bit, curses_flag in flags.items():
            if flag_bits & bit:
                attribute |= curses_flag
        fg = foreground[0] if rich else foreground[1]
        bg = background[0] if rich else background[1]
        if fg != -1 or bg != -1:
            attribute |= pair(fg, bg)
        attributes[name] = attribute
    for colour, (rich_colour, basic_colour) in styles.AVATAR_COLOURS.items():
        attributes[styles.avatar_style(colour)] = pair(rich_colour if rich else basic_colour, -1)
    return attributes


class PadCanvas:
    """The renderer's canvas on an npyscreen pad: one ``addstr`` per ``put``."""

    def __init__(self, pad: Any, attributes: dict[str, int]) -> None:
        self.pad = pad
        self.attributes = attributes

    def put(self, y: int, x: int, text: str, style: str) -> None:
        # try/except, not contextlib.suppress: this runs per painted span (no allocation)
        try:  # noqa: SIM105
            self.pad.addstr(y, x, text, self.attributes.get(style, 0))
        except curses.error:
            pass  # the bottom-right cell (the cursor cannot advance), or clipped text


class Waker:
    """A non-blocking pipe: any thread writes a byte, the UI thread's ``select`` wakes."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self.closed = False

    def wake(self) -> None:
        if self.closed:
            return
        # full: a wake-up is pending anyway
        with contextlib.suppress(OSError):
            os.write(self.write_fd, b"\0")

    def drain(self) -> None:
        try:
            while os.read(self.read_fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        self.closed = True
        os.close(self.read_fd)
        os.close(self.write_fd)


def terminal_size() -> tuple[int, int]:
    """``(columns, rows)`` of the controlling terminal, from any standard stream that is one."""
    for stream in (sys.__stdout__, sys.__stdin__, sys.__stderr__):
        try:
            if stream is not None:
                size = os.get_terminal_size(stream.fileno())
                if size.columns and size.lines:
                    return size.columns, size.lines
        except (OSError, ValueError):
            continue
    return 80, 24


def _terminal_mode(sequence: str) -> None:
    """Write a mode switch straight to the terminal (curses has no call for it)."""
    stream = sys.__stdout__
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        stream.write(sequence)
        stream.flush()


class RegionWidget(npyscreen.widget.Widget):  # type: ignore[misc]
    """One region of the screen; ``update`` paints it through the renderer if it changed."""

    def __init__(self, screen: MainForm, region: str, **keywords: Any) -> None:
        self.region = region
        super().__init__(screen, editable=False, **keywords)

    def set_size(self) -> None:
        rect = self.parent.renderer.rect_of(self.region)
        self.rely, self.relx, self.height, self.width = rect.y, rect.x, rect.height, rect.width

    def update(self, clear: bool = True) -> bool:
        form = self.parent
        return bool(form.renderer.paint_region(self.region, form.canvas, form.paint_time))

    def clear(self, usechar: str = " ") -> None:
        self.parent.renderer.invalidate()


class MainForm(npyscreen.FormBaseNew):  # type: ignore[misc]
    """The one form: the regions as widgets, and the wake-up loop that drives them."""

    FRAMED = False
    FIX_MINIMUM_SIZE_WHEN_CREATED = False
    BLANK_LINES_BASE = 0
    BLANK_COLUMNS_RIGHT = 0
    DEFAULT_NEXTRELY = 0
    DEFAULT_X_OFFSET = 0

    def __init__(self, session: Session, view: ViewModel, waker: Waker) -> None:
        columns, rows = terminal_size()
        self.session = session
        self.view = view
        self.waker = waker
        self.renderer = Renderer(columns, rows)
        self.remote_metrics = RemoteMetrics()
        settings = session.settings
        self.renderer.editor = Editor(
            store=InputHistory(settings.tui.input_history, settings.tui.input_history_limit)
        )
        data = settings.history.path.parent if settings.history.path is not None else None
        clipboard = Clipboard(_terminal_mode, data / "clipboard.txt" if data else None)
        self.controller = Controller(self.renderer, view, session.send, clipboard)
        self.keys = KeyReader()
        self.paint_time = 0.0
        self.resize_pending = False
        self.stop_requested = False
        super().__init__(minimum_lines=1, minimum_columns=1)
        self.canvas = PadCanvas(self.curses_pad, build_attributes(session.settings.tui.theme))
        self._prepare_pad()

    def create(self) -> None:
        for region in render.REGIONS:
            self.add_widget(RegionWidget, region=region)

    def _max_physical(self) -> tuple[int, int]:
        # npyscreen asks stderr with an ioctl and fails when stderr is not a terminal
        columns, rows = terminal_size()
        return rows - 1, columns - 1

    def _prepare_pad(self) -> None:
        pad = self.curses_pad
        pad.keypad(True)
        pad.nodelay(True)
        self.canvas.pad = pad

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Draw, wait, react, until quit (Ctrl+Q, /quit, a Quit message, or a failed start)."""
        _terminal_mode(BRACKETED_PASTE_ON)
        try:
            self._loop()
        finally:
            _terminal_mode(BRACKETED_PASTE_OFF)

    def _loop(self) -> None:
        curses.raw()
        curses.noecho()
        with contextlib.suppress(curses.error):
            curses.set_escdelay(ESCAPE_DELAY_MS)
        npyscreen.npyspmfuncs.hide_cursor()
        terminal = sys.stdin.fileno()
        frame = 1.0 / FRAME_RATE
        last_paint = -math.inf
        metrics = MetricsClock()
        f2_open = False
        pending = True
        self._resize(force=True)
        repaint = True
        while True:
            now = time.monotonic()
            if self.resize_pending:
                self.resize_pending = False
                self._resize()
                repaint = True
            if pending and now - last_paint >= frame:
                pending = False
                self.renderer.apply(self.view.take())
                repaint = True
            if self._finished():
                return
            if f2_open and not self.renderer.show_metrics:  # F2 closed: no stale remote figures
                self.remote_metrics.close(self.session)
            f2_open = self.renderer.show_metrics
            if self.session.ready and metrics.due(now, self.renderer.wants_metrics):
                if self.renderer.show_metrics:  # F2: the remote mailboxes' figures too
                    self.remote_metrics.request(self.session)
                else:
                    self.session.request_metrics()
            task_deadline = self.renderer.next_deadline(now)
            # Only a change can alter the screen: something applied, a key, a resize, or
            # a task card's linger running out. A wake-up for none of these paints nothing.
            if repaint and self._paint():
                last_paint = now
            repaint = False
            deadlines = [last_paint + frame] if pending else []
            if self.session.ready and (due := metrics.deadline()) is not None:
                deadlines.append(due)
            if task_deadline is not None:
                deadlines.append(task_deadline)
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            readable, _, _ = select.select([terminal, self.waker.read_fd], [], [], timeout)
            if self.waker.read_fd in readable:
                self.waker.drain()
                pending = True
            if terminal in readable:
                self._read_keys()
                repaint = True
            if task_deadline is not None and time.monotonic() >= task_deadline:
                repaint = True

    def _finished(self) -> bool:
        return (
            self.controller.quit_requested
            or self.stop_requested
            or self.renderer.quit is not None
            or self.session.error is not None
        )

    def _paint(self) -> bool:
        renderer = self.renderer
        if renderer.area_changed:
            renderer.area_changed = False
            lane = renderer.avatar_area
            if not renderer.layout.too_small:
                self.session.resized(lane.width, lane.height)
        self.paint_time = renderer.prepare()
        if renderer.expired_tasks(self.paint_time):
            self.view.forget_finished_tasks(before=self.paint_time - render.TASK_LINGER)
        painted = False
        for widget in self._widgets__:
            painted = widget.update() or painted
        if painted:
            self.refresh()
        return painted

    def _read_keys(self) -> None:
        raw: list[RawKey] = []
        pad = self.curses_pad
        while len(raw) < _MAX_KEYS_PER_WAKE:
            try:
                raw.append(pad.get_wch())
            except curses.error:
                break
        for action in self.keys.feed(raw):
            if action is Key.RESIZE:
                self._resize()
            elif action is Key.REDRAW:
                self.controller.handle(action)
                self.curses_pad.clearok(True)
            else:
                self.controller.handle(action)

    def _resize(self, *, force: bool = False) -> None:
        """Lay out for the terminal's size now; nothing to do when it did not change."""
        columns, rows = terminal_size()
        layout = self.renderer.layout
        if not force and (columns, rows) == (layout.width, layout.height):
            return  # e.g. the KEY_RESIZE that resizeterm queues after our own SIGWINCH
        if (rows, columns) != (curses.LINES, curses.COLS):
            with contextlib.suppress(curses.error):
                curses.resizeterm(rows, columns)
            curses.update_lines_cols()
        self._create_screen()
        self._prepare_pad()
        self.renderer.resize(columns, rows)
        self.renderer.invalidate()
        for widget in self._widgets__:
            widget.set_size()
        self.curses_pad.clearok(True)


class TuiApp(npyscreen.NPSApp):  # type: ignore[misc]
    """The npyscreen application: sets the theme and runs the main form's loop."""

    def __init__(self, session: Session, view: ViewModel, waker: Waker) -> None:
        super().__init__()
        self.session = session
        self.view = view
        self.waker = waker
        self.form: MainForm | None = None
        self.stop_requested = False

    def main(self) -> None:
        curses.mousemask(0)  # keep the terminal's own text selection
        npyscreen.setTheme(Theme)
        if locale.nl_langinfo(locale.CODESET).upper().replace("-", "") != "UTF8":
            self.view.note(
                "warning",
                "locale",
                "the terminal's locale is not UTF-8, so only ASCII can be typed; "
                "set LANG=C.UTF-8 (or another UTF-8 locale)",
            )
        self.form = MainForm(self.session, self.view, self.waker)
        self.form.stop_requested = self.stop_requested
        self.form.run()

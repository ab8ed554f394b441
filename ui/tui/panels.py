"""What the small regions say: status bar, task panel, key hints, input rows, metrics table.

Pure functions from state to lines (or, for the input box and the progress
bars, to a few painted spans); the renderer decides when to paint them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiway.actors.protocol import ConversationState, Metrics
from aiway.ui.tui import styles
from aiway.ui.tui.canvas import Canvas
from aiway.ui.tui.editor import PROMPT, Editor
from aiway.ui.tui.layout import MIN_HEIGHT, MIN_WIDTH, Rect
from aiway.ui.tui.markdown import Line
from aiway.ui.tui.text import cell_width, char_width, fit, pad, wrap
from aiway.ui.tui.viewmodel import StatusView, TaskView

STATE_LABELS = {
    ConversationState.INITIALIZING: "Starting",
    ConversationState.READY: "Ready",
    ConversationState.THINKING: "Thinking…",
    ConversationState.RESPONDING: "Responding",
    ConversationState.LISTENING: "Listening",
    ConversationState.ERROR: "Error",
    ConversationState.SHUTTING_DOWN: "Closing",
}
_BUSY = (ConversationState.THINKING, ConversationState.RESPONDING)

HINTS = (
    "Enter send",
    "Alt+Enter newline",
    "Esc cancel",
    "PgUp/PgDn scroll",
    "F2 metrics",
    "Ctrl+Q quit",
)
PLACEHOLDER = "Ask Yollayah something · /help lists the commands"
BAR = "█"
BAR_EMPTY = "░"


# -- status bar ------------------------------------------------------------------------


def status_segments(
    status: StatusView | None, metrics: Metrics | None, scroll: str, now: float
) -> tuple[str, str, str]:
    """``(state label, state style, the rest)`` of the status bar."""
    if status is None:
        return " Starting ", styles.STATUS_BUSY, ""
    label = STATE_LABELS.get(status.state, status.state.value)
    style = styles.STATUS
    if status.state in _BUSY:
        style = styles.STATUS_BUSY
    elif status.state is ConversationState.ERROR:
        style = styles.STATUS_ERROR
    parts = []
    if status.model:
        parts.append(f"{status.model} on {status.backend}" if status.backend else status.model)
    if status.notice:  # start-up progress, or a pull's progress line
        parts.append(status.notice)
    rate = live_rate(status, now)
    if rate is not None:
        parts.append(f"{rate:.1f} tok/s")
    parts.append(scroll)
    if metrics is not None:
        parts.append(mailbox_lag(metrics))
    return f" {label} ", style, " " + " │ ".join(parts)


def live_rate(status: StatusView, now: float) -> float | None:
    """Token messages per second of the current (or last) answer, once it has two."""
    started = status.answer_started
    if started is None or status.answer_tokens < 2:
        return None
    until = status.answer_ended if status.answer_ended is not None else now
    elapsed = until - started
    if elapsed <= 0:
        return None
    return (status.answer_tokens - 1) / elapsed


def mailbox_lag(metrics: Metrics) -> str:
    """The worst mailbox: its p99 enqueue-to-handle latency and the deepest queue."""
    p99 = max((box.latency_p99 for box in metrics.mailboxes), default=0.0)
    depth = max((box.depth for box in metrics.mailboxes), default=0)
    return f"lag p99 {_duration(p99)} · depth {depth}"


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def scroll_text(top: int, height: int, total: int, following: bool) -> str:
    """Where the pane is: ``end``, or how far up."""
    if following or total <= height:
        return "end"
    below = max(0, total - top - height)
    return f"↑ {below} lines below"


# -- key hints ---------------------------------------------------------------------------


def rule_line(width: int) -> str:
    """The rule above the input box, with as many key hints as fit."""
    shown: list[str] = []
    used = 3
    for hint in HINTS:
        if used + len(hint) + 3 > width:
            break
        shown.append(hint)
        used += len(hint) + 3
    text = "─ " + " · ".join(shown) + " " if shown else ""
    return text + "─" * max(0, width - len(text))


# -- input box ------------------------------------------------------------------------------


def paint_input(canvas: Canvas, rect: Rect, editor: Editor, anchor: int) -> int:
    """Paint the input box; returns where its first row starts (kept so the box does not jump)."""
    if editor.search is not None:
        _paint_search(canvas, rect, editor)
        return 0
    rows, cursor_row, cursor_col, anchor = editor.window(rect.width, rect.height, anchor)
    for index in range(rect.height):
        y = rect.y + index
        if index < len(rows):
            row = rows[index]
            prefix = row[: len(PROMPT)]
            canvas.put(y, rect.x, prefix, styles.PROMPT)
            canvas.put(
                y,
                rect.x + len(prefix),
                pad(row[len(prefix) :], rect.width - len(prefix)),
                styles.INPUT,
            )
        else:
            canvas.put(y, rect.x, " " * rect.width, styles.INPUT)
    if not editor.text:
        canvas.put(
            rect.y,
            rect.x + len(PROMPT) + 1,
            fit(PLACEHOLDER, rect.width - len(PROMPT) - 2),
            styles.META,
        )
    row_text = rows[cursor_row][len(PROMPT) :] if cursor_row < len(rows) else ""
    under = _char_at_cell(row_text, cursor_col - len(PROMPT))
    canvas.put(rect.y + cursor_row, rect.x + cursor_col, under, styles.CURSOR)
    return anchor


def _paint_search(canvas: Canvas, rect: Rect, editor: Editor) -> None:
    """The input box during Ctrl+R: the query, then the match's first lines."""
    query = editor.search or ""
    found = editor.search_match is not None
    state = "" if found or not query else "  (no match)"
    head = f"search: {query}"
    hint = "   Ctrl+R older · Enter keep · Esc back"
    canvas.put(rect.y, rect.x, pad(head + state + hint, rect.width), styles.META)
    canvas.put(rect.y, rect.x + cell_width(head), " ", styles.CURSOR)
    lines = editor.text.split("\n") if found else []
    for offset in range(1, rect.height):
        line = lines[offset - 1] if offset - 1 < len(lines) else ""
        canvas.put(rect.y + offset, rect.x, pad("  " + line, rect.width), styles.INPUT)


def _char_at_cell(text: str, column: int) -> str:
    used = 0
    for char in text:
        cells = char_width(char)
        if used == column and cells:
            return char
        used += cells
        if used > column:
            break
    return " "


# -- task panel ---------------------------------------------------------------------------------


def paint_tasks(canvas: Canvas, rect: Rect, tasks: Sequence[TaskView]) -> None:
    """The task panel: a border, then a card per task (name, description, bar, status)."""
    inner = rect.width - 2
    x = rect.x + 2
    y = rect.y
    bottom = rect.y + rect.height
    for row in range(rect.y, bottom):
        canvas.put(row, rect.x, "│" + " " * (rect.width - 1), styles.RULE)
    canvas.put(y, x, fit(f"Tasks ({len(tasks)})", inner), styles.HEADER)
    y += 2
    for task in tasks:
        if y >= bottom:
            break
        canvas.put(y, x, fit(f"{task.agent_name} ({task.agent})", inner), styles.TASK_TITLE)
        y += 1
        for _, piece in wrap(task.description, inner)[:2]:
            if y < bottom:
                canvas.put(y, x, piece, styles.TASK_TEXT)
                y += 1
        if y < bottom:
            _paint_bar(canvas, y, x, inner, task.percent)
            y += 1
        if y < bottom:
            text, style = _task_status(task)
            canvas.put(y, x, fit(text, inner), style)
            y += 2


def _paint_bar(canvas: Canvas, y: int, x: int, width: int, percent: int) -> None:
    label = f" {max(0, min(100, percent)):3d}%"
    room = max(1, width - len(label))
    done = room * max(0, min(100, percent)) // 100
    canvas.put(y, x, BAR * done, styles.BAR_DONE)
    canvas.put(y, x + done, BAR_EMPTY * (room - done), styles.BAR_TODO)
    canvas.put(y, x + room, fit(label, width - room), styles.TASK_TEXT)


def _task_status(task: TaskView) -> tuple[str, str]:
    if task.status == "done":
        return "✓ done", styles.TASK_OK
    if task.status == "failed":
        return f"✗ failed: {task.reason}", styles.TASK_FAILED
    return "… running", styles.TASK_TEXT


# -- metrics view (F2) and the too-small screen -----------------------------------------------


def metrics_lines(metrics: Metrics | None, width: int) -> list[Line]:
    """Every mailbox's counters as a table (the F2 view)."""
    lines: list[Line] = [
        (fit("Mailboxes (F2 or Esc closes)", width), styles.HEADER),
        ("", styles.TEXT),
    ]
    if metrics is None:
        lines.append(("waiting for the first metrics…", styles.META))
        return lines
    rows = [
        (
            "mailbox",
            "cap",
            "depth",
            "high",
            "accepted",
            "coalesced",
            "rejected",
            "p50",
            "p99",
            "max handler",
        )
    ]
    for box in metrics.mailboxes:
        rows.append(
            (
                box.name,
                str(box.capacity),
                str(box.depth),
                str(box.high_water),
                str(box.accepted),
                str(box.coalesced),
                str(box.rejected + box.dropped),
                _duration(box.latency_p50),
                _duration(box.latency_p99),
                _duration(box.handler_seconds_max),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    # narrow terminals lose the right-most columns, never the mailbox names
    columns = len(widths)
    while columns > 2 and sum(widths[:columns]) + 2 * (columns - 1) > width:
        columns -= 1
    for number, row in enumerate(rows):
        text = "  ".join(cell.ljust(w) for cell, w in zip(row[:columns], widths, strict=False))
        lines.append((fit(text, width), styles.HEADER if number == 0 else styles.TEXT))
    lines.append(("", styles.TEXT))
    extra = f"dead letters {metrics.dead_letters} · dropped tags {metrics.dropped_tags}"
    lines.append((fit(extra, width), styles.META))
    return lines


def too_small_lines(width: int, height: int) -> list[Line]:
    """What a terminal too small for the layout shows instead."""
    return [
        ("Terminal too small", styles.WARNING),
        (f"{width}x{height}: aiway needs {MIN_WIDTH}x{MIN_HEIGHT}", styles.TEXT),
        ("Ctrl+Q quits", styles.META),
    ]

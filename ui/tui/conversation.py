"""The conversation pane's lines: each entry wrapped once per width, visible lines found by bisect.

An ``EntryLayout`` turns one entry (a message of yours, an answer, a system
note) into display lines at one width and keeps them. Your messages and notes
are plain text: streamed text keeps its finished lines and re-wraps only its
last line (see ``aiway.ui.tui.text.wrap``). An answer is markdown
(``aiway.ui.tui.markdown``): while it streams, finished blocks are rendered
once and only the unfinished tail again; when it ends, it is rendered whole.
``ConversationLayout`` keeps every entry's first line number in a sorted
list, so the lines of any window are found with a bisect and produced one by
one: drawing costs the same with ten messages or ten thousand. Only a change
of width re-wraps everything, once.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from aiway.ui.format import metadata_line
from aiway.ui.tui import styles
from aiway.ui.tui.markdown import Line, MarkdownStream, render
from aiway.ui.tui.text import fit, sanitize, wrap
from aiway.ui.tui.viewmodel import ASSISTANT, NOTE, STREAMING, USER, Changes, EntryView

__all__ = ["BLANK", "CURSOR_MARK", "ConversationLayout", "EntryLayout", "Line"]

INDENT = "  "
CURSOR_MARK = "▍"
LABELS = {USER: ("You", styles.USER), ASSISTANT: ("Yollayah", styles.ASSISTANT)}
BLANK: Line = ("", styles.TEXT)


class EntryLayout:
    """One entry's display lines at one width."""

    __slots__ = (
        "_extra",
        "_markdown",
        "_markdown_taken",
        "_parts",
        "_tail",
        "_tail_first",
        "_tail_source",
        "body",
        "count",
        "error",
        "foot",
        "kind",
        "level",
        "metadata",
        "serial",
        "status",
        "title",
        "width",
    )

    def __init__(self, view: EntryView, width: int) -> None:
        self.serial = view.serial
        self.kind = view.kind
        self.width = width
        self.body: list[Line] = []
        self.foot: list[Line] = []
        self._extra: list[Line] = []
        self._markdown: MarkdownStream | None = None
        self._markdown_taken = 0
        self._parts: list[str] = []
        self._tail: Line = BLANK
        self._tail_source = ""
        self._tail_first = True
        self.count = 0
        self.update(view)

    # -- changes -----------------------------------------------------------------------

    def update(self, view: EntryView) -> None:
        """Take a change: new text appended, or the whole entry replaced."""
        self.status = view.status
        self.level = view.level
        self.title = view.title
        self.metadata = view.metadata
        self.error = view.error
        if view.full:
            self._parts = [view.text] if view.text else []
            self._build()
        elif self._markdown is not None and not self.streaming:
            if view.text:
                self._parts.append(view.text)
            self._build()  # the answer ended: rendered whole, once
        else:
            if view.text:
                self._parts.append(view.text)
                if self._markdown is not None:
                    self._markdown.feed(sanitize(view.text))
                    self._take_markdown()
                else:
                    self._append(sanitize(view.text))
            self._finish()

    def rewrap(self, width: int) -> None:
        """Lay the entry out again at a new width."""
        self.width = width
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        self._build()

    # -- reading -----------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.status == STREAMING

    def line(self, index: int) -> Line:
        """Line ``index`` (0 <= index < count)."""
        body = self.body
        if index < len(body):
            return body[index]
        index -= len(body)
        extra = self._extra
        if index < len(extra):
            return extra[index]
        index -= len(extra)
        if self.streaming:
            if index == 0:
                tail = self._tail
                if len(tail) == 3:
                    return (tail[0] + CURSOR_MARK, tail[1], tail[2])
                return (tail[0] + CURSOR_MARK, tail[1])
            index -= 1
        return self.foot[index]

    # -- building ------------------------------------------------------------------------

    def _content_width(self) -> int:
        return max(1, self.width - len(INDENT) - 1)

    def _build(self) -> None:
        self.body = []
        label = LABELS.get(self.kind)
        if label is not None:
            self.body.append(label)
        self._tail_source = ""
        self._tail_first = True
        self._extra = []
        self._markdown = None
        text = sanitize("".join(self._parts))
        if self.kind == NOTE:
            self._build_note(text)
        elif self.kind == ASSISTANT:
            self._tail = (INDENT, styles.TEXT)
            # one column is kept free for the streaming cursor mark
            if self.streaming:
                self._markdown = MarkdownStream(self.width - 1, INDENT)
                self._markdown_taken = 0
                self._markdown.feed(text)
                self._take_markdown()
            elif text:
                self.body.extend(render(text, self.width - 1, INDENT))
        else:
            self._tail = (INDENT, styles.TEXT)
            if text:
                self._append(text)
        self._finish()

    def _build_note(self, text: str) -> None:
        style = styles.NOTE_STYLES.get(self.level, styles.NOTE_INFO)
        heading = f"{self.title}: " if self.title else ""
        first = True
        for paragraph in (heading + text).split("\n"):
            for _, piece in wrap(paragraph.rstrip(" "), self._content_width()):
                self.body.append((("· " if first else INDENT) + piece, style))
                first = False

    def _take_markdown(self) -> None:
        """Newly finished markdown lines join the body; the tail is shown after them."""
        markdown = self._markdown
        assert markdown is not None
        done = markdown.done
        if len(done) > self._markdown_taken:
            self.body.extend(done[self._markdown_taken :])
            self._markdown_taken = len(done)
        tail = markdown.tail
        if tail:
            self._extra = tail[:-1]
            self._tail = tail[-1]
        else:
            self._extra = []
            self._tail = (INDENT, styles.TEXT)

    def _append(self, text: str) -> None:
        """Append streamed text: finished lines become fixed, the last one stays the tail."""
        width = self._content_width()
        style = styles.TEXT
        paragraphs = text.split("\n")
        source = self._tail_source + paragraphs[0]
        if len(paragraphs) > 1:
            # the tail's paragraph is complete, and so is every one after it but the last
            self._add_paragraph(source, width, continuation=not self._tail_first)
            for paragraph in paragraphs[1:-1]:
                self._add_paragraph(paragraph, width, continuation=False)
            source = paragraphs[-1]
            self._tail_first = True
        spans = wrap(source, width, continuation=not self._tail_first)
        if len(spans) > 1:
            self.body.extend((INDENT + piece, style) for _, piece in spans[:-1])
            self._tail_first = False
        start, last = spans[-1]
        self._tail_source = source[start:]
        self._tail = (INDENT + last, style)

    def _add_paragraph(self, text: str, width: int, *, continuation: bool) -> None:
        """A finished paragraph's lines, all final."""
        spans = wrap(text, width, continuation=continuation)
        if spans[-1][1] == "" and (len(spans) > 1 or continuation):
            spans.pop()  # the empty line after a break at the paragraph's trailing spaces
        self.body.extend((INDENT + piece, styles.TEXT) for _, piece in spans)

    def _finish(self) -> None:
        """Settle the tail and the footer for the current status, and count the lines."""
        if self.kind != NOTE and not self.streaming:
            if self._tail[0].strip() or len(self.body) <= 1:
                self.body.append(self._tail)
            self._tail = (INDENT, styles.TEXT)
            self._tail_source = ""
            self._tail_first = True
        self.foot = self._footer()
        self.count = (
            len(self.body) + len(self._extra) + (1 if self.streaming else 0) + len(self.foot)
        )

    def _footer(self) -> list[Line]:
        lines: list[Line] = []
        width = self.width
        if self.error:
            for _, piece in wrap(f"! error: {sanitize(self.error)}", self._content_width()):
                lines.append((INDENT + piece, styles.ERROR))
        if self.kind == ASSISTANT and not self.streaming:
            parts = [metadata_line(self.metadata)] if self.metadata is not None else []
            if self.status not in ("complete", "error"):
                parts.append(self.status)
            if parts:
                lines.append((fit(INDENT + " · ".join(parts), width), styles.META))
        lines.append(BLANK)
        return lines


class ConversationLayout:
    """Every entry's lines at the pane's width, and the window of lines to draw."""

    def __init__(self, width: int) -> None:
        self.width = max(1, width)
        self.entries: list[EntryLayout] = []
        self._serials: list[int] = []
        #: the first line number of each entry (absolute: unchanged by trimming the front)
        self._starts: list[int] = []
        self._end = 0

    @property
    def total(self) -> int:
        """How many lines the conversation has."""
        return self._end - self._starts[0] if self._starts else 0

    @property
    def origin(self) -> int:
        """The absolute line number of the first line (grows as old entries are dropped)."""
        return self._starts[0] if self._starts else self._end

    def apply(self, changes: Changes) -> None:
        """Fold in what the view model reports: new entries, grown answers, dropped ones."""
        if changes.reset:
            self.entries.clear()
            self._serials.clear()
            self._starts.clear()
        drop = bisect_left(self._serials, changes.first_serial)
        if drop:
            del self.entries[:drop]
            del self._serials[:drop]
            del self._starts[:drop]
        dirty: int | None = None
        for view in changes.entries:
            if view.serial < changes.first_serial:
                continue
            index = bisect_left(self._serials, view.serial)
            if index < len(self._serials) and self._serials[index] == view.serial:
                entry = self.entries[index]
                before = entry.count
                entry.update(view)
                if entry.count != before and (dirty is None or index + 1 < dirty):
                    dirty = index + 1
            elif index == len(self._serials):
                start = self._end if not self._starts else self._line_after(index - 1)
                self.entries.append(EntryLayout(view, self.width))
                self._serials.append(view.serial)
                self._starts.append(start)
                self._end = start + self.entries[-1].count
        if dirty is not None:
            self._recount(dirty)
        elif self.entries:
            self._end = self._line_after(len(self.entries) - 1)

    def resize(self, width: int) -> None:
        """Re-wrap everything at a new width (once per resize)."""
        width = max(1, width)
        if width == self.width:
            return
        self.width = width
        for entry in self.entries:
            entry.rewrap(width)
        self._recount(0)

    def lines(self, top: int, height: int) -> list[Line]:
        """Up to ``height`` lines from line ``top`` (0 is the first line kept)."""
        out: list[Line] = []
        if not self.entries or height <= 0:
            return out
        wanted = self.origin + max(0, top)
        index = bisect_right(self._starts, wanted) - 1
        offset = wanted - self._starts[index]
        entries = self.entries
        while len(out) < height and index < len(entries):
            entry = entries[index]
            while offset < entry.count and len(out) < height:
                out.append(entry.line(offset))
                offset += 1
            index += 1
            offset = 0
        return out

    def entry_at(self, line: int) -> int:
        """The serial of the entry showing line ``line`` (0 when empty)."""
        if not self.entries:
            return 0
        index = max(0, bisect_right(self._starts, self.origin + line) - 1)
        return self._serials[index]

    def first_line_of(self, serial: int) -> int | None:
        """The line number where entry ``serial`` starts, if it is kept."""
        index = bisect_left(self._serials, serial)
        if index < len(self._serials) and self._serials[index] == serial:
            return self._starts[index] - self.origin
        return None

    def _line_after(self, index: int) -> int:
        return self._starts[index] + self.entries[index].count

    def _recount(self, start: int) -> None:
        starts = self._starts
        entries = self.entries
        line = starts[start - 1] + entries[start - 1].count if start > 0 else self.origin
        for index in range(start, len(entries)):
            starts[index] = line
            line += entries[index].count
        self._end = line

"""The input box's text: editing, word moves, history that keeps the draft, and its rows.

Pure text and a cursor (an index into the text), no curses. Up and Down move
between the lines of a message of several lines, and through the history when
the cursor is on the first or last line; leaving the draft for the history
keeps it, and coming back down past the newest message restores it.

The history can be kept in a file (``InputHistory``), so Up/Down reach
messages of earlier runs, and searched backwards (Ctrl+R): each key narrows
the search, Ctrl+R again finds an older match, Enter keeps the match in the
box to edit or send, Esc puts the draft back.

Drawing costs what the box shows, not what it holds: ``window`` lays out
only the lines around the cursor, so a 10,000-line paste edits and redraws
as fast as a short message (``rows`` lays out everything, for tests).
"""

from __future__ import annotations

from aiway.ui.tui.input_history import InputHistory
from aiway.ui.tui.text import cell_width, fit

PROMPT = "› "
CONTINUATION = "  "


class Editor:
    """The text being typed, its cursor, and the messages sent before."""

    def __init__(self, history_limit: int = 500, store: InputHistory | None = None) -> None:
        self.text = ""
        self.cursor = 0
        self._store = store
        self._history_limit = store.limit if store is not None else history_limit
        self.history: list[str] = store.load() if store is not None else []
        self._browsing: int | None = None
        self._draft = ""
        #: the reverse search's query while Ctrl+R is active, else None
        self.search: str | None = None
        #: the history index of the current match, if any
        self.search_match: int | None = None
        self._search_draft = ("", 0)

    # -- editing ---------------------------------------------------------------------

    def insert(self, text: str) -> None:
        self.text = self.text[: self.cursor] + text + self.text[self.cursor :]
        self.cursor += len(text)

    def backspace(self) -> None:
        if self.cursor > 0:
            self.text = self.text[: self.cursor - 1] + self.text[self.cursor :]
            self.cursor -= 1

    def delete(self) -> None:
        if self.cursor < len(self.text):
            self.text = self.text[: self.cursor] + self.text[self.cursor + 1 :]

    def clear(self) -> None:
        """Ctrl+U: empty the box."""
        self.text = ""
        self.cursor = 0

    def delete_word(self) -> None:
        """Ctrl+W: delete the word before the cursor (and the spaces after it)."""
        start = self._word_start(self.cursor)
        self.text = self.text[:start] + self.text[self.cursor :]
        self.cursor = start

    def take(self) -> str:
        """Enter: the text to send, remembered in the history (blank sends nothing).

        One line is stripped; a message of several lines loses only its blank
        lines at either end and trailing spaces, so pasted code keeps its indentation.
        """
        text = _trim(self.text)
        self.text = ""
        self.cursor = 0
        self._browsing = None
        self._draft = ""
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
            if len(self.history) > self._history_limit:
                del self.history[0]
            if self._store is not None:
                self._store.append(text, self.history)
        return text

    # -- reverse search (Ctrl+R) ------------------------------------------------------

    def search_start(self) -> None:
        """Ctrl+R: start searching the history backwards, or find the next older match."""
        if self.search is None:
            self._search_draft = (self.text, self.cursor)
            self.search = ""
            self.search_match = None
            return
        before = self.search_match if self.search_match is not None else len(self.history)
        self._find(before)

    def search_type(self, text: str) -> None:
        """Narrow the search: the newest match at or before the current one."""
        if self.search is None:
            return
        self.search += text.replace("\n", " ")
        start = self.search_match + 1 if self.search_match is not None else len(self.history)
        self._find(start)

    def search_backspace(self) -> None:
        if self.search:
            self.search = self.search[:-1]
            self._find(len(self.history))

    def search_accept(self) -> None:
        """Keep the match in the box (to edit, or send with Enter)."""
        self.search = None
        self.search_match = None
        self._browsing = None

    def search_cancel(self) -> None:
        """Esc: leave the search and put back what was in the box."""
        self.search = None
        self.search_match = None
        self.text, self.cursor = self._search_draft

    def _find(self, before: int) -> None:
        query = (self.search or "").lower()
        for index in range(min(before, len(self.history)) - 1, -1, -1):
            if query in self.history[index].lower():
                self.search_match = index
                self._show(self.history[index])
                return
        self.search_match = None  # no match: the box shows the draft again
        self.text, self.cursor = self._search_draft

    # -- moving ------------------------------------------------------------------------

    def left(self) -> None:
        self.cursor = max(0, self.cursor - 1)

    def right(self) -> None:
        self.cursor = min(len(self.text), self.cursor + 1)

    def home(self) -> None:
        self.cursor = self.text.rfind("\n", 0, self.cursor) + 1

    def end(self) -> None:
        found = self.text.find("\n", self.cursor)
        self.cursor = len(self.text) if found < 0 else found

    def word_left(self) -> None:
        self.cursor = self._word_start(self.cursor)

    def word_right(self) -> None:
        text, index = self.text, self.cursor
        while index < len(text) and not _is_word(text[index]):
            index += 1
        while index < len(text) and _is_word(text[index]):
            index += 1
        self.cursor = index

    def up(self) -> None:
        """Previous line of this message, else the previous message of the history."""
        line_start = self.text.rfind("\n", 0, self.cursor) + 1
        if line_start > 0:
            column = self.cursor - line_start
            previous_start = self.text.rfind("\n", 0, line_start - 1) + 1
            self.cursor = min(previous_start + column, line_start - 1)
            return
        if not self.history:
            return
        if self._browsing is None:
            self._draft = self.text
            self._browsing = len(self.history)
        if self._browsing > 0:
            self._browsing -= 1
            self._show(self.history[self._browsing])

    def down(self) -> None:
        """Next line of this message, else the next message of the history (then the draft)."""
        line_end = self.text.find("\n", self.cursor)
        if line_end >= 0:
            line_start = self.text.rfind("\n", 0, self.cursor) + 1
            column = self.cursor - line_start
            next_end = self.text.find("\n", line_end + 1)
            next_end = len(self.text) if next_end < 0 else next_end
            self.cursor = min(line_end + 1 + column, next_end)
            return
        if self._browsing is None:
            return
        self._browsing += 1
        if self._browsing >= len(self.history):
            self._browsing = None
            self._show(self._draft)
        else:
            self._show(self.history[self._browsing])

    # -- drawing -----------------------------------------------------------------------

    def rows(self, width: int) -> tuple[list[str], int, int]:
        """All of the text as rows of ``width`` cells (prompt included), and the cursor's cell.

        Each line of the message is broken by cells (not words), so the cursor
        maps to exactly one cell. Returns ``(rows, cursor_row, cursor_column)``.
        """
        laid = self._lay_out(width, 0, len(self.text))
        return [row for row, _ in laid.rows], laid.cursor_row, laid.cursor_col

    def window(self, width: int, height: int, anchor: int) -> tuple[list[str], int, int, int]:
        """The ``height`` rows the box shows, laying out only the lines near the cursor.

        ``anchor`` is the text offset where the box's first row started last
        time (0 at first): the box keeps it while the cursor stays inside, and
        scrolls just enough when the cursor leaves. Returns ``(rows,
        cursor_row, cursor_column, anchor)`` with ``cursor_row`` inside the box.
        """
        height = max(1, height)
        text, cursor = self.text, self.cursor
        if 0 <= anchor <= cursor:
            start = text.rfind("\n", 0, anchor) + 1
            stop = _line_end(text, start, height)
            laid = self._lay_out(width, start, stop)
            first = laid.row_starting_at(anchor)
            if first is not None and 0 <= first <= laid.cursor_row < first + height:
                shown = laid.rows[first : first + height]
                return [row for row, _ in shown], laid.cursor_row - first, laid.cursor_col, anchor
        start = text.rfind("\n", 0, cursor) + 1
        for _ in range(height - 1):
            if start == 0:
                break
            start = text.rfind("\n", 0, start - 1) + 1
        laid = self._lay_out(width, start, _line_end(text, cursor, height))
        # moving up puts the cursor on the box's first row, anything else on its last
        first = laid.cursor_row if cursor < anchor else max(0, laid.cursor_row - height + 1)
        shown = laid.rows[first : first + height]
        return [row for row, _ in shown], laid.cursor_row - first, laid.cursor_col, shown[0][1]

    def _lay_out(self, width: int, start: int, stop: int) -> _Laid:
        """Rows of the lines in ``text[start:stop]`` (``start`` begins a line)."""
        room = max(1, width - len(PROMPT))
        laid = _Laid()
        rows = laid.rows
        cursor = self.cursor
        offset = start
        for line in self.text[start:stop].split("\n"):
            prefix = PROMPT if offset == 0 else CONTINUATION
            pieces = _break_cells(line, room)
            position = 0
            for piece_number, piece in enumerate(pieces):
                begin = offset + position
                end = begin + len(piece)
                last = piece_number == len(pieces) - 1
                if begin <= cursor <= end and (cursor < end or last):
                    laid.cursor_row = len(rows)
                    laid.cursor_col = len(prefix) + cell_width(piece[: cursor - begin])
                rows.append(((prefix if piece_number == 0 else CONTINUATION) + piece, begin))
                position += len(piece)
            offset += len(line) + 1
        if laid.cursor_col >= width:
            laid.cursor_col = width - 1
        return laid

    # -- internals -------------------------------------------------------------------------

    def _show(self, text: str) -> None:
        self.text = text
        self.cursor = len(text)

    def _word_start(self, index: int) -> int:
        text = self.text
        while index > 0 and not _is_word(text[index - 1]):
            index -= 1
        while index > 0 and _is_word(text[index - 1]):
            index -= 1
        return index


class _Laid:
    """Display rows (each with the text offset it starts at) and the cursor's cell among them."""

    __slots__ = ("cursor_col", "cursor_row", "rows")

    def __init__(self) -> None:
        self.rows: list[tuple[str, int]] = []
        #: -1 while the cursor is not on any row laid out
        self.cursor_row = -1
        self.cursor_col = 0

    def row_starting_at(self, offset: int) -> int | None:
        for index, (_, begin) in enumerate(self.rows):
            if begin == offset:
                return index
            if begin > offset:
                break
        return None


def _line_end(text: str, index: int, lines: int) -> int:
    """The end of the ``lines``-th line from the one holding ``index`` (counting that one)."""
    end = text.find("\n", index)
    for _ in range(lines - 1):
        if end < 0:
            break
        end = text.find("\n", end + 1)
    return len(text) if end < 0 else end


def _trim(text: str) -> str:
    if "\n" not in text.strip():
        return text.strip()
    lines = text.rstrip().split("\n")
    while lines and not lines[0].strip():
        del lines[0]
    return "\n".join(line.rstrip() for line in lines)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _break_cells(line: str, room: int) -> list[str]:
    """``line`` cut into pieces of at most ``room`` cells (at least one piece)."""
    if line.isascii():
        if len(line) <= room:
            return [line]
        return [line[i : i + room] for i in range(0, len(line), room)]
    pieces: list[str] = []
    while True:
        piece = fit(line, room) or line[:1]
        pieces.append(piece)
        line = line[len(piece) :]
        if not line:
            return pieces

"""The input box's text: editing, word moves, history that keeps the draft, and its rows.

Pure text and a cursor (an index into the text), no curses. Up and Down move
between the lines of a message of several lines, and through the history when
the cursor is on the first or last line; leaving the draft for the history
keeps it, and coming back down past the newest message restores it.
"""

from __future__ import annotations

from aiway.ui.tui.text import cell_width, fit

PROMPT = "› "
CONTINUATION = "  "


class Editor:
    """The text being typed, its cursor, and the messages sent before."""

    def __init__(self, history_limit: int = 500) -> None:
        self.text = ""
        self.cursor = 0
        self.history: list[str] = []
        self._history_limit = history_limit
        self._browsing: int | None = None
        self._draft = ""

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
        """Enter: the text to send (stripped; empty sends nothing), remembered in the history."""
        text = self.text.strip()
        self.text = ""
        self.cursor = 0
        self._browsing = None
        self._draft = ""
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
            if len(self.history) > self._history_limit:
                del self.history[0]
        return text

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
        """The text as display rows of ``width`` cells (prompt included), and the cursor's cell.

        Each line of the message is broken by cells (not words), so the cursor
        maps to exactly one cell. Returns ``(rows, cursor_row, cursor_column)``.
        """
        room = max(1, width - len(PROMPT))
        rows: list[str] = []
        cursor_row = cursor_col = 0
        offset = 0
        for number, line in enumerate(self.text.split("\n")):
            prefix = PROMPT if number == 0 else CONTINUATION
            pieces = _break_cells(line, room)
            position = 0
            for piece_number, piece in enumerate(pieces):
                start = offset + position
                end = start + len(piece)
                last = piece_number == len(pieces) - 1
                if start <= self.cursor <= end and (self.cursor < end or last):
                    cursor_row = len(rows)
                    cursor_col = len(prefix) + cell_width(piece[: self.cursor - start])
                rows.append((prefix if piece_number == 0 else CONTINUATION) + piece)
                position += len(piece)
            offset += len(line) + 1
        if cursor_col >= width:
            cursor_col = width - 1
        return rows, cursor_row, cursor_col

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

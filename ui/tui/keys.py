"""Keys: what curses reports (a character, a key code, a key name) turned into actions.

curses decodes the escape sequences its terminal description knows; the rest
arrive as a bare ESC followed by their bytes. ``decode`` turns one batch of
raw keys (everything readable at one wake-up) into actions and typed text: an
ESC followed at once by a key is Alt+key, a known CSI or SS3 sequence is
mapped here (tmux sends Home and End as ``ESC [1~`` and ``ESC [4~``, which
``xterm-256color`` does not describe), an unknown sequence is dropped rather
than typed, and only an ESC on its own is the Esc key.

Bracketed paste: the screen turns it on (``ESC [?2004h``), and the terminal
then wraps pasted text in ``ESC [200~`` ... ``ESC [201~``. A ``KeyReader``
keeps that state across batches (a long paste spans many) and hands the
whole paste over as one ``Paste``: newlines and indentation kept (CR and CRLF
become LF, a tab four spaces, other control characters are
dropped), never a Send. A paste larger than ``PASTE_LIMIT`` characters keeps
its first ``PASTE_LIMIT`` and says it was cut, so memory stays bounded even
when the end marker never comes.
"""

from __future__ import annotations

import curses
import enum
import re
from collections.abc import Callable, Sequence

import attrs


class Key(enum.Enum):
    SEND = "send"
    NEWLINE = "newline"
    CANCEL = "cancel"
    QUIT = "quit"
    INTERRUPT = "interrupt"
    BACKSPACE = "backspace"
    DELETE = "delete"
    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"
    HOME = "home"
    END = "end"
    WORD_LEFT = "word_left"
    WORD_RIGHT = "word_right"
    DELETE_WORD = "delete_word"
    CLEAR = "clear"
    PAGE_UP = "page_up"
    PAGE_DOWN = "page_down"
    SCROLL_TOP = "scroll_top"
    SCROLL_BOTTOM = "scroll_bottom"
    METRICS = "metrics"
    RESIZE = "resize"
    REDRAW = "redraw"
    SEARCH = "search"


@attrs.frozen(slots=True)
class Paste:
    """Text pasted in one go (bracketed paste): one edit of the input, never sent by itself."""

    text: str
    truncated: bool = False
    """The paste was longer than ``PASTE_LIMIT`` and only its start is kept."""


Action = Key | str | Paste
"""A key action, text to type, or a paste."""

PASTE_LIMIT = 4 * 1024 * 1024
"""The most characters one paste keeps (about 4 MiB of ASCII: 100,000 long lines)."""

PASTE_START = "[200~"
PASTE_END = "[201~"
_PASTE_END_KEYS = list(PASTE_END)
_PASTE_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

RawKey = int | str
"""What ``get_wch`` returns: a character, or a key code."""

ESC = "\x1b"

_CONTROL: dict[str, Key] = {
    "\n": Key.SEND,
    "\r": Key.SEND,
    "\x11": Key.QUIT,  # Ctrl+Q
    "\x03": Key.INTERRUPT,  # Ctrl+C
    "\x7f": Key.BACKSPACE,
    "\x08": Key.BACKSPACE,
    "\x15": Key.CLEAR,  # Ctrl+U
    "\x17": Key.DELETE_WORD,  # Ctrl+W
    "\x01": Key.HOME,  # Ctrl+A
    "\x05": Key.END,  # Ctrl+E
    "\x02": Key.LEFT,  # Ctrl+B
    "\x06": Key.RIGHT,  # Ctrl+F
    "\x04": Key.DELETE,  # Ctrl+D
    "\x0c": Key.REDRAW,  # Ctrl+L
    "\x12": Key.SEARCH,  # Ctrl+R
    "\x10": Key.UP,  # Ctrl+P
    "\x0e": Key.DOWN,  # Ctrl+N
}

_CODES: dict[int, Key] = {
    curses.KEY_ENTER: Key.SEND,
    curses.KEY_BACKSPACE: Key.BACKSPACE,
    curses.KEY_DC: Key.DELETE,
    curses.KEY_LEFT: Key.LEFT,
    curses.KEY_RIGHT: Key.RIGHT,
    curses.KEY_UP: Key.UP,
    curses.KEY_DOWN: Key.DOWN,
    curses.KEY_HOME: Key.HOME,
    curses.KEY_END: Key.END,
    curses.KEY_FIND: Key.HOME,
    curses.KEY_SELECT: Key.END,
    curses.KEY_PPAGE: Key.PAGE_UP,
    curses.KEY_NPAGE: Key.PAGE_DOWN,
    curses.KEY_F2: Key.METRICS,
    curses.KEY_RESIZE: Key.RESIZE,
}

# Extended key names from terminfo (xterm's modified keys).
_NAMES: dict[bytes, Key] = {
    b"kLFT5": Key.WORD_LEFT,
    b"kRIT5": Key.WORD_RIGHT,
    b"kLFT3": Key.WORD_LEFT,
    b"kRIT3": Key.WORD_RIGHT,
    b"kHOM5": Key.SCROLL_TOP,
    b"kEND5": Key.SCROLL_BOTTOM,
}

# Escape sequences curses may leave undecoded (the text after ESC).
_SEQUENCES: dict[str, Key] = {
    "[1~": Key.HOME,
    "[7~": Key.HOME,
    "[H": Key.HOME,
    "OH": Key.HOME,
    "[4~": Key.END,
    "[8~": Key.END,
    "[F": Key.END,
    "OF": Key.END,
    "[3~": Key.DELETE,
    "[5~": Key.PAGE_UP,
    "[6~": Key.PAGE_DOWN,
    "[A": Key.UP,
    "[B": Key.DOWN,
    "[C": Key.RIGHT,
    "[D": Key.LEFT,
    "OA": Key.UP,
    "OB": Key.DOWN,
    "OC": Key.RIGHT,
    "OD": Key.LEFT,
    "[1;5D": Key.WORD_LEFT,
    "[1;5C": Key.WORD_RIGHT,
    "[1;3D": Key.WORD_LEFT,
    "[1;3C": Key.WORD_RIGHT,
    "[1;5H": Key.SCROLL_TOP,
    "[1;5F": Key.SCROLL_BOTTOM,
    "[1;5~": Key.SCROLL_TOP,
    "[4;5~": Key.SCROLL_BOTTOM,
    "[7^": Key.SCROLL_TOP,
    "[8^": Key.SCROLL_BOTTOM,
    "OQ": Key.METRICS,
    "[12~": Key.METRICS,
    "[[B": Key.METRICS,
}

# Alt+key.
_ALT: dict[str, Key] = {
    "\n": Key.NEWLINE,
    "\r": Key.NEWLINE,
    "b": Key.WORD_LEFT,
    "f": Key.WORD_RIGHT,
    "\x7f": Key.DELETE_WORD,
    "\x08": Key.DELETE_WORD,
}


def _name_of(code: int) -> bytes:
    try:
        return curses.keyname(code)
    except (ValueError, curses.error):
        return b""


def decode(raw: Sequence[RawKey], keyname: Callable[[int], bytes] = _name_of) -> list[Action]:
    """Actions and typed text from one batch of raw keys, with no state kept between batches."""
    return KeyReader(keyname).feed(raw)


class KeyReader:
    """Batches of raw keys to actions; keeps a paste (or a split sequence) between batches."""

    def __init__(
        self, keyname: Callable[[int], bytes] = _name_of, *, paste_limit: int = PASTE_LIMIT
    ) -> None:
        self._keyname = keyname
        self._paste_limit = paste_limit
        #: the pieces of the paste being read, or None outside a paste
        self._paste: list[str] | None = None
        self._paste_size = 0
        self._paste_cut = False
        #: the start of an escape sequence cut off by the end of the last batch
        self._carry: list[RawKey] = []

    @property
    def pasting(self) -> bool:
        """True between a paste's start marker and its end marker."""
        return self._paste is not None

    def feed(self, batch: Sequence[RawKey]) -> list[Action]:
        """Actions and typed text from one batch of raw keys (see the module docstring)."""
        raw: Sequence[RawKey] = batch
        if self._carry:
            raw = [*self._carry, *batch]
            self._carry = []
        actions: list[Action] = []
        index = 0
        count = len(raw)
        keyname = self._keyname
        while index < count:
            if self._paste is not None:
                index = self._read_paste(raw, index, actions)
                continue
            key = raw[index]
            index += 1
            if isinstance(key, int):
                action = _CODES.get(key) or _NAMES.get(keyname(key))
                if action is not None:
                    actions.append(action)
                continue
            if key == ESC:
                index = self._escape(raw, index, actions)
                continue
            control = _CONTROL.get(key)
            if control is not None:
                actions.append(control)
            elif key >= " ":
                if actions and isinstance(actions[-1], str):
                    actions[-1] += key  # typed text stays one piece
                else:
                    actions.append(key)
        return actions

    # -- paste -------------------------------------------------------------------------

    def _read_paste(self, raw: Sequence[RawKey], index: int, actions: list[Action]) -> int:
        """Take paste text from ``raw[index]`` up to the end marker or the batch's end."""
        count = len(raw)
        try:
            # a C-level scan: a long paste costs one pass, not a Python step per character
            esc = raw.index(ESC, index)
        except ValueError:
            esc = count
        self._take_paste(raw[index:esc])
        if esc >= count:
            return count
        tail = list(raw[esc + 1 : esc + 1 + len(PASTE_END)])
        if tail == _PASTE_END_KEYS:
            self._end_paste(actions)
            return esc + 1 + len(PASTE_END)
        if len(tail) < len(PASTE_END) and tail == _PASTE_END_KEYS[: len(tail)]:
            self._carry = list(raw[esc:])  # the end marker continues in the next batch
            return count
        return esc + 1  # an escape inside pasted text is not text: dropped

    def _take_paste(self, keys: Sequence[RawKey]) -> None:
        if not keys or self._paste is None:
            return
        text = "".join(
            key if isinstance(key, str) else ("\n" if key == curses.KEY_ENTER else "")
            for key in keys
        )
        room = self._paste_limit - self._paste_size
        if len(text) > room:
            text = text[: max(0, room)]
            self._paste_cut = True
        if text:
            self._paste.append(text)
            self._paste_size += len(text)

    def _end_paste(self, actions: list[Action]) -> None:
        pieces = self._paste or []
        text = clean_paste("".join(pieces))
        cut = self._paste_cut
        self._paste = None
        self._paste_size = 0
        self._paste_cut = False
        if text or cut:
            actions.append(Paste(text, cut))

    # -- escape sequences ------------------------------------------------------------------

    def _escape(self, raw: Sequence[RawKey], index: int, actions: list[Action]) -> int:
        """Handle what follows an ESC at ``raw[index]``; returns the index after it."""
        if index >= len(raw) or not isinstance(raw[index], str) or raw[index] == ESC:
            actions.append(Key.CANCEL)
            return index
        lead = raw[index]
        assert isinstance(lead, str)
        if lead == "[" and index + 1 == len(raw):
            self._carry = [ESC, lead]  # perhaps a paste marker, cut by the end of the batch
            return index + 1
        if lead in "[O" and index + 1 < len(raw):
            sequence = lead
            cursor = index + 1
            finished = False
            while cursor < len(raw) and isinstance(raw[cursor], str):
                char = raw[cursor]
                assert isinstance(char, str)
                sequence += char
                cursor += 1
                if len(sequence) > 1 and ("@" <= char <= "~") and sequence != "[[":
                    finished = True
                    break
            if sequence == PASTE_START:
                self._paste = []
                return cursor
            if not finished and cursor == len(raw) and PASTE_START.startswith(sequence):
                self._carry = [ESC, *raw[index:]]  # the paste marker continues in the next batch
                return cursor
            action = _SEQUENCES.get(sequence)
            if action is not None:
                actions.append(action)
            return cursor  # an unknown sequence is dropped, never typed
        alt = _ALT.get(lead)
        if alt is not None:
            actions.append(alt)
        return index + 1


def clean_paste(text: str) -> str:
    """Pasted text as the input keeps it: LF line ends, tabs as four spaces, no controls."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text:
        text = text.replace("\t", "    ")
    if _PASTE_CONTROLS.search(text) is not None:
        text = _PASTE_CONTROLS.sub("", text)
    return text

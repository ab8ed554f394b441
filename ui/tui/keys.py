"""Keys: what curses reports (a character, a key code, a key name) turned into actions.

curses decodes the escape sequences its terminal description knows; the rest
arrive as a bare ESC followed by their bytes. ``decode`` turns one batch of
raw keys (everything readable at one wake-up) into actions and typed text: an
ESC followed at once by a key is Alt+key, a known CSI or SS3 sequence is
mapped here (tmux sends Home and End as ``ESC [1~`` and ``ESC [4~``, which
``xterm-256color`` does not describe), an unknown sequence is dropped rather
than typed, and only an ESC on its own is the Esc key.
"""

from __future__ import annotations

import curses
import enum
from collections.abc import Callable, Sequence


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


Action = Key | str
"""A key action, or text to type."""

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
    """Actions and typed text from one batch of raw keys (see the module docstring)."""
    actions: list[Action] = []
    index = 0
    count = len(raw)
    while index < count:
        key = raw[index]
        index += 1
        if isinstance(key, int):
            action = _CODES.get(key) or _NAMES.get(keyname(key))
            if action is not None:
                actions.append(action)
            continue
        if key == ESC:
            index = _escape(raw, index, actions)
            continue
        control = _CONTROL.get(key)
        if control is not None:
            actions.append(control)
        elif key >= " ":
            if actions and isinstance(actions[-1], str):
                actions[-1] += key  # typed (or pasted) text stays one piece
            else:
                actions.append(key)
    return actions


def _escape(raw: Sequence[RawKey], index: int, actions: list[Action]) -> int:
    """Handle what follows an ESC at ``raw[index]``; returns the index after it."""
    if index >= len(raw) or not isinstance(raw[index], str) or raw[index] == ESC:
        actions.append(Key.CANCEL)
        return index
    lead = raw[index]
    assert isinstance(lead, str)
    if lead in "[O" and index + 1 < len(raw):
        sequence = lead
        cursor = index + 1
        while cursor < len(raw) and isinstance(raw[cursor], str):
            char = raw[cursor]
            assert isinstance(char, str)
            sequence += char
            cursor += 1
            if len(sequence) > 1 and ("@" <= char <= "~") and sequence != "[[":
                break
        action = _SEQUENCES.get(sequence)
        if action is not None:
            actions.append(action)
        return cursor  # an unknown sequence is dropped, never typed
    alt = _ALT.get(lead)
    if alt is not None:
        actions.append(alt)
    return index + 1

"""Text from outside (model output, other surfaces, a peer's error strings) made safe to show.

A terminal obeys escape sequences wherever they come from: a model's answer
carrying ``ESC ] 0 ;`` sets the window title, ``ESC [ 2 J`` clears the screen,
``ESC ] 52 ;`` writes the clipboard. ``strip_controls`` removes every control
sequence and every other control character except newline and tab, so what
reaches a terminal, a log or an export is only text. ``capped`` bounds a text
that goes to a log or a peer, marking the cut. Both are pure and linear in the
length of the text.
"""

from __future__ import annotations

import re

# An escape sequence as terminals parse it (ECMA-48): CSI (ESC [ or the C1 CSI) with
# parameters and one final byte; OSC, DCS, SOS, PM and APC strings up to BEL or ST (or
# the end of the text, when a stream cuts one short); or ESC and one byte.
_SEQUENCE = (
    r"(?:\x1b\[|\x9b)[\x20-\x3f]*[\x40-\x7e]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x7e]?"
)
# Every other C0 control but tab and newline, DEL, and the C1 range.
_CONTROL = r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f]"
_UNSAFE = re.compile(f"{_SEQUENCE}|{_CONTROL}")
_QUICK = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

CAP = 1024
"""How many characters of an untrusted text a log line or a reply to a peer carries."""


def strip_controls(text: str) -> str:
    """``text`` without escape sequences or control characters; newline and tab are kept.

    A carriage return is dropped (``\\r\\n`` becomes ``\\n``): it would let a
    line overwrite the one before it.
    """
    if _QUICK.search(text) is None:
        return text
    return _UNSAFE.sub("", text)


def capped(text: str, limit: int = CAP) -> str:
    """``text`` stripped of controls and cut to ``limit`` characters, with the cut said."""
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text) - limit} more characters)"
    return strip_controls(text)

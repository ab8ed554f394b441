"""Sizes of text as the wire carries it (UTF-8 bytes), and how a limit is named to a person.

Shared by the Conductor (message and answer caps) and the mirror (snapshots that
must fit one frame), so a limit reads the same in every notice.
"""

from __future__ import annotations


def utf8_size(text: str) -> int:
    """The UTF-8 length of ``text`` (ASCII text is not encoded to find out)."""
    return len(text) if text.isascii() else len(text.encode())


def utf8_size_over(text: str, limit: int) -> bool:
    """Whether ``text`` takes more than ``limit`` bytes of UTF-8; encodes at most ``4 * limit``."""
    if len(text) > limit:
        return True
    return utf8_size(text) > limit


def format_size(size: int) -> str:
    """How a size is named in a notice: ``65536`` -> ``64 KiB``, ``1536`` -> ``1.5 KiB``."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if size % scale == 0 else f"{value:.1f} {unit}"
    return f"{size} bytes"

"""What ``aiway status`` prints of another system's capabilities is safe text.

Each system of a convention says what it offers itself, so a member on another
machine chooses the keys and values the leader's terminal shows: escape
sequences and control characters are dropped, and the text is bounded.
"""

from __future__ import annotations

from aiway.actors.runtime.thespian.member import SHOWN_CAPABILITIES, SHOWN_CHARS, _ours


def test_escape_sequences_and_controls_from_a_member_never_reach_the_terminal() -> None:
    shown = _ours({"aiway.x\x1b[2J": "\x1b]0;owned\x07red\x1b[31m\r\nline", "Admin Port": 1})
    assert shown == {"aiway.x": "red line"}


def test_what_a_member_offers_is_shown_bounded() -> None:
    many = {f"aiway.k{i:04}": "v" * 10_000 for i in range(1_000)}
    shown = _ours(many)
    assert len(shown) == SHOWN_CAPABILITIES
    assert all(len(value) == SHOWN_CHARS and value.endswith("…") for value in shown.values())


def test_ordinary_capabilities_read_as_before() -> None:
    shown = _ours({"aiway.model": True, "aiway.core": True, "Thespian Watch Supported": True})
    assert shown == {"aiway.core": "True", "aiway.model": "True"}

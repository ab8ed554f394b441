"""What reaches a terminal from outside is text only: no escape sequence survives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.untrusted import CAP, capped, strip_controls

CONTROLS = {chr(c) for c in range(0x20)} - {"\n", "\t"} | {chr(c) for c in range(0x7F, 0xA0)}


def test_window_title_clear_screen_and_clipboard_writes_are_removed() -> None:
    reply = (
        "before\x1b]0;pwned\x07 title\x1b[2J\x1b[H cleared "
        "\x1b]52;c;cm0gLXJmIH4K\x1b\\ clipboard\x9b31m c1\x1bc reset"
    )
    assert strip_controls(reply) == "before title cleared  clipboard c1 reset"


def test_newline_and_tab_are_kept_and_carriage_returns_dropped() -> None:
    assert strip_controls("a\tb\r\nc\rd") == "a\tb\ncd"


def test_plain_text_is_returned_as_is() -> None:
    text = "Hola, ñandú 🦎 — `code`"
    assert strip_controls(text) is text


def test_an_unterminated_osc_swallows_to_the_end_of_the_text() -> None:
    assert strip_controls("ok\x1b]52;c;AAAA") == "ok"


@given(st.text(alphabet=st.characters(max_codepoint=0x200)))
def test_no_control_character_survives(text: str) -> None:
    assert not CONTROLS & set(strip_controls(text))


@given(st.text())
def test_stripping_twice_changes_nothing(text: str) -> None:
    once = strip_controls(text)
    assert strip_controls(once) == once


def test_capped_texts_say_how_much_was_cut() -> None:
    text = "x" * (CAP + 10)
    assert capped(text) == "x" * CAP + "… (10 more characters)"
    assert capped("\x1b[2Jshort") == "short"

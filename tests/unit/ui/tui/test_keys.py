"""Raw keys to actions: Esc alone cancels, Alt+Enter is a newline, unknown sequences vanish."""

from __future__ import annotations

import curses

from aiway.ui.tui.keys import Key, decode


def no_names(code: int) -> bytes:
    return b""


def test_esc_on_its_own_is_cancel_never_quit() -> None:
    assert decode(["\x1b"], no_names) == [Key.CANCEL]


def test_ctrl_q_quits_and_enter_sends() -> None:
    assert decode(["\x11", "\n"], no_names) == [Key.QUIT, Key.SEND]


def test_typed_text_arrives_as_one_piece() -> None:
    assert decode(list("héllo wörld"), no_names) == ["héllo wörld"]


def test_alt_enter_inserts_a_newline() -> None:
    assert decode(["a", "\x1b", "\n", "b"], no_names) == ["a", Key.NEWLINE, "b"]


def test_home_and_end_sequences_curses_does_not_know_are_decoded_here() -> None:
    assert decode(list("\x1b[1~\x1b[4~\x1b[1;5H"), no_names) == [
        Key.HOME,
        Key.END,
        Key.SCROLL_TOP,
    ]


def test_an_unknown_escape_sequence_is_dropped_not_typed() -> None:
    assert decode(list("\x1b[99;9zx"), no_names) == ["x"]


def test_key_codes_and_extended_key_names_map_to_actions() -> None:
    names = {600: b"kLFT5", 601: b"kEND5"}
    raw = [curses.KEY_PPAGE, curses.KEY_F2, 600, 601, 999]
    assert decode(raw, lambda code: names.get(code, b"")) == [
        Key.PAGE_UP,
        Key.METRICS,
        Key.WORD_LEFT,
        Key.SCROLL_BOTTOM,
    ]


def test_control_keys_for_editing() -> None:
    assert decode(["\x15", "\x17", "\x7f"], no_names) == [Key.CLEAR, Key.DELETE_WORD, Key.BACKSPACE]

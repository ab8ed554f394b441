"""Raw keys to actions: Esc alone cancels, Alt+Enter is a newline, unknown sequences vanish."""

from __future__ import annotations

import curses

from hypothesis import given
from hypothesis import strategies as st

from aiway.ui.tui.keys import Key, KeyReader, Paste, clean_paste, decode


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


# -- bracketed paste ---------------------------------------------------------------------


def test_a_bracketed_paste_is_one_edit_with_its_newlines_and_indentation() -> None:
    raw = list("\x1b[200~def f():\r    return 1\r\x1b[201~")
    assert decode(raw, no_names) == [Paste("def f():\n    return 1\n")]


def test_a_paste_split_across_batches_and_markers_is_still_one_paste() -> None:
    reader = KeyReader(no_names)
    text = "\x1b[200~line one\rline two\x1b[201~x"
    actions: list[object] = []
    pieces = [text[:3], text[3:9], text[9:20], text[20:-3], text[-3:]]
    for piece in pieces:
        actions.extend(reader.feed(list(piece)))
    assert actions == [Paste("line one\nline two"), "x"]
    assert not reader.pasting


def test_pasted_controls_and_escapes_are_dropped_and_tabs_become_spaces() -> None:
    raw = list("\x1b[200~a\tb\x07c\x1b[31md\x1b[201~")
    assert decode(raw, no_names) == [Paste("a    bc[31md")]


def test_a_paste_beyond_the_limit_keeps_its_start_and_says_so() -> None:
    reader = KeyReader(no_names, paste_limit=10)
    actions = reader.feed(list("\x1b[200~" + "y" * 50))
    assert actions == []
    actions = reader.feed(list("z" * 50 + "\x1b[201~"))
    assert actions == [Paste("y" * 10, truncated=True)]


def test_enter_after_a_paste_sends() -> None:
    assert decode(list("\x1b[200~a\rb\x1b[201~\r"), no_names) == [Paste("a\nb"), Key.SEND]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80), st.data())
def test_any_text_pasted_in_any_batches_arrives_whole(text: str, data: st.DataObject) -> None:
    text = text.replace("\x1b", "")
    stream = "\x1b[200~" + text + "\x1b[201~"
    # (never right after the first ESC: an ESC alone at the end of a batch is the Esc key,
    # and a terminal writes the start marker in one piece)
    cuts = sorted(data.draw(st.lists(st.integers(2, len(stream)), max_size=5)))
    reader = KeyReader(no_names)
    actions: list[object] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        actions.extend(reader.feed(list(stream[previous:cut])))
        previous = cut
    expected = clean_paste(text)
    assert actions == ([Paste(expected)] if expected else [])

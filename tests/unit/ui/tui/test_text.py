"""Cell widths, fitting, and the greedy wrap that lets a streaming answer re-wrap only its tail."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aiway.ui.tui.text import cell_width, fit, pad, sanitize, wrap


def lines_of(text: str, width: int) -> list[str]:
    return [line for _, line in wrap(text, width)]


def test_wrap_breaks_at_the_last_space_that_fits() -> None:
    assert lines_of("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]


def test_wrap_breaks_a_word_longer_than_the_width() -> None:
    assert lines_of("abcdefghijkl mn", 5) == ["abcde", "fghij", "kl mn"]


def test_wrap_reports_where_each_line_starts_in_the_source() -> None:
    assert wrap("aaaa  bbbb cc", 5) == [(0, "aaaa"), (6, "bbbb"), (11, "cc")]


def test_wrap_counts_wide_characters_as_two_cells() -> None:
    assert lines_of("日本語のテキスト", 6) == ["日本語", "のテキ", "スト"]


def test_wrap_ending_in_break_spaces_leaves_an_empty_last_line_where_text_continues() -> None:
    assert wrap("aaaa bbbb ", 9) == [(0, "aaaa bbbb"), (10, "")]


def test_continuation_eats_the_leading_spaces_a_break_already_ate() -> None:
    assert wrap("  foo", 10, continuation=True) == [(2, "foo")]
    assert wrap("  foo", 10) == [(0, "  foo")]


def test_fit_and_pad_work_in_cells() -> None:
    assert fit("日本語", 5) == "日本"
    assert pad("日本", 5) == "日本 "
    assert cell_width("aé日") == 4


def test_sanitize_makes_control_characters_visible_and_expands_tabs() -> None:
    assert sanitize("a\tb\x1b[31mc\r\nd") == "a    b?[31mc\nd"


words = st.lists(
    st.one_of(
        st.text(alphabet="abcdefghij", min_size=1, max_size=14),
        st.text(alphabet="日本語", min_size=1, max_size=4),
        st.just(" "),
        st.just("  "),
    ),
    max_size=40,
).map("".join)


@given(words, st.integers(min_value=1, max_value=30))
def test_every_wrapped_line_fits_and_no_visible_character_is_lost(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert all(cell_width(line) <= max(width, 2) for _, line in lines)
    assert "".join(line for _, line in lines).replace(" ", "") == text.replace(" ", "")


@given(words, st.integers(min_value=2, max_value=30), st.data())
def test_wrapping_the_tail_alone_gives_the_same_lines_as_wrapping_everything(
    text: str, width: int, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    # wrap the first part, keep every line but the last, then re-wrap the last line's source
    # together with the rest of the text: exactly what a streaming answer does
    head = wrap(text[:cut], width)
    start, _ = head[-1]
    continuation = len(head) > 1
    tail = wrap(text[start:], width, continuation=continuation)
    combined = [line for _, line in head[:-1]] + [line for _, line in tail]
    assert combined == lines_of(text, width)

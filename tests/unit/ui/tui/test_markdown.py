"""Answers as markdown: how each construct looks, code never re-wrapped, streaming by blocks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aiway.ui.tui import styles
from aiway.ui.tui.markdown import CLIP_MARK, MarkdownStream, code_blocks, render


def texts(source: str, width: int = 60) -> list[str]:
    return [line[0] for line in render(source, width)]


def marks_of(source: str, width: int = 60) -> list[tuple[int, str, str]]:
    return [mark for line in render(source, width) if len(line) == 3 for mark in line[2]]


def test_emphasis_and_inline_code_lose_their_markers_and_gain_styles() -> None:
    assert texts("Some **bold**, *em* and `code`.") == ["Some bold, em and code."]
    assert marks_of("Some **bold**, *em* and `code`.") == [
        (5, "bold", styles.STRONG),
        (11, "em", styles.EMPHASIS),
        (18, "code", styles.CODE_INLINE),
    ]


def test_a_heading_is_styled_and_underlined_without_its_hashes() -> None:
    lines = render("# Big title\n\ntext", 60)
    assert [line[0] for line in lines] == ["Big title", "═════════", "", "text"]
    assert lines[0][1] == styles.HEADING


def test_a_link_shows_its_text_then_its_address() -> None:
    assert texts("see [the docs](https://example.com/d)") == [
        "see the docs (https://example.com/d)"
    ]
    assert texts("<https://example.com>") == ["https://example.com"]


def test_lists_get_bullets_numbers_and_hanging_indents() -> None:
    source = "- one\n- two words that wrap around\n  - nested\n\n3. three\n4. four"
    assert texts(source, 20) == [
        "• one",
        "• two words that",
        "  wrap around",
        "  ◦ nested",
        "",
        "3. three",
        "4. four",
    ]


def test_a_block_quote_has_a_bar_on_every_line() -> None:
    assert texts("> a quote that wraps onto two lines", 20) == [
        "│ a quote that wraps",
        "│ onto two lines",
    ]


def test_a_table_is_laid_out_in_columns() -> None:
    source = "| name | n |\n|---|--:|\n| alpha | 1 |\n| beta | 22 |"
    assert texts(source) == ["name  │  n", "──────┼───", "alpha │  1", "beta  │ 22"]


def test_a_table_too_wide_for_the_pane_cuts_its_cells_readably() -> None:
    source = "| a | b |\n|---|---|\n| " + "x" * 50 + " | " + "y" * 50 + " |"
    lines = texts(source, 40)
    assert all(len(line) <= 40 for line in lines)
    assert "…" in lines[2]


def test_a_code_block_has_a_language_label_colours_and_is_clipped_not_wrapped() -> None:
    long_line = "    return compute(" + "argument, " * 10 + ")"
    source = f"```python\ndef f():\n{long_line}\n```"
    lines = render(source, 40)
    assert lines[0][0].startswith("─ python ")
    assert lines[1][0] == "def f():"
    assert len(lines) == 3  # the long line stays one line
    assert lines[2][0].endswith(CLIP_MARK) and len(lines[2][0]) == 40
    assert lines[2][0].startswith("    return compute(argument,")
    assert (0, "def", styles.SYN_KEYWORD) in lines[1][2]  # type: ignore[misc]


def test_code_keeps_its_indentation_and_markdown_characters() -> None:
    source = "```\n  *not emphasis*\n    # not a heading\n```"
    assert texts(source)[1:] == ["  *not emphasis*", "    # not a heading"]


def test_code_blocks_lists_each_block_in_order() -> None:
    source = "text\n\n```sh\nls -l\n```\n\nmore\n\n```\nx = 1\ny = 2\n```"
    assert code_blocks(source) == ["ls -l\n", "x = 1\ny = 2\n"]


def test_streaming_keeps_finished_blocks_and_re_renders_only_the_tail() -> None:
    stream = MarkdownStream(60)
    stream.feed("# Title\n\nFirst paragraph.\n\n")
    finished = list(stream.done)
    assert [line[0] for line in finished][:2] == ["Title", "═════"]
    stream.feed("Second **para")
    assert stream.done[: len(finished)] == finished
    assert [line[0] for line in stream.tail][-1] == "Second **para"
    stream.feed("graph**.")
    assert [line[0] for line in stream.tail][-1] == "Second paragraph."
    assert all(a is b for a, b in zip(stream.done, finished, strict=False))


def test_an_open_code_fence_streams_line_by_line() -> None:
    stream = MarkdownStream(60)
    stream.feed("```python\nx = 1\ny = ")
    assert [line[0] for line in stream.tail] == ["─ python ───", "x = 1", "y = "]
    stream.feed("2\n```\n")
    assert [line[0] for line in stream.done] == ["─ python ───", "x = 1", "y = 2"]
    assert stream.tail == []


SOURCE = st.lists(
    st.sampled_from(
        ["# Head", "para **b** `c`", "- item", "  - sub", "1. one", "> quote", "```py",
         "x = 1", "```", "", "| a | b |", "|---|---|", "| 1 | 2 |", "plain words"]
    ),
    max_size=14,
).map("\n".join)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(SOURCE, st.data())
def test_streaming_in_any_pieces_gives_the_same_lines_as_streaming_it_whole(
    source: str, data: st.DataObject
) -> None:
    whole = MarkdownStream(50)
    whole.feed(source)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(source)), max_size=6)))
    pieces = MarkdownStream(50)
    previous = 0
    for cut in [*cuts, len(source)]:
        pieces.feed(source[previous:cut])
        previous = cut
    assert pieces.done + pieces.tail == whole.done + whole.tail

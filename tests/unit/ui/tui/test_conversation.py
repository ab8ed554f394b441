"""The conversation layout: entries wrapped once, streamed answers re-wrapped at the tail only."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.protocol import ResponseMetadata
from aiway.ui.tui import styles
from aiway.ui.tui.conversation import CURSOR_MARK, ConversationLayout, EntryLayout
from aiway.ui.tui.viewmodel import ASSISTANT, NOTE, STREAMING, USER, Changes, EntryView


def view(
    serial: int,
    text: str,
    *,
    kind: str = ASSISTANT,
    status: str = "complete",
    full: bool = True,
    **extra: object,
) -> EntryView:
    return EntryView(serial, kind, text, full, status, **extra)  # type: ignore[arg-type]


def all_lines(entry: EntryLayout) -> list[str]:
    return [entry.line(i)[0] for i in range(entry.count)]


def test_a_finished_answer_has_its_label_text_metadata_and_a_blank_line() -> None:
    meta = ResponseMetadata(model="m", tokens=3, tokens_per_second=30.0, elapsed_ms=100)
    entry = EntryLayout(view(1, "Hello there", metadata=meta), 40)
    assert all_lines(entry) == [
        "Yollayah",
        "  Hello there",
        "  m · 3 tokens · 30.0 tok/s · 0.10 s",
        "",
    ]
    assert entry.line(2)[1] == styles.META


def test_a_streaming_answer_shows_a_cursor_after_its_text() -> None:
    entry = EntryLayout(view(1, "Hel", status=STREAMING), 40)
    entry.update(view(1, "lo", status=STREAMING, full=False))
    assert all_lines(entry) == ["Yollayah", "  Hello" + CURSOR_MARK, ""]


def test_a_cancelled_answer_says_so_under_its_text() -> None:
    entry = EntryLayout(view(1, "partial", status="cancelled", metadata=ResponseMetadata()), 60)
    assert all_lines(entry)[2].endswith("· cancelled")


def test_an_error_is_shown_under_the_partial_text() -> None:
    entry = EntryLayout(view(1, "half", status="error", error="connection reset"), 60)
    assert "  ! error: connection reset" in all_lines(entry)
    assert entry.line(2)[1] == styles.ERROR


def test_a_note_wraps_with_its_title_and_level_style() -> None:
    entry = EntryLayout(
        view(1, "the model could not answer in time", kind=NOTE, level="warning", title="slow"),
        24,
    )
    assert all_lines(entry) == ["· slow: the model could", "  not answer in time", ""]
    assert entry.line(0)[1] == styles.NOTE_WARNING


chunks = st.lists(st.text(alphabet="ab c\n日", min_size=1, max_size=12), min_size=1, max_size=25)


@given(chunks, st.integers(min_value=6, max_value=30))
def test_streaming_in_any_chunks_lays_out_exactly_like_the_whole_text(
    pieces: list[str], width: int
) -> None:
    streamed = EntryLayout(view(1, "", status=STREAMING), width)
    for piece in pieces:
        streamed.update(view(1, piece, status=STREAMING, full=False))
    whole = EntryLayout(view(1, "".join(pieces), status=STREAMING), width)
    assert all_lines(streamed) == all_lines(whole)
    finished = view(1, "".join(pieces), status="complete")
    streamed.update(finished)
    assert all_lines(streamed) == all_lines(EntryLayout(finished, width))


def conversation(count: int, width: int = 40) -> ConversationLayout:
    layout = ConversationLayout(width)
    entries = tuple(
        view(n, f"message {n}", kind=USER if n % 2 else ASSISTANT) for n in range(1, count + 1)
    )
    layout.apply(Changes(entries=entries, first_serial=1))
    return layout


def test_lines_returns_the_window_starting_anywhere_inside_an_entry() -> None:
    layout = conversation(4)  # user entries: 3 lines, answers: 3 lines (no metadata)
    assert layout.total == 12
    assert layout.lines(4, 4) == [
        ("  message 2", styles.TEXT),
        ("", styles.TEXT),
        ("You", styles.USER),
        ("  message 3", styles.TEXT),
    ]


def test_an_answer_growing_before_a_queued_message_moves_the_lines_after_it() -> None:
    layout = ConversationLayout(20)
    layout.apply(
        Changes(
            entries=(view(1, "", status=STREAMING), view(2, "queued", kind=USER)),
            first_serial=1,
        )
    )
    layout.apply(
        Changes(
            entries=(view(1, "one two three four", status=STREAMING, full=False),), first_serial=1
        )
    )
    texts = [text for text, _ in layout.lines(0, layout.total)]
    assert texts.index("You") == texts.index("") + 1
    assert layout.first_line_of(2) == texts.index("You")


def test_entries_dropped_from_the_front_leave_the_window_consistent() -> None:
    layout = conversation(10)
    layout.apply(Changes(first_serial=9))
    assert layout.total == 6
    assert layout.lines(0, 1) == [("You", styles.USER)]


def test_resize_rewraps_every_entry_once() -> None:
    layout = conversation(2, width=40)
    layout.apply(Changes(entries=(view(3, "word " * 20),), first_serial=1))
    before = layout.total
    layout.resize(20)
    assert layout.total > before
    assert all(len(text) <= 20 for text, _ in layout.lines(0, layout.total))


def test_a_reset_replaces_everything() -> None:
    layout = conversation(5)
    layout.apply(Changes(reset=True, entries=(view(9, "fresh"),), first_serial=9))
    assert [text for text, _ in layout.lines(0, 10)] == ["Yollayah", "  fresh", ""]

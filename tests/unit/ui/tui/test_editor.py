"""The input box's editing: word moves, Ctrl+W, Ctrl+U, history that keeps the draft, rows."""

from __future__ import annotations

from aiway.ui.tui.editor import Editor


def typed(text: str) -> Editor:
    editor = Editor()
    editor.insert(text)
    return editor


def test_history_up_and_back_down_restores_the_draft() -> None:
    editor = Editor()
    for sent in ("first", "second"):
        editor.insert(sent)
        editor.take()
    editor.insert("draft in progress")
    editor.up()
    assert editor.text == "second"
    editor.up()
    assert editor.text == "first"
    editor.up()
    assert editor.text == "first"
    editor.down()
    editor.down()
    assert editor.text == "draft in progress"
    assert editor.cursor == len("draft in progress")


def test_take_strips_and_remembers_once() -> None:
    editor = typed("  hello  ")
    assert editor.take() == "hello"
    editor.insert("hello")
    editor.take()
    assert editor.history == ["hello"]
    assert editor.text == ""


def test_delete_word_removes_the_word_before_the_cursor() -> None:
    editor = typed("say hello world")
    editor.delete_word()
    assert editor.text == "say hello "
    editor.word_left()
    editor.delete_word()
    assert editor.text == "hello "


def test_word_moves_skip_punctuation_and_spaces() -> None:
    editor = typed("one, two three")
    editor.word_left()
    assert editor.cursor == len("one, two ")
    editor.word_left()
    assert editor.cursor == len("one, ")
    editor.word_right()
    assert editor.cursor == len("one, two")


def test_clear_empties_the_box() -> None:
    editor = typed("something")
    editor.clear()
    assert (editor.text, editor.cursor) == ("", 0)


def test_home_end_and_up_down_work_on_the_lines_of_a_long_message() -> None:
    editor = typed("first line\nsecond\nthird line")
    editor.home()
    assert editor.cursor == len("first line\nsecond\n")
    editor.up()
    assert editor.cursor == len("first line\n")
    editor.end()
    assert editor.cursor == len("first line\nsecond")
    editor.up()
    assert editor.cursor == len("second")
    editor.down()
    editor.down()
    assert editor.cursor == len("first line\nsecond\nthird ")


def test_backspace_and_delete_at_the_edges_do_nothing() -> None:
    editor = Editor()
    editor.backspace()
    editor.delete()
    assert editor.text == ""


def test_rows_break_long_lines_and_place_the_cursor_cell() -> None:
    editor = typed("abcdefgh\n日本")
    rows, row, column = editor.rows(7)
    assert rows == ["› abcde", "  fgh", "  日本"]
    assert (row, column) == (2, 6)


def test_take_keeps_the_indentation_of_a_block_of_several_lines() -> None:
    editor = typed("\n    def f():\n        return 1   \n\n")
    assert editor.take() == "    def f():\n        return 1"


def test_window_shows_the_cursor_and_lays_out_only_nearby_lines() -> None:
    editor = typed("\n".join(f"line {n}" for n in range(10_000)))
    rows, cursor_row, cursor_col, anchor = editor.window(40, 3, 0)
    assert rows == ["  line 9997", "  line 9998", "  line 9999"]
    assert (cursor_row, cursor_col) == (2, len("  line 9999"))
    editor.up()
    rows, cursor_row, _, anchor = editor.window(40, 3, anchor)
    assert rows[0] == "  line 9997" and cursor_row == 1  # the box did not jump
    editor.up()
    editor.up()
    rows, cursor_row, _, anchor = editor.window(40, 3, anchor)
    assert rows[0] == "  line 9996" and cursor_row == 0  # scrolled by one row


def test_window_agrees_with_the_full_layout_on_wrapped_lines() -> None:
    editor = typed("x" * 100 + "\nshort")
    editor.up()
    full, full_row, full_col = editor.rows(30)
    rows, cursor_row, cursor_col, _ = editor.window(30, 3, 0)
    assert rows == full[full_row - cursor_row : full_row - cursor_row + 3]
    assert cursor_col == full_col

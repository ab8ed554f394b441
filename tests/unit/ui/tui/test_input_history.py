"""The input history across restarts: a private, bounded file; Ctrl+R searches it."""

from __future__ import annotations

import stat
from pathlib import Path

from aiway.ui.tui.controller import Controller
from aiway.ui.tui.editor import Editor
from aiway.ui.tui.input_history import InputHistory
from aiway.ui.tui.keys import Key
from aiway.ui.tui.render import Renderer
from aiway.ui.tui.viewmodel import ViewModel


def sent(editor: Editor, *messages: str) -> None:
    for message in messages:
        editor.insert(message)
        editor.take()


def test_up_reaches_messages_of_an_earlier_run(tmp_path: Path) -> None:
    path = tmp_path / "state" / "input_history"
    sent(Editor(store=InputHistory(path, 100)), "first", "line one\n    indented")
    later = Editor(store=InputHistory(path, 100))
    later.up()
    assert later.text == "line one\n    indented"
    later.home()
    later.up()
    later.up()
    assert later.text == "first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_file_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "input_history"
    editor = Editor(store=InputHistory(path, 3))
    sent(editor, *(f"message {n}" for n in range(20)))
    assert len(path.read_text().splitlines()) <= 6
    assert Editor(store=InputHistory(path, 3)).history == [
        "message 17",
        "message 18",
        "message 19",
    ]


def test_a_damaged_file_loses_only_its_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "input_history"
    path.write_bytes(b'"good"\n{not json\n\xff\xfe\n42\n"also good"\n')
    assert InputHistory(path, 10).load() == ["good", "also good"]


def test_a_huge_file_is_read_only_from_its_end(tmp_path: Path) -> None:
    path = tmp_path / "input_history"
    with path.open("w") as file:
        for n in range(400_000):
            file.write(f'"old message number {n}"\n')
    entries = InputHistory(path, 5).load()
    assert entries[-1] == "old message number 399999" and len(entries) == 5


def test_ctrl_r_finds_older_matches_and_enter_keeps_the_match_to_edit(tmp_path: Path) -> None:
    renderer = Renderer(80, 24)
    renderer.editor = Editor(store=InputHistory(tmp_path / "h", 100))
    sent(renderer.editor, "make tea", "make coffee", "walk the dog")
    outbox: list[object] = []
    keys = Controller(renderer, ViewModel(), outbox.append)
    keys.handle("draft")
    keys.handle(Key.SEARCH)
    keys.handle("make")
    assert renderer.editor.text == "make coffee"
    keys.handle(Key.SEARCH)
    assert renderer.editor.text == "make tea"
    keys.handle(Key.SEND)
    assert renderer.editor.search is None and renderer.editor.text == "make tea"
    assert outbox == []  # kept in the box, not sent


def test_esc_leaves_the_search_and_gives_the_draft_back(tmp_path: Path) -> None:
    renderer = Renderer(80, 24)
    sent(renderer.editor, "alpha")
    keys = Controller(renderer, ViewModel(), lambda message: None)
    keys.handle("draft")
    keys.handle(Key.SEARCH)
    keys.handle("zzz")
    assert renderer.editor.search_match is None
    keys.handle(Key.CANCEL)
    assert renderer.editor.text == "draft" and renderer.editor.search is None

"""``/copy``: OSC 52 built by the TUI from the answer's text, a private fallback file."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

from aiway.actors.protocol import Message, ResponseMetadata, Role, StreamEnd
from aiway.ui.tui.canvas import TextGrid
from aiway.ui.tui.clipboard import OSC52_MAX_BYTES, Clipboard, osc52
from aiway.ui.tui.controller import Controller
from aiway.ui.tui.keys import Key
from aiway.ui.tui.render import Renderer
from aiway.ui.tui.viewmodel import ViewModel

ANSWER = "Try this:\n\n```sh\nls -l\n```\n\nor this:\n\n```python\nprint('hi')\n```\n"


def payload(sequence: str) -> str:
    assert sequence.startswith("\x1b]52;c;") and sequence.endswith("\x1b\\")
    return base64.b64decode(sequence[len("\x1b]52;c;") : -2]).decode()


class Setup:
    def __init__(self, tmp_path: Path, answer: str = ANSWER) -> None:
        self.written: list[str] = []
        self.file = tmp_path / "data" / "clipboard.txt"
        self.view = ViewModel()
        self.view.publish(Message("a1", Role.ASSISTANT, ""), 1)
        self.view.publish(StreamEnd("a1", answer, ResponseMetadata("m")), 2)
        self.renderer = Renderer(100, 30)
        self.controller = Controller(
            self.renderer,
            self.view,
            lambda message: None,
            Clipboard(self.written.append, self.file),
        )

    def command(self, text: str) -> str:
        self.controller.handle(text)
        self.controller.handle(Key.SEND)
        self.renderer.apply(self.view.take())
        grid = TextGrid(100, 30)
        self.renderer.paint(grid)
        return " ".join(grid.text().split())  # the note's words, whatever the wrapping


def test_osc52_carries_the_text_base64_encoded() -> None:
    assert payload(osc52("héllo\n")) == "héllo\n"


def test_copy_puts_the_last_answer_on_the_clipboard_and_in_a_private_file(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    screen = setup.command("/copy")
    assert [payload(sequence) for sequence in setup.written] == [ANSWER]
    assert setup.file.read_text() == ANSWER
    assert stat.S_IMODE(setup.file.stat().st_mode) == 0o600
    assert "OSC 52" in screen and "not every terminal" in screen


def test_copy_n_copies_the_nth_code_block(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.command("/copy 2")
    assert [payload(sequence) for sequence in setup.written] == ["print('hi')\n"]


def test_copy_of_a_block_that_is_not_there_says_how_many_there_are(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    screen = setup.command("/copy 3")
    assert setup.written == []
    assert "has 2 code blocks" in screen


def test_an_escape_sequence_in_the_answer_never_reaches_the_terminal(tmp_path: Path) -> None:
    hostile = "fine\x1b]52;c;ZXZpbA==\x07 text\x1b[2J"
    setup = Setup(tmp_path, hostile)
    screen = setup.command("/copy")
    assert "\x1b" not in screen  # drawn sanitised
    assert [payload(sequence) for sequence in setup.written] == [hostile]  # only as base64
    assert all(sequence.count("\x1b") == 2 for sequence in setup.written)


def test_a_text_too_long_for_osc52_goes_to_the_file_only(tmp_path: Path) -> None:
    setup = Setup(tmp_path, "x" * (OSC52_MAX_BYTES + 1))
    screen = setup.command("/copy")
    assert setup.written == []
    assert setup.file.stat().st_size == OSC52_MAX_BYTES + 1
    assert "too long for the terminal's clipboard" in screen

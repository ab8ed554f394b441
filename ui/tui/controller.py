"""What each key does: edits, scrolling, views, and the messages sent to the Conductor.

The controller turns decoded key actions into changes of the renderer and
editor, and into protocol messages handed to ``send`` (the session's thread
bridge). Esc cancels the answer in flight and never quits; Ctrl+Q and
``/quit`` quit. ``/copy`` and ``/copy N`` are the UI's own commands (the
last answer, or its Nth code block, onto the clipboard); everything else
that starts with a slash goes to the Conductor. No curses here: tests drive
it with key actions.
"""

from __future__ import annotations

from collections.abc import Callable

from aiway.actors.protocol import Cancel, QuitRequested, UserMessage
from aiway.ui.tui.clipboard import Clipboard
from aiway.ui.tui.keys import Action, Key, Paste
from aiway.ui.tui.markdown import code_blocks
from aiway.ui.tui.render import Renderer, state_is_busy
from aiway.ui.tui.viewmodel import ViewModel

SURFACE_ID = "tui"
QUIT_COMMANDS = ("/quit", "/exit")


class Controller:
    """Applies key actions; ``quit_requested`` turns True on Ctrl+Q or ``/quit``."""

    def __init__(
        self,
        renderer: Renderer,
        view: ViewModel,
        send: Callable[[object], None],
        clipboard: Clipboard | None = None,
    ) -> None:
        self.renderer = renderer
        self.editor = renderer.editor
        self.view = view
        self.send = send
        self.clipboard = clipboard
        self.quit_requested = False
        self._edits: dict[Key, Callable[[], None]] = {
            Key.BACKSPACE: self.editor.backspace,
            Key.DELETE: self.editor.delete,
            Key.LEFT: self.editor.left,
            Key.RIGHT: self.editor.right,
            Key.UP: self.editor.up,
            Key.DOWN: self.editor.down,
            Key.HOME: self.editor.home,
            Key.END: self.editor.end,
            Key.WORD_LEFT: self.editor.word_left,
            Key.WORD_RIGHT: self.editor.word_right,
            Key.DELETE_WORD: self.editor.delete_word,
            Key.CLEAR: self.editor.clear,
        }

    def handle(self, action: Action) -> None:
        """Carry out one action."""
        renderer = self.renderer
        if self.editor.search is not None and self._search_key(action):
            renderer.touch_input()
            return
        if isinstance(action, str):
            self.editor.insert(action)
            renderer.touch_input()
            return
        if isinstance(action, Paste):
            self.editor.insert(action.text)  # one edit: its newlines never send
            renderer.touch_input()
            if action.truncated:
                self.view.note(
                    "warning", "paste", "the paste was too long: only its start was kept"
                )
            return
        edit = self._edits.get(action)
        if edit is not None:
            edit()
            renderer.touch_input()
        elif action is Key.SEND:
            self._send()
        elif action is Key.NEWLINE:
            self.editor.insert("\n")
            renderer.touch_input()
        elif action is Key.CANCEL:
            if renderer.show_metrics:
                renderer.toggle_metrics(False)
            else:
                self.send(Cancel(SURFACE_ID))
        elif action is Key.INTERRUPT:
            if state_is_busy(renderer.status):
                self.send(Cancel(SURFACE_ID))
            else:
                self.editor.clear()
                renderer.touch_input()
        elif action is Key.QUIT:
            self._quit()
        elif action is Key.PAGE_UP:
            renderer.page(-1)
        elif action is Key.PAGE_DOWN:
            renderer.page(1)
        elif action is Key.SCROLL_TOP:
            renderer.scroll_to_top()
        elif action is Key.SCROLL_BOTTOM:
            renderer.scroll_to_end()
        elif action is Key.METRICS:
            renderer.toggle_metrics()
        elif action is Key.REDRAW:
            renderer.invalidate()
        elif action is Key.SEARCH:
            self.editor.search_start()
            renderer.touch_input()

    def _search_key(self, action: Action) -> bool:
        """A key while Ctrl+R searches; False when it ends the search and acts as usual."""
        editor = self.editor
        if isinstance(action, str):
            editor.search_type(action)
        elif isinstance(action, Paste):
            editor.search_type(action.text)
        elif action is Key.SEARCH:
            editor.search_start()
        elif action is Key.BACKSPACE:
            editor.search_backspace()
        elif action in (Key.CANCEL, Key.INTERRUPT):
            editor.search_cancel()
        elif action is Key.SEND:
            editor.search_accept()
        else:
            editor.search_accept()
            return False
        return True

    def _send(self) -> None:
        text = self.editor.take()
        self.renderer.touch_input()
        if not text:
            return
        command = text.split(maxsplit=1)[0].lower()
        if command in QUIT_COMMANDS:
            self._quit()
            return
        if command == "/copy":
            self._copy(text.split()[1:])
            return
        if command == "/clear":
            self.view.clear()
        self.renderer.scroll_to_end()
        self.send(UserMessage(text, SURFACE_ID))

    def _copy(self, args: list[str]) -> None:
        """``/copy``: the last answer; ``/copy N``: its Nth code block."""
        if self.clipboard is None:
            self.view.note("warning", "copy", "this screen cannot copy")
            return
        answer = self.view.last_answer()
        if not answer:
            self.view.note("warning", "copy", "there is no answer to copy yet")
            return
        if not args:
            level, note = self.clipboard.copy(answer, "the last answer")
            self.view.note(level, "copy", note)
            return
        blocks = code_blocks(answer)
        number = int(args[0]) if len(args) == 1 and args[0].isdigit() else 0
        if not 1 <= number <= len(blocks):
            count = f"{len(blocks)} code block{'s' if len(blocks) != 1 else ''}"
            self.view.note(
                "warning",
                "copy",
                f"/copy N takes a code block's number: the last answer has {count}",
            )
            return
        level, note = self.clipboard.copy(blocks[number - 1], f"code block {number}")
        self.view.note(level, "copy", note)

    def _quit(self) -> None:
        self.send(QuitRequested(SURFACE_ID))
        self.quit_requested = True

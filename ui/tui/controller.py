"""What each key does: edits, scrolling, views, and the messages sent to the Conductor.

The controller turns decoded key actions into changes of the renderer and
editor, and into protocol messages handed to ``send`` (the session's thread
bridge). Esc cancels the answer in flight and never quits; Ctrl+Q and
``/quit`` quit. No curses here: tests drive it with key actions.
"""

from __future__ import annotations

from collections.abc import Callable

from aiway.actors.protocol import Cancel, QuitRequested, UserMessage
from aiway.ui.tui.keys import Action, Key, Paste
from aiway.ui.tui.render import Renderer, state_is_busy
from aiway.ui.tui.viewmodel import ViewModel

SURFACE_ID = "tui"
QUIT_COMMANDS = ("/quit", "/exit")


class Controller:
    """Applies key actions; ``quit_requested`` turns True on Ctrl+Q or ``/quit``."""

    def __init__(self, renderer: Renderer, view: ViewModel, send: Callable[[object], None]) -> None:
        self.renderer = renderer
        self.editor = renderer.editor
        self.view = view
        self.send = send
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

    def _send(self) -> None:
        text = self.editor.take()
        self.renderer.touch_input()
        if not text:
            return
        command = text.split(maxsplit=1)[0].lower()
        if command in QUIT_COMMANDS:
            self._quit()
            return
        if command == "/clear":
            self.view.clear()
        self.renderer.scroll_to_end()
        self.send(UserMessage(text, SURFACE_ID))

    def _quit(self) -> None:
        self.send(QuitRequested(SURFACE_ID))
        self.quit_requested = True

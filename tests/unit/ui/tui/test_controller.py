"""Keys to actions and messages: Enter sends, Esc cancels (never quits), Ctrl+Q and /quit quit."""

from __future__ import annotations

from aiway.actors.protocol import Cancel, ConversationState, QuitRequested, UserMessage
from aiway.ui.tui.controller import SURFACE_ID, Controller
from aiway.ui.tui.keys import Key
from aiway.ui.tui.render import Renderer
from aiway.ui.tui.viewmodel import StatusView, ViewModel


def controller() -> tuple[Controller, list[object]]:
    sent: list[object] = []
    return Controller(Renderer(80, 24), ViewModel(), sent.append), sent


def test_enter_sends_what_was_typed_and_empties_the_box() -> None:
    keys, sent = controller()
    keys.handle("hello")
    keys.handle(Key.SEND)
    assert sent == [UserMessage("hello", SURFACE_ID)]
    assert keys.editor.text == ""


def test_enter_on_an_empty_box_sends_nothing() -> None:
    keys, sent = controller()
    keys.handle("   ")
    keys.handle(Key.SEND)
    assert sent == []


def test_esc_cancels_the_answer_and_does_not_quit() -> None:
    keys, sent = controller()
    keys.handle(Key.CANCEL)
    assert sent == [Cancel(SURFACE_ID)]
    assert not keys.quit_requested


def test_esc_closes_the_metrics_view_first() -> None:
    keys, sent = controller()
    keys.handle(Key.METRICS)
    keys.handle(Key.CANCEL)
    assert not keys.renderer.show_metrics
    assert sent == []


def test_ctrl_q_and_slash_quit_ask_the_session_to_quit() -> None:
    for action in (Key.QUIT, "/quit"):
        keys, sent = controller()
        keys.handle(action)
        if isinstance(action, str):
            keys.handle(Key.SEND)
        assert sent == [QuitRequested(SURFACE_ID)]
        assert keys.quit_requested


def test_ctrl_c_cancels_while_answering_and_clears_the_box_otherwise() -> None:
    keys, sent = controller()
    keys.handle("draft")
    keys.handle(Key.INTERRUPT)
    assert keys.editor.text == ""
    keys.renderer.status = StatusView(ConversationState.RESPONDING, "m", "b", 0, None, None, 0, "")
    keys.handle(Key.INTERRUPT)
    assert sent == [Cancel(SURFACE_ID)]


def test_slash_clear_empties_the_conversation_shown_and_tells_the_conductor() -> None:
    keys, sent = controller()
    keys.view.note("info", "", "something")
    keys.view.take()
    keys.handle("/clear")
    keys.handle(Key.SEND)
    assert keys.view.take().reset
    assert sent == [UserMessage("/clear", SURFACE_ID)]


def test_alt_enter_adds_a_line_instead_of_sending() -> None:
    keys, sent = controller()
    keys.handle("one")
    keys.handle(Key.NEWLINE)
    keys.handle("two")
    keys.handle(Key.SEND)
    assert sent == [UserMessage("one\ntwo", SURFACE_ID)]

"""Profile scenario ``wrap``: a long conversation wrapped, rendered and scrolled end to end.

The terminal UI's curses-free half: the view model (``aiway.ui.tui.viewmodel``) is
fed a long conversation as the TUI surface would feed it (user messages, and
answers streamed as small tokens), outside the trace. Traced: the renderer
(``aiway.ui.tui.render.Renderer``, 120 x 40 cells) folds it all in (wrapping every
message once), paints the screen, jumps to the top and pages down to the end,
painting every page. The canvas discards what it is given, so only the
renderer is measured. The unit is one painted screen.

``python -m profiling.profile_wrap [--quick] [--flamegraph]``
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from aiway.actors.protocol import AnswerStatus, Message, ResponseMetadata, Role, StreamEnd, Token
from profiling.profile import Tracking, Unavailable, scenario_main

UNIT = "screen"
TURNS = 500
QUICK_TURNS = 100
WIDTH, HEIGHT = 120, 40
_WORDS = (
    "the axolotl keeps its gills all its life and regrows a lost limb, "
    "while the conductor streams each token to every surface; "
)


class NullCanvas:
    """A canvas that takes every call and keeps nothing."""

    def put(self, y: int, x: int, text: str, style: str) -> None:
        return None


def conversation(turns: int) -> list[object]:
    """What surfaces are published for ``turns`` questions and their streamed answers."""
    published: list[object] = []
    for turn in range(turns):
        published.append(Message(f"u{turn}", Role.USER, f"question {turn}: {_WORDS[:60]}"))
        answer_id = f"a{turn}"
        published.append(Message(answer_id, Role.ASSISTANT, ""))
        answer = (_WORDS * (1 + turn % 7)).strip() + f"\n\nthat was answer {turn}."
        pieces = [answer[start : start + 5] for start in range(0, len(answer), 5)]
        published.extend(Token(answer_id, piece) for piece in pieces)
        published.append(
            StreamEnd(answer_id, answer, ResponseMetadata(model="m"), AnswerStatus.COMPLETE)
        )
    return published


def play(tracking: Tracking, quick: bool, variant: str | None) -> int:
    """Trace folding in, painting and scrolling a long conversation; returns screens painted."""
    try:
        from aiway.ui.tui.render import Renderer
        from aiway.ui.tui.viewmodel import ViewModel
    except ImportError as exc:
        raise Unavailable(f"the TUI render model (ui/tui) is not there: {exc}") from None
    turns = QUICK_TURNS if quick else TURNS
    view = ViewModel(history_limit=2 * turns + 10)
    for seq, message in enumerate(conversation(turns), 1):
        view.publish(message, seq)
    changes = view.take()
    renderer = Renderer(WIDTH, HEIGHT, clock=lambda: 0.0)
    canvas = NullCanvas()
    screens = 0
    with tracking():
        renderer.apply(changes)
        renderer.paint(canvas)
        screens += 1
        renderer.scroll_to_top()
        while True:
            renderer.paint(canvas)
            screens += 1
            if renderer.following:
                break
            renderer.page(1)
    return screens


def main(argv: Sequence[str] | None = None) -> int:
    return scenario_main("wrap", argv)


if __name__ == "__main__":
    sys.exit(main())

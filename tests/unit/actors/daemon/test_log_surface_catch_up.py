"""The headless log surface shows the same transcript however it got there.

A surface that attaches late, falls behind (lagging, then a snapshot), or
reconnects to a daemon gets a ``StateSnapshot``; the text it writes adds only
what is missing, so every surface ends up showing the same answer.
"""

from __future__ import annotations

import re

from aiway.actors.protocol import (
    AnswerStatus,
    ConversationState,
    HistoryEntry,
    LinkState,
    LinkStatus,
    Message,
    Notify,
    NotifyLevel,
    Published,
    ResponseMetadata,
    Role,
    SessionInfo,
    StateSnapshot,
    StreamEnd,
    StreamError,
    Token,
)
from aiway.actors.runtime.testing import Probe
from aiway.ui.headless import LogSurface

# A finished answer: its last line, right above its figures ("m · 3 tokens · ...").
ANSWER_LINE = re.compile(r"^yollayah> (.*)\n   · [^\n]* \d+ tokens · ", re.MULTILINE)
META = ResponseMetadata(model="m", tokens=3)
SESSION = SessionInfo("s1", "m", "ollama")


class Text:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    @property
    def value(self) -> str:
        return "".join(self.parts)


def surface() -> tuple[Probe, Text]:
    out = Text()
    return Probe(LogSurface(out, json_mode=False)), out  # type: ignore[arg-type]


def snapshot(
    history: tuple[HistoryEntry, ...] = (),
    streaming: HistoryEntry | None = None,
    seq: int = 0,
    session: SessionInfo = SESSION,
) -> StateSnapshot:
    return StateSnapshot(history, ConversationState.READY, session, None, seq, streaming)


def answers(text: str) -> list[str]:
    """Finished answers: the last line written for each, above its figures."""
    return ANSWER_LINE.findall(text)


def live(probe: Probe) -> None:
    """A user message and an answer streamed in three tokens."""
    probe.send(Published(1, Message("u1", Role.USER, "hi")))
    probe.send(Published(2, Message("a2", Role.ASSISTANT, "")))
    for seq, piece in enumerate(("Ho", "la ", "amigo"), start=3):
        probe.send(Published(seq, Token("a2", piece)))


def test_a_late_surface_shows_the_history_and_the_answer_in_flight() -> None:
    probe, out = surface()
    probe.send(
        snapshot(
            (HistoryEntry("u1", Role.USER, "hi"),),
            HistoryEntry("a2", Role.ASSISTANT, "Hola "),
            seq=4,
        )
    )
    probe.send(Published(5, Token("a2", "amigo")))
    probe.send(Published(6, StreamEnd("a2", "Hola amigo", META)))
    assert "you> hi\n" in out.value
    assert answers(out.value) == ["Hola amigo"]


def test_a_resync_adds_only_what_is_missing() -> None:
    probe, out = surface()
    probe.send(snapshot())
    live(probe)  # shown: "Hola amigo" so far; then the surface lagged
    probe.send(
        snapshot(
            (
                HistoryEntry("u1", Role.USER, "hi"),
                HistoryEntry("a2", Role.ASSISTANT, "Hola amigo mio", metadata=META),
            ),
            seq=9,
        )
    )
    assert out.value.count("you> hi") == 1
    assert answers(out.value) == ["Hola amigo mio"]
    assert "· m · 3 tokens" in out.value


def test_a_notice_in_the_middle_of_an_answer_waits_until_its_line_ends() -> None:
    probe, out = surface()
    live(probe)
    probe.send(Published(6, Notify(NotifyLevel.INFO, "queued", "later")))
    probe.send(Published(7, Token("a2", "!")))
    probe.send(Published(8, StreamEnd("a2", "Hola amigo!", META)))
    assert answers(out.value) == ["Hola amigo!"]
    assert out.value.count("yollayah> ") == 1
    assert out.value.endswith("   (info) queued: later\n")


def test_a_lost_link_interrupts_an_answer_which_is_written_again_whole() -> None:
    probe, out = surface()
    live(probe)
    probe.send(LinkStatus(LinkState.RECONNECTING, "unix:/s", "the daemon closed", 1, 0.1))
    probe.send(snapshot(streaming=HistoryEntry("a2", Role.ASSISTANT, "Hola amigo mio")))
    probe.send(Published(9, StreamEnd("a2", "Hola amigo mio.", META)))
    assert "   · reconnecting to unix:/s (attempt 1" in out.value
    assert answers(out.value) == ["Hola amigo mio."]


def test_an_answer_the_snapshot_contradicts_is_written_again_whole() -> None:
    probe, out = surface()
    live(probe)
    probe.send(snapshot(streaming=HistoryEntry("a2", Role.ASSISTANT, "Something else")))
    probe.send(Published(9, StreamEnd("a2", "Something else", META)))
    assert answers(out.value) == ["Something else"]


def test_a_new_session_forgets_the_old_ids() -> None:
    probe, out = surface()
    probe.send(snapshot((HistoryEntry("u1", Role.USER, "old"),)))
    probe.send(
        snapshot((HistoryEntry("u1", Role.USER, "new"),), session=SessionInfo("s2", "m", "x"))
    )
    assert "you> old" in out.value and "you> new" in out.value


def test_a_cancelled_answer_in_the_history_says_so() -> None:
    probe, out = surface()
    probe.send(
        snapshot(
            (HistoryEntry("a1", Role.ASSISTANT, "Hal", AnswerStatus.CANCELLED, META),),
        )
    )
    assert "yollayah> Hal\n" in out.value and "· cancelled" in out.value


def test_link_status_lines() -> None:
    probe, out = surface()
    probe.send(LinkStatus(LinkState.CONNECTED, "unix:/s", "connected as headless-1"))
    probe.send(LinkStatus(LinkState.RECONNECTING, "unix:/s", "the daemon closed", 2, 0.4))
    probe.send(LinkStatus(LinkState.CLOSED, "unix:/s", "closed"))
    assert out.value.splitlines() == [
        "   · connected as headless-1 at unix:/s",
        "   · reconnecting to unix:/s (attempt 2, next try in 0.4s): the daemon closed",
        "   · disconnected from unix:/s: closed",
    ]


def test_a_failed_answer_says_its_error_once() -> None:
    """The notice that repeats a failed answer's error is not written again; another is."""
    probe, out = surface()
    probe.send(Published(1, Message("u1", Role.USER, "hi")))
    probe.send(Published(2, Message("a2", Role.ASSISTANT, "")))
    error = "no member offers model"
    probe.send(Published(3, StreamError("a2", error, "")))
    probe.send(Published(4, Notify(NotifyLevel.ERROR, "the model could not answer", error)))
    probe.send(Published(5, Notify(NotifyLevel.ERROR, "the store failed", "disk full")))
    assert out.value.count(error) == 1, out.value
    assert "   (error) the store failed: disk full\n" in out.value

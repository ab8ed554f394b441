"""What an authenticated surface can make the Conductor hold: each bound refuses or cuts early.

A refused message is refused before anything is published (no copy reaches
the registry's mirror, the history's Store or any other surface); only its
sender hears why, in a short notice. An answer past its cap is cut with a
marker and its stream is cancelled.
"""

from __future__ import annotations

from aiway.actors.conductor import Conductor, ConductorSettings
from aiway.actors.protocol import (
    AnswerStatus,
    CancelStream,
    Message,
    Notify,
    NotifyLevel,
    ResponseMetadata,
    StartStream,
    StreamChunk,
    StreamDone,
    StreamEnd,
    SurfaceNotice,
    Token,
    UserMessage,
)
from aiway.actors.runtime import ActorRef
from aiway.actors.runtime.testing import Probe

META = ResponseMetadata(model="m")


def make(**overrides: int) -> tuple[Probe, Conductor]:
    settings = ConductorSettings(model="m", **overrides)  # type: ignore[arg-type]
    unset = ActorRef("unset", None, lambda name, msg: None)
    conductor = Conductor(settings, registry=unset, stream_manager=unset, avatar=None)
    probe = Probe(conductor, "conductor", start=False)
    conductor.registry = probe.ref("registry")
    conductor.stream_manager = probe.ref("streams")
    conductor.on_start(probe)
    probe.clear()
    return probe, conductor


def to_registry(probe: Probe) -> list[object]:
    return [msg for ref, msg in probe.told if ref.name == "registry"]


def test_an_oversized_message_is_refused_to_its_sender_before_anything_is_published() -> None:
    probe, conductor = make(max_message_bytes=64 * 1024)
    probe.send(UserMessage("x" * (1024 * 1024), "tui-1"))
    (refusal,) = to_registry(probe)
    assert isinstance(refusal, SurfaceNotice)
    assert refusal.surface_id == "tui-1"
    assert refusal.notice.level is NotifyLevel.WARNING
    assert "64 KiB" in refusal.notice.text
    assert "conversation.max_message_bytes" in refusal.notice.text
    assert len(refusal.notice.text) < 300
    assert probe.sent(StartStream) == []
    assert not conductor.history


def test_a_message_at_the_size_limit_is_taken() -> None:
    probe, _ = make(max_message_bytes=1024)
    probe.send(UserMessage("é" * 512, "tui-1"))  # 1024 bytes of UTF-8
    assert len(probe.sent(StartStream)) == 1


def test_an_oversized_slash_command_is_refused_too() -> None:
    probe, _ = make(max_message_bytes=1024)
    probe.send(UserMessage("/system " + "x" * 2048, "tui-1"))
    (refusal,) = to_registry(probe)
    assert isinstance(refusal, SurfaceNotice)
    assert refusal.surface_id == "tui-1"


def test_a_message_past_the_queue_is_refused_to_its_sender_and_never_published() -> None:
    probe, conductor = make(max_queued=2)
    probe.send(UserMessage("first", "tui-1"))
    probe.send(UserMessage("second", "tui-1"))
    probe.send(UserMessage("third", "tui-1"))
    probe.clear()
    probe.send(UserMessage("fourth", "web-2"))
    (refusal,) = to_registry(probe)
    assert isinstance(refusal, SurfaceNotice)
    assert refusal.surface_id == "web-2"
    assert "2 messages already wait" in refusal.notice.text
    assert not any(isinstance(m, Message) and m.content == "fourth" for m in to_registry(probe))
    assert [turn.content for turn in conductor.pending] == ["second", "third"]


def test_queued_notices_go_to_the_sender_only() -> None:
    probe, _ = make()
    probe.send(UserMessage("first", "tui-1"))
    probe.clear()
    probe.send(UserMessage("second", "tui-1"))
    assert probe.sent(Notify) == []
    (notice,) = probe.sent(SurfaceNotice)
    assert notice.surface_id == "tui-1"


def test_an_answer_past_its_cap_is_cut_with_a_marker_and_its_stream_cancelled() -> None:
    probe, conductor = make(max_answer_bytes=1024)
    probe.send(UserMessage("talk forever", "tui-1"))
    (request,) = probe.sent(StartStream)
    for _ in range(10):
        probe.send(StreamChunk(request.request_id, "y" * 300))
    assert probe.sent(CancelStream) == [CancelStream(request.request_id)]
    streamed = "".join(token.text for token in probe.sent(Token))
    assert streamed.startswith("y" * 1024)
    assert "y" * 1025 not in streamed
    assert "cut at 1 KiB" in streamed
    probe.send(StreamDone(request.request_id, ResponseMetadata(done_reason="cancelled")))
    (end,) = probe.sent(StreamEnd)
    assert end.content == streamed
    assert end.status is AnswerStatus.CANCELLED
    assert any("conversation.max_answer_bytes" in n.text for n in probe.sent(Notify))
    assert conductor.answer is None


def test_a_cut_answer_keeps_the_queue_and_answers_the_next_message() -> None:
    probe, _ = make(max_answer_bytes=1024)
    probe.send(UserMessage("first", "tui-1"))
    (request,) = probe.sent(StartStream)
    probe.send(UserMessage("second", "tui-1"))
    probe.send(StreamChunk(request.request_id, "z" * 2000))
    probe.send(StreamDone(request.request_id, ResponseMetadata(done_reason="cancelled")))
    follow_up = probe.sent(StartStream)[-1]
    assert follow_up.messages[-1].content == "second"

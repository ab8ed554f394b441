"""The session mirror: what a late or lagging surface is sent, and that it always fits a frame."""

from __future__ import annotations

import pytest

from aiway.actors.mirror import SessionMirror
from aiway.actors.protocol import (
    AnswerStatus,
    ConversationState,
    Message,
    ResponseMetadata,
    Role,
    State,
    StreamEnd,
    StreamError,
    TaskCompleted,
    TaskCreated,
    Token,
    to_wire,
)
from aiway.actors.protocol.framing import CLIENT_FRAME_LIMIT, FrameDecoder, encode_frame


def converse(mirror: SessionMirror, turns: int, answer: str) -> None:
    for i in range(turns):
        mirror.apply(Message(f"u{i}", Role.USER, f"question {i}"))
        mirror.apply(Message(f"a{i}", Role.ASSISTANT, ""))
        mirror.apply(StreamEnd(f"a{i}", answer, ResponseMetadata(model="m")))


def test_the_mirror_folds_the_conversation_into_a_snapshot() -> None:
    mirror = SessionMirror()
    mirror.apply(Message("u1", Role.USER, "hi"))
    mirror.apply(Message("a1", Role.ASSISTANT, ""))
    mirror.apply(Token("a1", "hel"))
    mirror.apply(Token("a1", "lo"))
    mirror.apply(State(ConversationState.RESPONDING))
    mirror.apply(TaskCreated("t1", "qa", "The Intern", "test"))
    snapshot = mirror.snapshot(7)
    assert [e.content for e in snapshot.history] == ["hi"]
    assert snapshot.streaming is not None and snapshot.streaming.content == "hello"
    assert snapshot.state is ConversationState.RESPONDING
    assert snapshot.last_seq == 7
    mirror.apply(StreamError("a1", "gone", "hello"))
    mirror.apply(TaskCompleted("t1"))
    snapshot = mirror.snapshot(9)
    assert snapshot.streaming is None
    assert snapshot.history[-1].status is AnswerStatus.ERROR
    assert snapshot.tasks == ()


def test_a_snapshot_of_a_long_conversation_fits_one_client_frame() -> None:
    """300 answers of 256 KiB (75 MiB of history) once made a snapshot no client could read."""
    mirror = SessionMirror(history_limit=1000)
    converse(mirror, 300, "y" * (256 * 1024))
    snapshot = mirror.snapshot(900)
    frame = encode_frame(to_wire(snapshot))
    (payload,) = FrameDecoder(CLIENT_FRAME_LIMIT).feed(frame)
    assert len(payload) <= CLIENT_FRAME_LIMIT
    # the newest messages are kept, the oldest left out, and the first entry says how many
    assert snapshot.history[-1].id == "a299"
    marker = snapshot.history[0]
    assert marker.role is Role.SYSTEM
    left_out = 600 - (len(snapshot.history) - 1)
    assert left_out > 0
    assert f"{left_out} older messages" in marker.content
    every_id = [f"{kind}{i}" for i in range(300) for kind in ("u", "a")]
    kept = [e.id for e in snapshot.history[1:]]
    assert kept == every_id[len(every_id) - len(kept) :]


@pytest.mark.parametrize("limit", [4096, 20_000, 100_000])
def test_a_snapshot_never_encodes_over_its_limit(limit: int) -> None:
    mirror = SessionMirror(history_limit=200, max_snapshot_bytes=limit)
    converse(mirror, 50, 'é\x1b"' * 300)  # escapes and multi-byte text cost more on the wire
    mirror.apply(Message("a50", Role.ASSISTANT, ""))
    mirror.apply(Token("a50", "streaming"))
    snapshot = mirror.snapshot(1)
    assert len(to_wire(snapshot)) <= limit
    assert snapshot.streaming is not None
    assert snapshot.history[-1].id == "a49" or len(snapshot.history) == 1


def test_a_snapshot_that_fits_is_sent_whole() -> None:
    mirror = SessionMirror(history_limit=10)
    converse(mirror, 3, "short")
    snapshot = mirror.snapshot(1)
    assert [e.id for e in snapshot.history] == ["u0", "a0", "u1", "a1", "u2", "a2"]


def test_an_answer_streaming_past_the_limit_keeps_its_latest_text() -> None:
    mirror = SessionMirror(max_snapshot_bytes=4096)
    mirror.apply(Message("a1", Role.ASSISTANT, ""))
    mirror.apply(Token("a1", "x" * 10_000 + "the end"))
    snapshot = mirror.snapshot(1)
    assert len(to_wire(snapshot)) <= 4096
    assert snapshot.streaming is not None
    assert snapshot.streaming.content.endswith("the end")
    assert "left out" in snapshot.streaming.content

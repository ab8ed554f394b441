"""Frames: a 4-byte big-endian length and the wire JSON; the decoder takes bytes split anywhere."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiway.actors.daemon.errors import FrameError, FrameTooLarge
from aiway.actors.protocol import (
    Ping,
    ProtocolError,
    Published,
    StateSnapshot,
    Token,
    from_wire,
    to_wire,
)
from aiway.actors.protocol.conductor import ConversationState
from aiway.actors.protocol.framing import FrameDecoder, FrameEncoder, encode_frame

payloads = st.lists(st.binary(max_size=300), max_size=12)


def stream_of(frames: list[bytes]) -> bytes:
    return b"".join(encode_frame(frame) for frame in frames)


def test_a_frame_is_the_big_endian_length_then_the_payload() -> None:
    assert encode_frame(b"hey") == b"\x00\x00\x00\x03hey"
    assert encode_frame(b"") == b"\x00\x00\x00\x00"


@settings(max_examples=300, deadline=None)
@given(payloads, st.data())
def test_frames_split_anywhere_come_out_whole_and_in_order(
    frames: list[bytes], data: st.DataObject
) -> None:
    stream = stream_of(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    decoder = FrameDecoder(max_frame_bytes=1024)
    got: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += decoder.feed(stream[start:cut])
        start = cut
    assert got == frames
    assert decoder.pending == 0


def test_byte_by_byte_feeding_keeps_the_partial_frame() -> None:
    decoder = FrameDecoder(max_frame_bytes=64)
    stream = encode_frame(b"abc")
    assert [decoder.feed(stream[i : i + 1]) for i in range(len(stream) - 1)] == [[]] * 6
    assert decoder.pending == 6
    assert decoder.feed(stream[-1:]) == [b"abc"]


def test_an_oversized_header_fails_before_its_body_arrives() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    with pytest.raises(FrameTooLarge, match="101 bytes is over the limit of 100") as caught:
        decoder.feed(b"\x00\x00\x00\x65")
    assert (caught.value.length, caught.value.limit) == (101, 100)


def test_a_frame_of_exactly_the_limit_passes() -> None:
    decoder = FrameDecoder(max_frame_bytes=5)
    assert decoder.feed(encode_frame(b"12345")) == [b"12345"]


def test_after_an_oversized_frame_the_stream_stays_failed() -> None:
    decoder = FrameDecoder(max_frame_bytes=4)
    with pytest.raises(FrameTooLarge):
        decoder.feed(encode_frame(b"too long"))
    with pytest.raises(FrameError, match="lost its frame boundaries"):
        decoder.feed(encode_frame(b"ok"))


def test_frames_before_an_oversized_one_in_the_same_read_are_not_returned() -> None:
    # The connection is dropped anyway; what matters is that nothing is buffered.
    decoder = FrameDecoder(max_frame_bytes=4)
    with pytest.raises(FrameTooLarge):
        decoder.feed(encode_frame(b"ok") + encode_frame(b"far too long"))
    assert decoder.pending == 0


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 64))
def test_fuzz_any_bytes_give_frames_or_a_frame_error_never_anything_else(
    data: bytes, limit: int
) -> None:
    decoder = FrameDecoder(max_frame_bytes=limit)
    try:
        frames = decoder.feed(data)
    except FrameError:
        return
    assert all(len(frame) <= limit for frame in frames)
    assert sum(4 + len(frame) for frame in frames) + decoder.pending == len(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_any_frame_payload_decodes_or_raises_a_protocol_error(payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        from_wire(payload)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["Handshake", "UserMessage", "Ping", "Cancel", "Published", "Nope"]),
    st.dictionaries(st.text(max_size=12), json_values, max_size=5),
)
def test_fuzz_tagged_objects_with_wrong_fields_raise_only_protocol_errors(
    tag: str, fields: dict[str, object]
) -> None:
    payload = orjson.dumps({**fields, "type": tag})
    with contextlib.suppress(ProtocolError):
        from_wire(payload)


def test_the_encoder_encodes_a_shared_message_once() -> None:
    encoder = FrameEncoder(size=4)
    published = Published(1, Token("a1", "hola"))
    first = encoder.encode(published)
    assert encoder.encode(published) is first
    assert (encoder.encoded, encoder.hits) == (1, 1)
    assert from_wire(first[4:]) == published


def test_the_encoder_forgets_the_oldest_and_never_confuses_equal_objects() -> None:
    encoder = FrameEncoder(size=2)
    messages = [Published(n, Token("a", str(n))) for n in range(3)]
    frames = [encoder.encode(m) for m in messages]
    assert encoder.encode(messages[0]) == frames[0]
    assert encoder.hits == 0  # evicted, encoded again
    assert encoder.encode(Published(2, Token("a", "2"))) == frames[2]


def test_snapshots_and_link_messages_are_not_cached() -> None:
    encoder = FrameEncoder()
    snapshot = StateSnapshot((), ConversationState.READY, None, None, 0)
    encoder.encode(snapshot)
    encoder.encode(snapshot)
    encoder.encode(Ping(1))
    assert encoder.hits == 0
    assert encoder.encode(Ping(1)) == encode_frame(to_wire(Ping(1)))

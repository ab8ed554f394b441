"""Every decoder a peer can reach, fuzzed: what comes out is a message or a clear refusal.

A peer of the daemon reaches the frame decoder (before and after the
handshake), the JSON wire form and the message converter; a user's config
file and environment reach the settings loader. For any input, each of them
either returns what it promises or raises its own error (``ProtocolError``,
``FrameError``, ``ConfigError``): never another exception that would escape a
handler written for those, and never more buffered bytes than its limit.
The Thespian wire codec, the NDJSON splitter and the tag parser have fuzz
tests of their own beside their unit tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiway.actors.protocol import (
    MESSAGE_TYPES,
    ProtocolError,
    Published,
    from_dict,
    from_wire,
    to_dict,
)
from aiway.actors.protocol.framing import (
    PRE_AUTH_FRAME_BYTES,
    FrameDecoder,
    FrameError,
    encode_frame,
)
from aiway.config import ConfigError, load_settings
from tests.unit.actors.protocol.test_converter import any_message

KNOWN = frozenset(MESSAGE_TYPES.values())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "text", "id", "payload", "seq"]) | st.text(max_size=6),
            inner,
            max_size=4,
        )
    ),
    max_leaves=30,
)


def accept_or_refuse_message(decode: Callable[[Any], object], value: object) -> None:
    try:
        msg = decode(value)
    except ProtocolError:
        return
    assert type(msg) in KNOWN, f"decoded {type(msg).__name__}, which is not a protocol message"
    if isinstance(msg, Published):
        assert type(msg.message) in KNOWN


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_message_or_a_protocol_error(raw: bytes) -> None:
    accept_or_refuse_message(from_wire, raw)


@settings(max_examples=400)
@given(json_values)
def test_any_json_value_is_a_message_or_a_protocol_error(value: object) -> None:
    accept_or_refuse_message(from_dict, value)


@st.composite
def mutated_messages(draw: st.DrawFn) -> object:
    """A valid message's wire dict with one field replaced, dropped or added."""
    data = orjson.loads(orjson.dumps(to_dict(draw(any_message()))))
    keys = [key for key in data if key != "type"]
    action = draw(st.sampled_from(["replace", "drop", "add", "retype"]))
    if action == "replace" and keys:
        data[draw(st.sampled_from(keys))] = draw(json_values)
    elif action == "drop" and keys:
        del data[draw(st.sampled_from(keys))]
    elif action == "add":
        data[draw(st.text(max_size=8))] = draw(json_values)
    else:
        data["type"] = draw(st.sampled_from(sorted(MESSAGE_TYPES)) | st.text(max_size=8))
    return data


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_a_mutated_message_is_a_message_or_a_protocol_error(data: object) -> None:
    accept_or_refuse_message(from_dict, data)


def test_deep_nesting_is_a_protocol_error_not_a_recursion_error() -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = {"type": "Token", "text": deep}
    accept_or_refuse_message(from_dict, deep)
    accept_or_refuse_message(from_wire, b"[" * 100_000 + b"]" * 100_000)


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=64), max_size=30))
def test_the_pre_handshake_decoder_holds_no_more_than_its_limit(chunks: list[bytes]) -> None:
    decoder = FrameDecoder(PRE_AUTH_FRAME_BYTES)
    for chunk in chunks:
        try:
            frames = decoder.feed(chunk)
        except FrameError:
            return
        assert all(len(frame) <= PRE_AUTH_FRAME_BYTES for frame in frames)
        assert decoder.pending <= PRE_AUTH_FRAME_BYTES + 4


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=5), st.data())
def test_frames_split_anywhere_come_out_whole_and_in_order(
    payloads: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    decoder = FrameDecoder(1 << 16)
    out: list[bytes] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += decoder.feed(stream[start:end])
    assert out == payloads


toml_text = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "model",
                    "backend",
                    "[ollama]",
                    "host",
                    "[daemon]",
                    "max_frame_bytes",
                    "[conversation]",
                    "max_queued",
                    "[tui]",
                    "theme",
                    "x",
                ]
            ),
            st.sampled_from(
                [
                    '"qwen"',
                    "1",
                    "-1",
                    "1e999",
                    '"auto"',
                    "true",
                    "[1, 2]",
                    '"0.0.0.0"',
                    "{a = 1}",
                    '"\\u001b[2J"',
                    "99999999999999999999",
                ]
            ),
        ),
        max_size=8,
    ).map(lambda pairs: "\n".join(k if k.startswith("[") else f"{k} = {v}" for k, v in pairs)),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(toml_text)
def test_any_config_file_loads_or_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_settings(config_path=path, env={})
    except ConfigError as exc:
        assert str(exc)

"""Every protocol message round-trips through the one converter; bad input is named."""

from __future__ import annotations

import enum
import math
from types import UnionType
from typing import Any, Union, get_args, get_origin

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiway.actors.protocol import (
    MESSAGE_TYPES,
    ProtocolError,
    Published,
    Token,
    avatar,
    conductor,
    from_wire,
    link,
    registry,
    stream,
    surface,
    tasks,
    to_dict,
    to_wire,
)
from aiway.actors.runtime.ref import ActorRef

finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
simple = st.sampled_from([t for name, t in sorted(MESSAGE_TYPES.items()) if name != "Published"])


def message_strategy(kind: Any) -> st.SearchStrategy[Any]:
    """Any value of a field's type, as JSON can carry it (finite floats, 64-bit ints)."""
    origin, args = get_origin(kind), get_args(kind)
    if kind is object:
        return st.builds(Token, st.text(), st.text())
    if kind is int:
        return st.integers(-(2**63), 2**63 - 1)
    if kind is float:
        return finite_floats
    if kind in (str, bool, bytes):
        return st.from_type(kind)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return st.sampled_from(list(kind))
    if origin in (Union, UnionType):
        return st.one_of(*(st.none() if a is type(None) else message_strategy(a) for a in args))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(message_strategy(args[0]), max_size=3).map(tuple)
        return st.tuples(*(message_strategy(a) for a in args))
    if origin is frozenset:
        return st.frozensets(message_strategy(args[0]), max_size=3)
    if attrs.has(kind):
        attrs.resolve_types(kind)
        return st.builds(kind, **{f.name: message_strategy(f.type) for f in attrs.fields(kind)})
    raise TypeError(f"no strategy for {kind!r}")


@st.composite
def any_message(draw: st.DrawFn) -> object:
    kind = draw(simple)
    msg = draw(message_strategy(kind))
    if draw(st.booleans()):
        return Published(draw(st.integers(0, 2**53)), msg)
    return msg


@settings(max_examples=300)
@given(any_message())
def test_every_message_round_trips_through_the_wire_form(msg: object) -> None:
    wire = to_wire(msg)
    assert orjson.loads(wire)["type"] == type(msg).__name__
    assert from_wire(wire) == msg


def test_every_message_type_is_covered() -> None:
    for name in (
        "Token",
        "StreamEnd",
        "StateSnapshot",
        "Handshake",
        "UserMessage",
        "Cancel",
        "AvatarFrame",
        "TaskCreated",
        "Metrics",
        "Quit",
        "ActorFailed",
        "StartStream",
    ):
        assert name in MESSAGE_TYPES


def test_every_protocol_class_has_a_wire_form_unless_it_carries_a_ref() -> None:
    """A message that holds an ActorRef stays in the session's processes; all others round-trip."""
    local = []
    for module in (avatar, conductor, link, registry, stream, surface, tasks):
        for value in vars(module).values():
            if not (isinstance(value, type) and attrs.has(value)):
                continue
            if value.__module__ != module.__name__ or value.__name__ in MESSAGE_TYPES:
                continue
            attrs.resolve_types(value)
            assert any(f.type is ActorRef for f in attrs.fields(value)), value
            local.append(value.__name__)
    assert sorted(local) == [
        "GetStreamingText",
        "GetSurfaceStats",
        "ListMembers",
        "ListModels",
        "RegisterSurface",
    ]


def test_published_payload_is_tagged() -> None:
    data = to_dict(Published(7, Token("m1", "hola")))
    assert data == {
        "type": "Published",
        "seq": 7,
        "message": {"type": "Token", "message_id": "m1", "text": "hola"},
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"text": "x"}', "unknown message type None"),
        (b'{"type": "Nope"}', "unknown message type 'Nope'"),
        (b'{"type": "Token", "text": "x"}', "bad fields for Token"),
        (b'{"type": "State", "state": "dancing"}', "bad fields for State"),
    ],
)
def test_bad_input_raises_a_protocol_error_naming_the_problem(raw: bytes, expected: str) -> None:
    with pytest.raises(ProtocolError, match=expected):
        from_wire(raw)


def test_floats_survive_exactly() -> None:
    from aiway.actors.protocol import ResponseMetadata

    meta = ResponseMetadata(model="m", elapsed_ms=math.pi, tokens=3, tokens_per_second=1 / 3)
    assert from_wire(to_wire(meta)) == meta

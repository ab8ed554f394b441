"""The Thespian boundary's codec and ``BehaviourSpec``: the wire form, refs as address slots."""

from __future__ import annotations

import contextlib
import sys

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.conductor import Conductor, ConductorSettings
from aiway.actors.protocol import ProtocolError, Published, Token, to_wire
from aiway.actors.registry import GetSurfaceStats, RegisterSurface, SurfaceStats
from aiway.actors.runtime import ActorRef, Behaviour
from aiway.actors.runtime.thespian import BehaviourSpec, SpecError
from aiway.actors.runtime.thespian.wire import decode, decode_spec, encode, encode_spec
from aiway.actors.stream_manager import StreamManager


class Book:
    """Both sides of the codec for tests: a ref's address is looked up by name."""

    def __init__(self, addresses: dict[str, object | None]) -> None:
        self.addresses = addresses
        self.rebuilt: list[tuple[str, object | None]] = []

    def address_of(self, ref: ActorRef) -> object | None:
        return self.addresses[ref.name]

    def ref_at(self, name: str, address: object | None) -> ActorRef:
        self.rebuilt.append((name, address))
        return ActorRef(name, None, lambda n, m: None)


def ref(name: str) -> ActorRef:
    return ActorRef(name, None, lambda n, m: None)


def test_a_protocol_message_is_its_one_wire_form() -> None:
    msg = Published(7, Token("a1", "hola ñandú"))
    data, refs = encode(msg, Book({}))
    assert data == to_wire(msg)
    assert refs == ()
    assert decode(data, refs, Book({})) == msg


def test_refs_travel_as_named_slots_beside_the_bytes() -> None:
    here, there = object(), object()
    book = Book({"surface:a": here, "surface:b": there})
    msg = RegisterSurface("a", ref("surface:a"), "headless", frozenset({"streaming"}))
    data, refs = encode(msg, book)
    assert refs == (here,)
    document = orjson.loads(data)
    assert document["type"] == "aiway.actors.protocol.registry:RegisterSurface"
    assert document["ref"] == {"name": "surface:a", "slot": 0}
    back = decode(data, refs, book)
    assert back == msg
    assert book.rebuilt == [("surface:a", here)]


def test_a_ref_of_a_stopped_actor_decodes_to_a_dead_ref() -> None:
    book = Book({"gone": None})
    data, refs = encode(GetSurfaceStats(ref("gone")), book)
    assert refs == ()
    decode(data, refs, book)
    assert book.rebuilt == [("gone", None)]


def test_tuples_and_plain_values_round_trip() -> None:
    stats = (SurfaceStats("a", "tui", lag_events=1, resyncs=2, missed=3, lagging=False),)
    for value in (stats, 42, "text", None, 1.5, True):
        data, refs = encode(value, Book({}))
        assert decode(data, refs, Book({})) == value


def test_a_message_without_a_wire_form_is_named() -> None:
    class Local:
        pass

    @attrs.frozen
    class Nested:
        x: int

    with pytest.raises(ProtocolError, match="Local has no wire form"):
        encode(Local(), Book({}))
    with pytest.raises(ProtocolError, match="not importable by name"):
        encode(Nested(1), Book({}))


def test_a_tag_naming_a_module_outside_aiway_is_refused_without_importing_it() -> None:
    data = orjson.dumps({"type": "antigravity:Nothing"})
    with pytest.raises(ProtocolError, match="outside the trusted packages"):
        decode(data, (), Book({}))
    assert "antigravity" not in sys.modules


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_message_or_a_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode(data, (), Book({}))


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(["type", "items", "value", "name", "slot"]), inner)
        ),
        max_leaves=12,
    )
)
def test_any_json_decodes_to_a_message_or_a_protocol_error(document: object) -> None:
    with contextlib.suppress(ProtocolError):
        decode(orjson.dumps(document), (), Book({}))


def test_a_spec_names_its_factory_and_builds_a_new_behaviour_each_call() -> None:
    settings = ConductorSettings(model="tiny")
    spec = BehaviourSpec.of(
        Conductor, settings=settings, registry=ref("registry"), stream_manager=ref("streams")
    )
    assert spec.target == "aiway.actors.conductor:Conductor"
    first, second = spec(), spec()
    assert isinstance(first, Conductor) and first is not second
    assert not spec.edge
    assert BehaviourSpec.of(StreamManager, backend=None, conductor=ref("c")).edge


def test_a_spec_travels_with_its_arguments_converted_by_their_hints() -> None:
    registry, streams = object(), object()
    book = Book({"registry": registry, "streams": streams})
    spec = BehaviourSpec.of(
        Conductor,
        settings=ConductorSettings(model="tiny", max_queued=3),
        registry=ref("registry"),
        stream_manager=ref("streams"),
        avatar=None,
        agents={"x": "X"},
    )
    data, refs = encode_spec(spec, book)
    back = decode_spec(data, refs, book)
    assert back.target == spec.target
    assert back.kwargs["settings"] == ConductorSettings(model="tiny", max_queued=3)
    assert back.kwargs["agents"] == {"x": "X"} and back.kwargs["avatar"] is None
    assert sorted(book.rebuilt, key=lambda r: r[0]) == [
        ("registry", registry),
        ("streams", streams),
    ]
    assert isinstance(back(), Conductor)


def test_a_spec_refuses_closures_and_unknown_arguments() -> None:
    def make() -> Behaviour:
        return Behaviour()

    with pytest.raises(SpecError, match="not importable by name"):
        BehaviourSpec.of(make)
    with pytest.raises(SpecError, match="takes no argument named colour"):
        BehaviourSpec.of(Conductor, colour="red")

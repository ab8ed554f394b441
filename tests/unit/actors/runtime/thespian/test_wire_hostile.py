"""The wire codec against a hostile peer: it builds only aiway's own classes, and fails cleanly.

A decoded spec names the behaviour a cell will build: it must be a
``Behaviour`` subclass defined in a trusted package (``aiway``; the tests
trust ``tests``), reached by its own path, never through a module attribute
into another module, and checked before anything is called. Everything else,
and any malformed input, is a ``ProtocolError``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.conductor import Conductor, ConductorSettings
from aiway.actors.protocol import ProtocolError, Published, Token
from aiway.actors.registry import RegisterSurface
from aiway.actors.runtime import ActorRef
from aiway.actors.runtime.spec import BehaviourSpec
from aiway.actors.runtime.thespian.wire import decode, decode_spec, encode, encode_spec


class Book:
    def address_of(self, ref: ActorRef) -> object | None:
        return ref.name

    def ref_at(self, name: str, address: object | None) -> ActorRef:
        return ActorRef(name, None, lambda n, m: None)


def spec_bytes(target: str, **kwargs: Any) -> bytes:
    return orjson.dumps({"target": target, "kwargs": kwargs})


def test_a_spec_naming_os_system_is_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(ProtocolError):
        spec = decode_spec(spec_bytes("os:system", command=f"touch {marker}"), (), Book())
        spec()  # what a cell does with a decoded spec
    assert not marker.exists()


@pytest.mark.parametrize(
    "target",
    [
        "aiway.actors.runtime.spec:importlib.import_module",  # through a module attribute
        "aiway.actors.runtime.thespian.config:os.system",
        "aiway.actors.runtime.thespian.config:ThespianSystem",  # a class from elsewhere
        "aiway.actors.runtime.spec:resolve",  # an aiway function, not a Behaviour
        "aiway.actors.conductor:ConductorSettings",  # an aiway class, not a Behaviour
        "aiway.actors.runtime.behaviour:Behaviour.__subclasses__",
        "aiway.__main__:main",
        "subprocess:Popen",
    ],
)
def test_a_spec_may_name_only_a_behaviour_class_defined_in_aiway(target: str) -> None:
    with pytest.raises(ProtocolError):
        decode_spec(spec_bytes(target), (), Book())


def test_a_spec_target_outside_trusted_packages_is_not_imported() -> None:
    with pytest.raises(ProtocolError):
        decode_spec(spec_bytes("antigravity:Fly"), (), Book())
    assert "antigravity" not in sys.modules


def test_a_message_tag_may_not_walk_through_a_module() -> None:
    data = orjson.dumps({"type": "aiway.actors.runtime.thespian.wire:attrs.Attribute"})
    with pytest.raises(ProtocolError):
        decode(data, (), Book())


@pytest.mark.parametrize(
    "document",
    [
        {},
        [],
        "x",
        {"target": "aiway.actors.conductor:Conductor"},
        {"kwargs": {}},
        {"target": 5, "kwargs": {}},
        {"target": "aiway.actors.conductor:Conductor", "kwargs": []},
        {"target": "aiway.actors.conductor:Conductor", "kwargs": {"settings": 5}},
        {"target": "aiway.actors.conductor:Conductor", "kwargs": {"nope": 1}},
    ],
)
def test_a_malformed_spec_is_a_protocol_error(document: object) -> None:
    with pytest.raises(ProtocolError):
        decode_spec(orjson.dumps(document), (), Book())


def test_malformed_spec_bytes_are_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decode_spec(b"{not json", (), Book())


def test_deep_nesting_is_a_protocol_error_not_a_recursion_error() -> None:
    depth = 500  # within what orjson parses (1024), beyond what recursion survives
    data = b'{"type":"tuple","items":[' * depth + b'{"type":"value","value":1}' + b"]}" * depth
    with pytest.raises(ProtocolError):
        decode(data, (), Book())


def valid_messages() -> list[bytes]:
    book = Book()
    spec = BehaviourSpec.of(
        Conductor,
        settings=ConductorSettings(model="tiny"),
        registry=ActorRef("registry", None, lambda n, m: None),
        stream_manager=ActorRef("streams", None, lambda n, m: None),
    )
    surface = ActorRef("surface:a", None, lambda n, m: None)
    return [
        encode_spec(spec, book)[0],
        encode(Published(3, Token("a", "hi")), book)[0],
        encode(RegisterSurface("a", surface, "t", frozenset({"streaming"})), book)[0],
        encode((1, "x", None), book)[0],
    ]


VALID = valid_messages()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "items", "value", "target", "kwargs", "name", "slot"])
            | st.text(max_size=8),
            inner,
            max_size=4,
        )
    ),
    max_leaves=16,
)


def mutate(document: Any, path: list[int], replacement: Any) -> Any:
    """``document`` with the node that ``path`` picks (by index, wrapping) replaced."""
    if not path or not isinstance(document, dict | list) or not document:
        return replacement
    if isinstance(document, dict):
        key = sorted(document)[path[0] % len(document)]
        return {**document, key: mutate(document[key], path[1:], replacement)}
    index = path[0] % len(document)
    changed = mutate(document[index], path[1:], replacement)
    return [*document[:index], changed, *document[index + 1 :]]


def decodes_cleanly(data: bytes) -> None:
    for decoder in (decode, decode_spec):
        with contextlib.suppress(ProtocolError):
            result = decoder(data, ("slot0",), Book())
            if decoder is decode_spec:
                assert isinstance(result, BehaviourSpec)


@given(json_values)
def test_any_json_value_decodes_to_a_message_or_a_protocol_error(document: object) -> None:
    with contextlib.suppress(TypeError):  # orjson: integers beyond 64 bits
        decodes_cleanly(orjson.dumps(document))


@given(
    st.sampled_from(VALID),
    st.lists(st.integers(0, 16), max_size=5),
    json_values,
)
def test_a_mutated_valid_message_decodes_to_a_message_or_a_protocol_error(
    data: bytes, path: list[int], replacement: object
) -> None:
    document = mutate(orjson.loads(data), path, replacement)
    with contextlib.suppress(TypeError):
        decodes_cleanly(orjson.dumps(document))


@given(st.sampled_from(VALID), st.integers(0, 400), st.binary(min_size=1, max_size=4))
def test_valid_bytes_cut_or_spliced_decode_to_a_message_or_a_protocol_error(
    data: bytes, at: int, splice: bytes
) -> None:
    decodes_cleanly(data[:at] + splice + data[at:])
    decodes_cleanly(data[:at])

"""The one converter: every protocol message to its wire form (tagged JSON) and back.

The wire form of a message is a JSON object whose ``type`` field names the
message class; nested messages (``Published.message``) are tagged the same
way. Decoding errors raise ``ProtocolError`` naming what was wrong and where.
"""

from __future__ import annotations

import attrs
import cattrs
import orjson
from cattrs.preconf.orjson import make_converter

from aiway.actors.errors import AiwayError
from aiway.actors.protocol import avatar, conductor, link, registry, stream, surface, tasks
from aiway.actors.protocol.base import WireMessage
from aiway.actors.runtime.messages import ActorFailed


class ProtocolError(AiwayError):
    """A wire message could not be decoded: malformed JSON, unknown type, or bad fields."""


def _collect() -> dict[str, type]:
    found: dict[str, type] = {}
    for module in (avatar, conductor, link, registry, stream, surface, tasks):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, WireMessage)
                and value is not WireMessage
                and attrs.has(value)
            ):
                found[value.__name__] = value
    found[ActorFailed.__name__] = ActorFailed
    return found


MESSAGE_TYPES: dict[str, type] = _collect()
"""Every message class with a wire form, by its ``type`` tag."""

converter = make_converter()


#: a message's wire form before JSON: field names to JSON-ready values
WireDict = dict[str, object]


def _unstructure_tagged(obj: object) -> WireDict:
    kind = type(obj)
    if kind.__name__ not in MESSAGE_TYPES:
        raise ProtocolError(f"{kind.__name__} has no wire form")
    data: WireDict = converter.unstructure(obj, kind)
    data["type"] = kind.__name__
    return data


def _structure_tagged(data: object, _: object) -> object:
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    tag = data.get("type")
    kind = MESSAGE_TYPES.get(tag) if isinstance(tag, str) else None
    if kind is None:
        raise ProtocolError(f"unknown message type {tag!r}")
    fields = {k: v for k, v in data.items() if k != "type"}
    try:
        return converter.structure(fields, kind)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(f"bad fields for {tag}: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc))
    return str(exc)


def _is_open_slot(kind: object) -> bool:
    """Fields typed ``object`` or ``WireMessage`` hold any message: tag them."""
    return kind is object or kind is WireMessage


converter.register_unstructure_hook_func(_is_open_slot, _unstructure_tagged)
converter.register_structure_hook_func(_is_open_slot, _structure_tagged)


def to_dict(msg: object) -> WireDict:
    """The wire form of ``msg`` as a dict with its ``type`` tag."""
    return _unstructure_tagged(msg)


def from_dict(data: object) -> object:
    """Rebuild a message from its wire dict. Raises ``ProtocolError``."""
    return _structure_tagged(data, object)


def to_wire(msg: object) -> bytes:
    """The wire form of ``msg`` as JSON bytes."""
    return orjson.dumps(_unstructure_tagged(msg))


def from_wire(data: bytes | str) -> object:
    """Decode JSON bytes into a message. Raises ``ProtocolError`` on any bad input."""
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    return from_dict(decoded)

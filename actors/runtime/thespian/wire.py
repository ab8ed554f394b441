"""The Thespian host's boundary: messages in the wire form, refs as named address slots.

Every message a behaviour tells across the Thespian boundary is encoded here,
never pickled by us. Protocol messages use the protocol's one converter
(``to_wire``/``from_wire``: the same bytes a remote surface sees). The other
messages actors exchange (``RegisterSurface``, ``ListModels``, a test's
messages) are attrs classes too; they get the same treatment from a converter
that extends it: the ``type`` tag is the class's import path
(``aiway.actors.registry:RegisterSurface``), tuples and plain values are tagged
``tuple`` and ``value``.

An ``ActorRef`` inside a message is written as ``{"name": ..., "slot": i}``:
``i`` indexes the Thespian ``ActorAddress``es that travel beside the bytes in
the ``Envelope`` (``-1``: the ref had no address, its actor had stopped).
Thespian moves addresses itself (it translates them between transports and
machines), so they ride next to the JSON, never inside it. Which address a
ref has, and which ref an address becomes, is the business of each side (a
Thespian cell, or the bridge in the asyncio process): they pass a
``RefEncoder``/``RefDecoder``.

The Thespian message itself (``Envelope``: target name, bytes, addresses) is
pickled by Thespian's transport like every Thespian message.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, Protocol

import attrs
import cattrs
import orjson
from cattrs.preconf.orjson import make_converter

from aiway.actors.protocol import MESSAGE_TYPES, ProtocolError, from_dict, to_wire
from aiway.actors.protocol import to_dict as protocol_to_dict
from aiway.actors.runtime.behaviour import Behaviour
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.spec import (
    BehaviourSpec,
    SpecError,
    argument_hints,
    import_path,
    resolve_class,
)


class RefEncoder(Protocol):
    """How one side turns a ref into a Thespian address."""

    def address_of(self, ref: ActorRef) -> object | None:
        """The address messages for ``ref`` go to; None when its actor has stopped."""
        ...


class RefDecoder(Protocol):
    """How one side turns a name and an address back into a ref."""

    def ref_at(self, name: str, address: object | None) -> ActorRef:
        """A ref that tells ``address`` (a dead ref when ``address`` is None)."""
        ...


class Envelope:
    """One message across the boundary: the target's name, the wire bytes, the ref addresses."""

    __slots__ = ("data", "refs", "to")

    def __init__(self, to: str, data: bytes, refs: tuple[object, ...]) -> None:
        self.to = to
        self.data = data
        self.refs = refs

    def __repr__(self) -> str:
        return f"Envelope(to={self.to!r}, {len(self.data)} bytes, {len(self.refs)} refs)"


class Batch:
    """Several envelopes for one Thespian address, sent as one Thespian message.

    ``origin`` is the sending cell's address when the batch goes to the bridge:
    the bridge tells it when a mailbox of its process rejects what it sent.
    ``stream`` and ``seq`` put what a cell sends to one address in order again at
    the receiver (``Resequencer``): ``stream`` names the sending cell (one id per
    incarnation), ``seq`` counts its batches to that address from 1. None: sent
    from outside any actor (the bridge's driver), whose sends Thespian completes
    one at a time, in order.
    """

    __slots__ = ("envelopes", "origin", "seq", "stream")

    def __init__(
        self,
        envelopes: Sequence[Envelope],
        origin: object | None = None,
        stream: str | None = None,
        seq: int = 0,
    ) -> None:
        self.envelopes = tuple(envelopes)
        self.origin = origin
        self.stream = stream
        self.seq = seq


#: seconds a receiver holds what came after a missing batch before it gives up on it
#: (Thespian retries a transmit with a backoff from 20 ms that doubles; a batch still
#: missing after this is taken as lost, and handed over late should it still come)
GAP_TIMEOUT = 5.0
#: batches a receiver holds per stream at most, waiting for a missing one
GAP_LIMIT = 4096
#: streams a receiver holds batches of at most (then the longest-waiting gap is given up)
STREAMS_LIMIT = 256
#: streams a receiver remembers the count of (one per sending cell's incarnation)
STREAMS_KNOWN = 4096


class Sequencer:
    """The sending side: one stream id, a count of batches per destination address.

    An actor's Thespian sends are not kept in order: when a transmit to an address
    has to be retried (a connection that closed under it, both ends sending on one
    socket at once), Thespian sends the messages queued behind it first, and the
    first arrives after them (seen as ``tok2 tok3 tok1`` on a core just placed
    again). So a cell numbers what it sends to each address, and the receiver puts
    it back in order.
    """

    __slots__ = ("counts", "keys", "stream")

    def __init__(self) -> None:
        self.stream = secrets.token_hex(8)
        self.counts: dict[str, int] = {}
        #: per route: the last address seen and its key (addresses are not hashable)
        self.keys: dict[str, tuple[object, str]] = {}

    def batch(
        self,
        route: str,
        address: object,
        envelopes: Sequence[Envelope],
        origin: object | None = None,
    ) -> Batch:
        """``envelopes`` for ``address`` as the next batch of this stream to it."""
        known = self.keys.get(route)
        if known is not None and known[0] is address:
            key = known[1]
        else:
            key = str(address)
            self.keys[route] = (address, key)
        seq = self.counts.get(key, 0) + 1
        self.counts[key] = seq
        return Batch(envelopes, origin, self.stream, seq)


class Resequencer:
    """The receiving side: hands over each stream's batches in the order they were sent.

    A batch that comes before one it follows is held until that one arrives; a gap
    that stays open ``gap_timeout`` seconds (the missing batch was lost: its
    transmit failed) is skipped, and a batch that still comes after that is handed
    over at once. Batches with no stream pass straight through.
    """

    __slots__ = ("gap_timeout", "held", "next", "skipped")

    def __init__(self, gap_timeout: float = GAP_TIMEOUT) -> None:
        self.gap_timeout = gap_timeout
        #: per stream: the seq handed over next
        self.next: dict[str, int] = {}
        #: per stream: batches waiting for an earlier one, and since when it waits
        self.held: dict[str, tuple[float, dict[int, Batch]]] = {}
        #: gaps given up on (their batch never came within the timeout)
        self.skipped = 0

    def accept(self, batch: Batch, now: float) -> list[Batch]:
        """The batches that can be handed over now, in order (``batch`` among them or not)."""
        stream = batch.stream
        seq = batch.seq
        if type(stream) is not str or type(seq) is not int:  # unnumbered (or malformed)
            return [batch]
        expected = self.next.get(stream, 1)
        if seq < expected:  # late, after its gap was skipped: better late than lost
            return [batch]
        if seq > expected:
            since, waiting = self.held.get(stream) or (now, {})
            waiting[seq] = batch
            self.held[stream] = (since, waiting)
            if len(waiting) > GAP_LIMIT:
                return self._skip(stream, now)
            if len(self.held) > STREAMS_LIMIT:  # bounded: the longest-waiting gap goes
                oldest = min(self.held, key=lambda name: self.held[name][0])
                return self._skip(oldest, now)
            return []
        ready = [batch]
        expected += 1
        entry = self.held.get(stream)
        if entry is not None:
            waiting = entry[1]
            while expected in waiting:
                ready.append(waiting.pop(expected))
                expected += 1
            if waiting:
                self.held[stream] = (now, waiting)  # the next gap waits from now
            else:
                del self.held[stream]
        self.next[stream] = expected
        if len(self.next) > STREAMS_KNOWN:  # bounded: forget streams with nothing held
            self.next = {k: v for k, v in self.next.items() if k in self.held or k == stream}
        return ready

    def overdue(self, now: float) -> list[Batch]:
        """Batches behind a gap open longer than the timeout, the gap skipped."""
        ready: list[Batch] = []
        for stream, (since, _) in list(self.held.items()):
            if now - since >= self.gap_timeout:
                ready.extend(self._skip(stream, now))
        return ready

    def wait(self, now: float) -> float | None:
        """Seconds until the next gap is overdue; None when nothing is held."""
        if not self.held:
            return None
        oldest = min(since for since, _ in self.held.values())
        return max(0.0, oldest + self.gap_timeout - now)

    def _skip(self, stream: str, now: float) -> list[Batch]:
        """Give up on the gap of ``stream``: hand over what it held up to the next gap."""
        self.skipped += 1
        _, waiting = self.held.pop(stream)
        expected = min(waiting)
        ready: list[Batch] = []
        while expected in waiting:
            ready.append(waiting.pop(expected))
            expected += 1
        self.next[stream] = expected
        if waiting:  # another gap: the rest waits behind it, from now
            self.held[stream] = (now, waiting)
        return ready


class _Writing:
    __slots__ = ("addresses", "encoder")

    def __init__(self, encoder: RefEncoder) -> None:
        self.encoder = encoder
        self.addresses: list[object] = []

    def slot(self, ref: ActorRef) -> int:
        address = self.encoder.address_of(ref)
        if address is None:
            return -1
        for index, known in enumerate(self.addresses):
            if known is address:
                return index
        self.addresses.append(address)
        return len(self.addresses) - 1


class _Reading:
    __slots__ = ("addresses", "decoder")

    def __init__(self, decoder: RefDecoder, addresses: Sequence[object]) -> None:
        self.decoder = decoder
        self.addresses = addresses

    def ref(self, data: Any) -> ActorRef:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ProtocolError(f"a ref must be an object with a name, got {data!r}")
        slot = data.get("slot", -1)
        if not isinstance(slot, int) or slot >= len(self.addresses):
            raise ProtocolError(
                f"ref {data['name']!r} names slot {slot!r} of {len(self.addresses)}"
            )
        return self.decoder.ref_at(data["name"], self.addresses[slot] if slot >= 0 else None)


_writing: ContextVar[_Writing] = ContextVar("aiway_wire_writing")
_reading: ContextVar[_Reading] = ContextVar("aiway_wire_reading")

converter = make_converter()
"""The boundary converter: the protocol's rules plus refs and import-path tags."""


def _unstructure_ref(ref: ActorRef) -> dict[str, Any]:
    try:
        writing = _writing.get()
    except LookupError:
        raise ProtocolError(f"{ref!r} can only be encoded while sending a message") from None
    return {"name": ref.name, "slot": writing.slot(ref)}


def _structure_ref(data: Any, _: Any) -> ActorRef:
    try:
        reading = _reading.get()
    except LookupError:
        raise ProtocolError("a ref can only be decoded while receiving a message") from None
    return reading.ref(data)


def _is_open_slot(kind: Any) -> bool:
    return kind is object


_VALUES = (int, float, str, bool, type(None))


def to_dict(msg: object) -> Any:
    """The tagged wire dict of any message the boundary can carry."""
    kind = type(msg)
    if MESSAGE_TYPES.get(kind.__name__) is kind:
        return protocol_to_dict(msg)
    if attrs.has(kind):
        try:
            tag = import_path(kind)
        except SpecError as exc:
            raise ProtocolError(str(exc)) from None
        data: dict[str, Any] = converter.unstructure(msg, kind)
        data["type"] = tag
        return data
    if kind is tuple or kind is list:
        return {"type": "tuple", "items": [to_dict(item) for item in msg]}  # type: ignore[attr-defined]
    if kind in _VALUES:
        return {"type": "value", "value": msg}
    raise ProtocolError(
        f"{kind.__name__} has no wire form: messages across the Thespian boundary are "
        "protocol messages, attrs classes, tuples of them, or plain values"
    )


def from_dict_any(data: Any) -> object:
    """Rebuild any message from its tagged wire dict. Raises ``ProtocolError``."""
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    tag = data.get("type")
    if tag == "value":
        return data.get("value")
    if tag == "tuple":
        items = data.get("items")
        if not isinstance(items, list):
            raise ProtocolError("a tuple needs a list of items")
        return tuple(from_dict_any(item) for item in items)
    if isinstance(tag, str) and ":" in tag:
        try:
            kind = resolve_class(tag)
        except SpecError as exc:
            raise ProtocolError(str(exc)) from None
        if not attrs.has(kind):
            raise ProtocolError(f"{tag} is not an attrs message class")
        fields = {k: v for k, v in data.items() if k != "type"}
        try:
            return converter.structure(fields, kind)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            if isinstance(exc, cattrs.BaseValidationError):
                reason = "; ".join(cattrs.transform_error(exc))
            else:
                reason = str(exc)
            raise ProtocolError(f"bad fields for {tag}: {reason}") from None
    return from_dict(data)


def _structure_open_slot(data: Any, _: Any) -> object:
    return from_dict_any(data)


converter.register_unstructure_hook(ActorRef, _unstructure_ref)
converter.register_structure_hook(ActorRef, _structure_ref)
converter.register_unstructure_hook_func(_is_open_slot, to_dict)
converter.register_structure_hook_func(_is_open_slot, _structure_open_slot)


def encode(msg: object, refs: RefEncoder) -> tuple[bytes, tuple[object, ...]]:
    """The wire bytes of ``msg`` and the addresses its refs point at."""
    kind = type(msg)
    if MESSAGE_TYPES.get(kind.__name__) is kind:  # the common case: no refs inside
        return to_wire(msg), ()
    writing = _Writing(refs)
    token = _writing.set(writing)
    try:
        data = orjson.dumps(to_dict(msg))
    finally:
        _writing.reset(token)
    return data, tuple(writing.addresses)


def decode(data: bytes, addresses: Sequence[object], refs: RefDecoder) -> object:
    """The message of ``data``; its refs are rebuilt by ``refs``. Raises ``ProtocolError``.

    Only ``ProtocolError`` leaves it, whatever the bytes: malformed JSON,
    nesting too deep, missing or mistyped fields, a tag naming anything but
    an attrs class defined in a trusted package (see ``spec.resolve_class``).
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    token = _reading.set(_Reading(refs, addresses))
    try:
        return from_dict_any(document)
    except ProtocolError:
        raise
    except _MALFORMED as exc:
        raise ProtocolError(f"malformed message: {_reason(exc)}") from None
    finally:
        _reading.reset(token)


#: what decoding hostile input can raise besides ProtocolError (all become one)
_MALFORMED = (
    cattrs.BaseValidationError,
    RecursionError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deep"
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc))[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def encode_spec(spec: BehaviourSpec, refs: RefEncoder) -> tuple[bytes, tuple[object, ...]]:
    """A spec's wire form: its import path and each argument converted by its type hint."""
    hints = spec.hints()
    writing = _Writing(refs)
    token = _writing.set(writing)
    try:
        arguments = {
            name: converter.unstructure(value, unstructure_as=hints[name])
            for name, value in spec.kwargs.items()
        }
        data = orjson.dumps({"target": spec.target, "kwargs": arguments})
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise SpecError(f"an argument of {spec.target} has no wire form: {exc}") from None
    finally:
        _writing.reset(token)
    return data, tuple(writing.addresses)


def decode_spec(data: bytes, addresses: Sequence[object], refs: RefDecoder) -> BehaviourSpec:
    """Rebuild a spec (its refs through ``refs``). Raises ``ProtocolError``, and only that.

    The target must be a ``Behaviour`` subclass defined in a trusted package
    (``spec.resolve_class``): checked before anything is called, so a spec
    can build nothing else.
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed spec JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ProtocolError(f"a spec is a JSON object, got {type(document).__name__}")
    target, kwargs = document.get("target"), document.get("kwargs")
    if not isinstance(target, str) or not isinstance(kwargs, dict):
        raise ProtocolError("a spec needs a target (a string) and kwargs (an object)")
    try:
        factory = resolve_class(target, Behaviour)
        hints = argument_hints(factory, kwargs)
    except SpecError as exc:
        raise ProtocolError(str(exc)) from None
    parameters = inspect.signature(factory).parameters
    unknown = sorted(name for name in kwargs if name not in parameters)
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        raise ProtocolError(f"{target} takes no argument named {', '.join(unknown)[:200]}")
    token = _reading.set(_Reading(refs, addresses))
    try:
        values = {name: converter.structure(value, hints[name]) for name, value in kwargs.items()}
    except ProtocolError:
        raise
    except _MALFORMED as exc:
        raise ProtocolError(f"bad arguments for {target}: {_reason(exc)}") from None
    finally:
        _reading.reset(token)
    return BehaviourSpec(target, values)


def encode_plain(value: object) -> bytes:
    """Wire bytes of a ref-free attrs value (a policy, a mailbox config, stats)."""
    return orjson.dumps(converter.unstructure(value))


def decode_plain(data: bytes, kind: type[Any]) -> Any:
    """The inverse of ``encode_plain``."""
    return converter.structure(orjson.loads(data), kind)

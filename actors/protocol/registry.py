"""Messages to the SurfaceRegistry from the session's own actors, and its answers.

Surfaces attach and detach (``RegisterSurface``, ``UnregisterSurface``), a
lagging outbox drains (``SurfaceDrained``), a remote surface's raw input
arrives (``SurfaceInput``), the Conductor resets what snapshots hold
(``ClearHistory``, ``RestoreHistory``), and anyone may ask for figures
(``GetSurfaceStats``) or the answer in flight (``GetStreamingText``).

Messages that carry an ``ActorRef`` never leave the session's processes, so
they have no surface wire form (they are not ``WireMessage``s): across the
Thespian boundary its codec carries them, refs beside the bytes. The others
round-trip through the one converter like every message.
"""

from __future__ import annotations

import attrs

from aiway.actors.protocol.base import WireMessage
from aiway.actors.protocol.conductor import HistoryEntry
from aiway.actors.runtime.ref import ActorRef


@attrs.frozen(slots=True)
class RegisterSurface:
    """Attach a surface actor; the registry answers it with a ``StateSnapshot``."""

    surface_id: str
    ref: ActorRef
    surface_type: str
    capabilities: frozenset[str]


@attrs.frozen(slots=True)
class UnregisterSurface(WireMessage):
    """Detach a surface."""

    surface_id: str
    reason: str = ""


@attrs.frozen(slots=True)
class SurfaceDrained(WireMessage):
    """A lagging surface's outbox fell to its low watermark: resync it."""

    surface_id: str


@attrs.frozen(slots=True)
class SurfaceInput(WireMessage):
    """Raw wire bytes from a (remote) surface, decoded and checked by the registry."""

    surface_id: str
    data: bytes


@attrs.frozen(slots=True)
class SurfaceStats(WireMessage):
    """Per-surface fan-out counters (what its outbox took is in its mailbox stats)."""

    surface_id: str
    surface_type: str
    lag_events: int
    resyncs: int
    missed: int
    lagging: bool


@attrs.frozen(slots=True)
class GetSurfaceStats:
    """Ask for every surface's ``SurfaceStats`` (a tuple is told to ``reply_to``)."""

    reply_to: ActorRef


@attrs.frozen(slots=True)
class GetStreamingText:
    """Ask for the answer in flight: a ``StreamingText`` is told to ``reply_to``.

    How a surface that takes no tokens (the history's Store actor) reads an
    answer's text while it streams, a few times a second instead of per token.
    """

    reply_to: ActorRef


@attrs.frozen(slots=True)
class StreamingText(WireMessage):
    """The answer in flight and its clean text so far (``message_id`` None: none streams)."""

    message_id: str | None
    text: str = ""


@attrs.frozen(slots=True)
class ClearHistory(WireMessage):
    """The conversation was cleared: snapshots start empty."""


@attrs.frozen(slots=True)
class RestoreHistory(WireMessage):
    """A saved session became the conversation (or a new one began): every surface is resynced.

    ``history`` is its visible tail; ``tasks`` the events of its open task cards.
    """

    history: tuple[HistoryEntry, ...]
    tasks: tuple[object, ...] = ()

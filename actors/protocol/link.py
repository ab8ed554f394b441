"""Messages of the daemon link itself: acceptance, refusal, heartbeats, and the link's state.

These travel between ``aiway serve`` and a surface attached from another
process (see docs/DAEMON.md), beside the session's own messages. ``Welcome``
and ``Refused`` answer a ``Handshake``; ``Ping`` and ``Pong`` go both ways to
tell a live peer from a dead one. ``LinkStatus`` never crosses the wire: the
client transport tells it to its local surface so the person sees
"reconnecting" while the daemon is away.
"""

from __future__ import annotations

import enum

import attrs

from aiway.actors.protocol.base import WireMessage


class RefusalCode:
    """Why the daemon refused a connection or dropped it (strings, readable on the wire)."""

    VERSION = "version"  #: the surface speaks another protocol version
    TOKEN = "token"  #: a TCP peer's token is missing or wrong
    PEER = "peer"  #: a Unix peer runs as another user
    HANDSHAKE = "handshake"  #: no handshake in time, or a message before it
    MALFORMED = "malformed"  #: bad JSON, unknown type, bad fields, or a type a surface may not send
    OVERSIZE = "oversize"  #: a frame longer than the daemon's limit
    RATE = "rate"  #: more messages than the rate limit allows
    BUSY = "busy"  #: the daemon has as many connections as it accepts
    STOPPING = "stopping"  #: the daemon is shutting down

    #: refusals that will not go away by trying again with the same settings
    PERMANENT = frozenset({VERSION, TOKEN, PEER, HANDSHAKE, MALFORMED, OVERSIZE})


@attrs.frozen(slots=True)
class Welcome(WireMessage):
    """The daemon accepted a handshake: the surface's id and the daemon's heartbeat interval."""

    surface_id: str
    heartbeat_interval: float
    protocol_version: int


@attrs.frozen(slots=True)
class Refused(WireMessage):
    """The daemon refuses a connection or drops it for bad input; it closes after this frame."""

    code: str
    reason: str


@attrs.frozen(slots=True)
class Ping(WireMessage):
    """A heartbeat; the peer answers with a ``Pong`` carrying the same ``nonce``."""

    nonce: int = 0


@attrs.frozen(slots=True)
class Pong(WireMessage):
    """The answer to a ``Ping``."""

    nonce: int = 0


class LinkState(enum.Enum):
    """Where a surface's link to the daemon stands."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@attrs.frozen(slots=True)
class LinkStatus(WireMessage):
    """The client transport's state, told to its local surface (never sent to the daemon).

    ``attempt`` counts connection attempts since the link was last up;
    ``retry_in`` is the delay before the next one, while reconnecting.
    """

    state: LinkState
    address: str
    detail: str = ""
    attempt: int = 0
    retry_in: float | None = None

"""Messages surfaces send to the Conductor (and the registry)."""

from __future__ import annotations

import attrs

from aiway.actors.protocol.base import PROTOCOL_VERSION, WireMessage


class Capability:
    """Capability flags a surface declares (strings, so the wire form stays readable)."""

    COLOR = "color"
    AVATAR = "avatar"
    ANIMATIONS = "animations"
    TASKS = "tasks"
    STREAMING = "streaming"
    RICH_TEXT = "rich_text"
    KEYBOARD = "keyboard"
    METRICS = "metrics"

    ALL = frozenset({COLOR, AVATAR, ANIMATIONS, TASKS, STREAMING, RICH_TEXT, KEYBOARD, METRICS})


@attrs.frozen(slots=True)
class Handshake(WireMessage):
    """First frame of a remote surface: who it is, what it shows, which protocol."""

    surface_type: str
    capabilities: frozenset[str]
    protocol_version: int = PROTOCOL_VERSION
    token: str | None = None
    last_seq: int | None = None


@attrs.frozen(slots=True)
class Connected(WireMessage):
    """A surface attached (local or after a remote handshake)."""

    surface_id: str
    surface_type: str
    capabilities: frozenset[str]


@attrs.frozen(slots=True)
class UserMessage(WireMessage):
    """The person sent text."""

    text: str
    surface_id: str = ""


@attrs.frozen(slots=True)
class UserCommand(WireMessage):
    """The person typed a slash command (``command`` without the slash)."""

    command: str
    args: str = ""
    surface_id: str = ""


@attrs.frozen(slots=True)
class Cancel(WireMessage):
    """Cancel the answer in flight. A control message: never waits behind tokens."""

    surface_id: str = ""
    control = True


@attrs.frozen(slots=True)
class UserTyping(WireMessage):
    """The person is typing (or stopped)."""

    typing: bool
    surface_id: str = ""


@attrs.frozen(slots=True)
class Resized(WireMessage):
    """The surface's size changed (cells)."""

    width: int
    height: int
    surface_id: str = ""


@attrs.frozen(slots=True)
class Disconnected(WireMessage):
    """A surface detached."""

    surface_id: str
    reason: str = ""


@attrs.frozen(slots=True)
class QuitRequested(WireMessage):
    """The person asked to quit. A control message."""

    surface_id: str = ""
    control = True

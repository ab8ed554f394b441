"""Messages to the StreamManager (an answer's stream, the models, a pull) and its answers.

``ListModels`` and ``ListMembers`` carry a ref: they stay in the session's
processes, so they are not ``WireMessage``s (the Thespian codec carries them,
refs beside the bytes).
"""

from __future__ import annotations

import attrs

from aiway.actors.protocol.base import WireMessage
from aiway.actors.protocol.conductor import ResponseMetadata
from aiway.actors.runtime.ref import ActorRef


@attrs.frozen(slots=True)
class ChatTurn(WireMessage):
    """One message of the context sent to the model."""

    role: str
    content: str


@attrs.frozen(slots=True)
class StartStream(WireMessage):
    """Ask the backend for an answer to ``messages`` (system prompt, history, new message)."""

    request_id: str
    model: str
    messages: tuple[ChatTurn, ...]


@attrs.frozen(slots=True)
class CancelStream(WireMessage):
    """Stop one stream now. A control message."""

    request_id: str
    control = True


@attrs.frozen(slots=True)
class StreamChunk(WireMessage):
    """Raw model text of one stream (tags still in). Consecutive chunks merge."""

    request_id: str
    text: str

    def merge(self, newer: StreamChunk) -> StreamChunk | None:
        if newer.request_id != self.request_id:
            return None
        return StreamChunk(self.request_id, self.text + newer.text)


@attrs.frozen(slots=True)
class StreamDone(WireMessage):
    """A stream ended normally (or was cancelled: ``metadata.done_reason == 'cancelled'``)."""

    request_id: str
    metadata: ResponseMetadata


@attrs.frozen(slots=True)
class StreamFailed(WireMessage):
    """A stream failed; ``error`` says what and what to do."""

    request_id: str
    error: str
    metadata: ResponseMetadata


@attrs.frozen(slots=True)
class ListModels:
    """Ask for the backend's installed models; ``ModelList`` is told to ``reply_to``."""

    reply_to: ActorRef


@attrs.frozen(slots=True)
class ModelList(WireMessage):
    """Installed models, or the error that prevented listing them."""

    models: tuple[str, ...]
    error: str = ""


@attrs.frozen(slots=True)
class ListMembers:
    """Ask the session's process where its actors run (``/members``): the convention's
    members and which actor lives on which; ``MemberList`` is told to ``reply_to``."""

    reply_to: ActorRef


@attrs.frozen(slots=True)
class MemberList(WireMessage):
    """Where the session's actors run, as lines to show (the first says what it is)."""

    lines: tuple[str, ...]


@attrs.frozen(slots=True)
class PullModel(WireMessage):
    """Pull ``name`` into the backend (Ollama); ``Progress`` then ``PullEnded`` come back."""

    name: str


@attrs.frozen(slots=True)
class CancelPull(WireMessage):
    """Stop the pull in flight now. A control message."""

    control = True


@attrs.frozen(slots=True)
class PullEnded(WireMessage):
    """A pull ended: ``error`` empty when it succeeded; ``cancelled`` when it was stopped."""

    name: str
    error: str = ""
    cancelled: bool = False

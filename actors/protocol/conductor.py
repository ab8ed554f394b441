"""Messages the Conductor (through the registry) sends to surfaces."""

from __future__ import annotations

import enum

import attrs

from aiway.actors.protocol.avatar import Anchor, Animation, AvatarSize, Gesture, Mood, Reaction
from aiway.actors.protocol.base import WireMessage
from aiway.actors.runtime.mailbox import MailboxStats


class Role(enum.Enum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class ConversationState(enum.Enum):
    INITIALIZING = "initializing"
    READY = "ready"
    THINKING = "thinking"
    RESPONDING = "responding"
    LISTENING = "listening"
    ERROR = "error"
    SHUTTING_DOWN = "shutting_down"


class AnswerStatus(enum.Enum):
    """How an answer ended."""

    COMPLETE = "complete"
    CANCELLED = "cancelled"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class NotifyLevel(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@attrs.frozen(slots=True)
class ResponseMetadata(WireMessage):
    """Figures of one answer. ``tokens`` is the model's eval count when reported, else chunks."""

    model: str = ""
    backend: str = ""
    elapsed_ms: float = 0.0
    ttft_ms: float | None = None
    tokens: int = 0
    tokens_per_second: float = 0.0
    prompt_tokens: int | None = None
    done_reason: str | None = None


@attrs.frozen(slots=True)
class Message(WireMessage):
    """A whole message: the user's text, a system note, or an answer about to stream."""

    id: str
    role: Role
    content: str
    content_type: str = "text"


@attrs.frozen(slots=True)
class Token(WireMessage):
    """Clean streamed text of one answer. Consecutive tokens of one message merge."""

    message_id: str
    text: str

    def merge(self, newer: Token) -> Token | None:
        if newer.message_id != self.message_id:
            return None
        return Token(self.message_id, self.text + newer.text)


@attrs.frozen(slots=True)
class StreamEnd(WireMessage):
    """An answer ended; ``content`` is the whole clean text (tags stripped)."""

    message_id: str
    content: str
    metadata: ResponseMetadata
    status: AnswerStatus = AnswerStatus.COMPLETE


@attrs.frozen(slots=True)
class StreamError(WireMessage):
    """An answer failed; the partial text is kept and marked."""

    message_id: str
    error: str
    partial: str


@attrs.frozen(slots=True)
class State(WireMessage):
    """The conversation state changed."""

    state: ConversationState


@attrs.frozen(slots=True)
class Progress(WireMessage):
    """How far a long job (a model pull, ``key`` ``pull NAME``) got; ``done`` when it ended.

    ``completed`` and ``total`` are bytes of the part (``part``: a layer's
    digest) being fetched now; 0 when the step has no size.
    """

    key: str
    status: str
    part: str = ""
    completed: int = 0
    total: int = 0
    done: bool = False


@attrs.frozen(slots=True)
class Notify(WireMessage):
    """A notice for the person: info, warning or error.

    With ``progress`` it reports a long job: a surface updates one line in
    place (the status bar) until the notice whose progress is ``done``.
    """

    level: NotifyLevel
    title: str
    text: str
    progress: Progress | None = None


@attrs.frozen(slots=True)
class SurfaceNotice(WireMessage):
    """A notice for one surface only (why its message was refused); the registry delivers it.

    It is not sequenced, mirrored or replayed: it concerns that surface now, no other.
    """

    surface_id: str
    notice: Notify


@attrs.frozen(slots=True)
class SessionInfo(WireMessage):
    """Which session, model and backend are live."""

    session_id: str
    model: str
    backend: str
    backend_reason: str = ""


@attrs.frozen(slots=True)
class AvatarFrame(WireMessage):
    """One avatar frame to paint: a precomputed frame by key, at a cell position.

    ``rows`` are the frame's precomputed colour runs: per row a tuple of
    ``(column, text, colour)`` runs. They are shared, never copied.
    """

    size: AvatarSize
    animation: Animation
    frame: int
    x: int
    y: int
    visible: bool
    rows: tuple[tuple[tuple[int, str, str], ...], ...]

    @property
    def coalesce_key(self) -> str:
        return "avatar"


@attrs.frozen(slots=True)
class AvatarState(WireMessage):
    """The avatar's logical state (mood, size, position, what plays)."""

    mood: Mood = Mood.HAPPY
    size: AvatarSize = AvatarSize.MEDIUM
    anchor: Anchor = Anchor.BOTTOM_RIGHT
    x: int = 100
    y: int = 100
    visible: bool = True
    wandering: bool = True
    animation: Animation = Animation.IDLE
    gesture: Gesture | None = None
    reaction: Reaction | None = None

    @property
    def coalesce_key(self) -> str:
        return "avatar-state"


@attrs.frozen(slots=True)
class HistoryEntry(WireMessage):
    """One finished (or streaming) message of the conversation, for snapshots."""

    id: str
    role: Role
    content: str
    status: AnswerStatus = AnswerStatus.COMPLETE
    metadata: ResponseMetadata | None = None


@attrs.frozen(slots=True)
class StateSnapshot(WireMessage):
    """Everything a surface needs to catch up: recent history, avatar, session, last seq.

    ``streaming`` holds the answer in flight (its clean text so far), if any;
    ``tasks`` the open task cards (``TaskCreated``, then their latest ``TaskUpdated``).
    """

    history: tuple[HistoryEntry, ...]
    state: ConversationState
    session: SessionInfo | None
    avatar: AvatarState | None
    last_seq: int
    streaming: HistoryEntry | None = None
    tasks: tuple[object, ...] = ()


@attrs.frozen(slots=True)
class Metrics(WireMessage):
    """Snapshots of every mailbox; a newer one replaces the queued one."""

    mailboxes: tuple[MailboxStats, ...]
    dead_letters: int = 0
    dropped_tags: int = 0

    @property
    def coalesce_key(self) -> str:
        return "metrics"


@attrs.frozen(slots=True)
class Quit(WireMessage):
    """The session is ending: surfaces close. A control message."""

    reason: str = ""
    control = True


@attrs.frozen(slots=True)
class Published(WireMessage):
    """A message as published to surfaces: one sequence number, one shared payload."""

    seq: int
    message: object

    @property
    def coalesce_key(self) -> object:
        return getattr(self.message, "coalesce_key", None)

    def merge(self, newer: Published) -> Published | None:
        mine = self.message
        theirs = newer.message
        if type(mine) is Token and type(theirs) is Token:
            merged = mine.merge(theirs)
            if merged is not None:
                return Published(newer.seq, merged)
        return None

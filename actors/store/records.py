"""What the store reads and writes: saved sessions, messages and tasks, and the write operations.

Read records (``StoredSession``, ``StoredMessage``, ``StoredTask``,
``LoadedSession``, ``Transcript``) are frozen values handed from the worker
thread to the loop. Write operations are frozen values too: the Store actor
queues them in order and the worker applies one list of them per transaction.
A message is named in writes by a *key*, a number the ``HistoryStore`` hands
out once per process, because the Conductor's message ids are only unique
within one run of it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs
import orjson

from aiway.actors.protocol import AnswerStatus, HistoryEntry, ResponseMetadata, Role, TaskStatus


class MessageState(enum.Enum):
    """A stored message's state: an answer's ``AnswerStatus``, or still streaming."""

    STREAMING = "streaming"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    ERROR = "error"
    INTERRUPTED = "interrupted"

    @classmethod
    def of(cls, status: AnswerStatus) -> MessageState:
        return cls(status.value)


@attrs.frozen(slots=True)
class StoredSession:
    """One saved conversation, as ``/sessions`` lists it."""

    id: str
    title: str
    model: str
    system_prompt: str
    #: wall-clock seconds (``time.time()``)
    created: float
    updated: float
    message_count: int


@attrs.frozen(slots=True)
class StoredMessage:
    """One saved message, as an export reads it."""

    seq: int
    role: Role
    content: str
    state: MessageState
    #: the answer's figures (``ResponseMetadata`` fields) and, for a failed one, ``error``
    metadata: dict[str, object] | None
    created: float


@attrs.frozen(slots=True)
class StoredTask:
    """One task card of a saved session."""

    task_id: str
    agent: str
    agent_name: str
    description: str
    percent: int
    status: TaskStatus
    reason: str | None
    created: float
    updated: float
    #: the sequence number of the answer that opened it, if known
    message_seq: int | None = None


@attrs.frozen(slots=True)
class LoadedSession:
    """A session ready to resume: its row, the visible tail of its history, its tasks."""

    session: StoredSession
    #: the last N messages, oldest first, under the ids they were published with (a row
    #: saved without one, by an older aiway: ``h<seq>``)
    history: tuple[HistoryEntry, ...]
    tasks: tuple[StoredTask, ...]
    #: answers found still streaming (a crash) and marked interrupted by this load
    interrupted: int = 0


@attrs.frozen(slots=True)
class Transcript:
    """A whole session, for an export."""

    session: StoredSession
    messages: tuple[StoredMessage, ...]
    tasks: tuple[StoredTask, ...]


def history_id(seq: int, published_id: str | None = None) -> str:
    """The id a resumed message carries: the one it was published under, the one its
    surfaces showed it with; for a row saved without one, ``h`` and its sequence number."""
    return published_id or f"h{seq}"


# -- write operations (applied in order, one list per transaction) ------------------------


@attrs.frozen(slots=True)
class EnsureSession:
    """Create the session row unless it exists (titled by its first user message, if any)."""

    session_id: str
    model: str
    system_prompt: str
    created: float
    title: str = ""


@attrs.frozen(slots=True)
class InsertMessage:
    """Append a message to a session (its sequence number is the next in that session)."""

    key: int
    session_id: str
    role: Role
    content: str
    state: MessageState
    metadata: str | None
    created: float
    #: the id the session published it under (what its surfaces know it by)
    published_id: str | None = None


@attrs.frozen(slots=True)
class UpdateMessage:
    """Rewrite a message's text; with ``state`` set, also its final state and metadata.

    Without ``state`` it is a checkpoint of a streaming answer and changes
    nothing once the answer has ended.
    """

    key: int
    content: str
    state: MessageState | None = None
    metadata: str | None = None


@attrs.frozen(slots=True)
class AppendMessage:
    """A checkpoint of a streaming answer: ``text`` follows its first ``start`` characters.

    Saved as a part beside the row, so a checkpoint costs the new text, not
    the whole answer; ignored once the answer has ended (its final text is
    whole in the row) and when a part at ``start`` is saved already.
    """

    key: int
    start: int
    text: str

    @property
    def end(self) -> int:
        """The length of the answer once this part is added."""
        return self.start + len(self.text)


@attrs.frozen(slots=True)
class SetTitle:
    """Rename a session (``only_if_untitled``: unless it has a title already)."""

    session_id: str
    title: str
    only_if_untitled: bool = False


@attrs.frozen(slots=True)
class SetModel:
    """The session now answers with another model."""

    session_id: str
    model: str


@attrs.frozen(slots=True)
class CreateTask:
    """A task card opened (ignored if the session already has that task id)."""

    session_id: str
    task_id: str
    agent: str
    agent_name: str
    description: str
    #: the key of the answer streaming when it opened, if any
    message_key: int | None
    created: float


@attrs.frozen(slots=True)
class UpdateTask:
    """A task's progress, status or failure reason changed (None: unchanged)."""

    session_id: str
    task_id: str
    updated: float
    percent: int | None = None
    status: TaskStatus | None = None
    reason: str | None = None


WriteOp = (
    EnsureSession
    | InsertMessage
    | UpdateMessage
    | AppendMessage
    | SetTitle
    | SetModel
    | CreateTask
    | UpdateTask
)
"""One write; a transaction applies a list of them in order."""


def ends_turn(op: WriteOp) -> bool:
    """Whether ``op`` saves an answer's end: its transaction is synced to the disk."""
    if type(op) is UpdateMessage:
        return op.state is not None
    if type(op) is InsertMessage:
        return op.role is Role.ASSISTANT and op.state is not MessageState.STREAMING
    return False


def assemble(content: str, parts: Iterable[tuple[int, str]]) -> str:
    """A streaming answer's text: its row's ``content`` and then its saved parts, in order.

    A part that starts past the end (one that was never saved) ends the text:
    what follows a gap is not shown as if it followed what precedes it.
    """
    pieces = [content]
    length = len(content)
    for start, text in parts:
        if start > length:
            break
        if start + len(text) > length:
            pieces.append(text[length - start :])
            length = start + len(text)
    return "".join(pieces)


# -- the JSON of an answer's metadata ------------------------------------------------------

_METADATA_FIELDS: tuple[str, ...] = tuple(field.name for field in attrs.fields(ResponseMetadata))


def metadata_json(metadata: ResponseMetadata | None, error: str | None = None) -> str | None:
    """The metadata column of an answer: its figures, and the error of a failed one."""
    document: dict[str, object] = {} if metadata is None else attrs.asdict(metadata)
    if error is not None:
        document["error"] = error
    return orjson.dumps(document).decode() if document else None


def metadata_document(raw: str | None) -> dict[str, object] | None:
    """The metadata column parsed (None when empty or not a JSON object)."""
    if not raw:
        return None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def response_metadata(document: dict[str, object] | None) -> ResponseMetadata | None:
    """The ``ResponseMetadata`` a metadata document holds (None when it holds no figures)."""
    if not document:
        return None
    known = {name: document[name] for name in _METADATA_FIELDS if name in document}
    if not known:
        return None
    try:
        return ResponseMetadata(**known)  # type: ignore[arg-type]
    except TypeError:
        return None


_TITLE_CHARS = 60


def title_from(text: str) -> str:
    """A session title from its first message: the first line, spaces collapsed, shortened."""
    for line in text.splitlines():
        words = " ".join(line.split())
        if words:
            if len(words) <= _TITLE_CHARS:
                return words
            return words[: _TITLE_CHARS - 1].rstrip() + "…"
    return ""

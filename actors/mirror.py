"""The session mirror: what a surface needs to catch up, rebuilt from published messages.

The registry feeds every published message through a ``SessionMirror``; it
keeps a bounded history, the answer in flight (as a list of pieces, joined only
when a snapshot is taken), the conversation state, session info, the avatar's
state and the open tasks. ``snapshot()`` turns that into a ``StateSnapshot``
for a surface that joins late or falls behind; it always encodes within
``max_snapshot_bytes`` (by default the client's frame limit), leaving out the
oldest history (a first entry says how much) and, only if that is not enough,
the start of the answer in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import attrs

from aiway.actors.protocol import (
    AnswerStatus,
    AvatarState,
    ConversationState,
    HistoryEntry,
    Message,
    Role,
    SessionInfo,
    State,
    StateSnapshot,
    StreamEnd,
    StreamError,
    TaskCompleted,
    TaskCreated,
    TaskFailed,
    TaskUpdated,
    Token,
    to_wire,
)
from aiway.actors.protocol.framing import CLIENT_FRAME_LIMIT
from aiway.actors.sizes import format_size, utf8_size

#: what a snapshot may take: its frame limit, less room for the marker entry
_MARKER_ROOM = 512
#: the id of the entry that says how much history a snapshot left out
TRIMMED_ID = "snapshot-trimmed"
#: the most bytes of wire JSON one character of text can take (a control escaped as \u00XX)
_WIRE_BYTES_PER_CHAR = 6


class SessionMirror:
    """A bounded copy of the conversation as surfaces saw it."""

    def __init__(
        self, history_limit: int = 200, max_snapshot_bytes: int = CLIENT_FRAME_LIMIT
    ) -> None:
        self.history_limit = history_limit
        self.max_snapshot_bytes = max_snapshot_bytes
        self.history: deque[HistoryEntry] = deque()
        #: each history entry's wire size (an upper bound of its size inside a snapshot)
        self._sizes: deque[int] = deque()
        self._history_bytes = 0
        self.state = ConversationState.INITIALIZING
        self.session: SessionInfo | None = None
        self.avatar: AvatarState | None = None
        self.tasks: dict[str, TaskCreated] = {}
        self.progress: dict[str, TaskUpdated] = {}
        self._streaming_id: str | None = None
        self._streaming_role = Role.ASSISTANT
        self._pieces: list[str] = []

    def apply(self, msg: object) -> None:
        """Fold one published message into the mirror (unknown types are ignored)."""
        match msg:
            case Token(message_id=message_id, text=text):
                if message_id == self._streaming_id:
                    self._pieces.append(text)
            case Message(role=Role.ASSISTANT):
                self._streaming_id = msg.id
                self._pieces = [msg.content] if msg.content else []
            case Message():
                self._remember(HistoryEntry(msg.id, msg.role, msg.content))
            case StreamEnd():
                self._remember(
                    HistoryEntry(
                        msg.message_id, Role.ASSISTANT, msg.content, msg.status, msg.metadata
                    )
                )
                self._end_stream(msg.message_id)
            case StreamError():
                self._remember(
                    HistoryEntry(msg.message_id, Role.ASSISTANT, msg.partial, AnswerStatus.ERROR)
                )
                self._end_stream(msg.message_id)
            case State(state=state):
                self.state = state
            case SessionInfo():
                self.session = msg
            case AvatarState():
                self.avatar = msg
            case TaskCreated():
                self.tasks[msg.task_id] = msg
            case TaskUpdated():
                self.progress[msg.task_id] = msg
            case TaskCompleted(task_id=task_id) | TaskFailed(task_id=task_id):
                self.tasks.pop(task_id, None)
                self.progress.pop(task_id, None)
            case _:
                pass

    def _remember(self, entry: HistoryEntry) -> None:
        """Append to the history (the oldest entry goes past the limit), with its size."""
        if len(self.history) >= self.history_limit:
            self.history.popleft()
            self._history_bytes -= self._sizes.popleft()
        size = len(to_wire(entry))
        self.history.append(entry)
        self._sizes.append(size)
        self._history_bytes += size

    def clear_history(self) -> None:
        """Forget the conversation (``/clear``)."""
        self.history.clear()
        self._sizes.clear()
        self._history_bytes = 0

    def restore(self, history: Iterable[HistoryEntry], tasks: Iterable[object]) -> None:
        """Start over from a saved session (``/resume``, ``/new``): its history and open tasks."""
        self.clear_history()
        for entry in history:
            self._remember(entry)
        self.tasks = {}
        self.progress = {}
        self._streaming_id = None
        self._pieces = []
        for event in tasks:
            self.apply(event)

    def _end_stream(self, message_id: str) -> None:
        if self._streaming_id == message_id:
            self._streaming_id = None
            self._pieces = []

    def streaming(self) -> HistoryEntry | None:
        """The answer in flight with its text so far, or None (its pieces are joined once)."""
        if self._streaming_id is None:
            return None
        if len(self._pieces) > 1:
            self._pieces = ["".join(self._pieces)]
        text = self._pieces[0] if self._pieces else ""
        return HistoryEntry(self._streaming_id, self._streaming_role, text)

    def snapshot(self, last_seq: int) -> StateSnapshot:
        """Everything needed to catch up, as of ``last_seq``, within ``max_snapshot_bytes``.

        What does not fit is left out oldest first, and said so: a first history
        entry (role system, id ``TRIMMED_ID``) counts the messages left out.
        """
        bare = StateSnapshot(
            history=(),
            state=self.state,
            session=self.session,
            avatar=self.avatar,
            last_seq=last_seq,
            streaming=self.streaming(),
            tasks=(*self.tasks.values(), *self.progress.values()),
        )
        budget = self.max_snapshot_bytes - _MARKER_ROOM
        base = len(to_wire(bare))
        if base > budget:
            bare = self._cut_streaming(bare, base, budget)
            base = len(to_wire(bare))
        # each entry's wire size bounds its size in the snapshot; one comma between two
        if base + self._history_bytes + len(self.history) <= self.max_snapshot_bytes:
            return attrs.evolve(bare, history=tuple(self.history))
        room = budget - base
        kept = 0
        for size in reversed(self._sizes):
            if size + 1 > room:
                break
            room -= size + 1
            kept += 1
        entries = list(self.history)
        left_out = entries[: len(entries) - kept]
        left_bytes = sum(utf8_size(e.content) for e in left_out)
        marker = HistoryEntry(
            TRIMMED_ID,
            Role.SYSTEM,
            f"[{len(left_out)} older messages ({format_size(left_bytes)}) left out: "
            "a catch-up must fit in one frame]",
        )
        return attrs.evolve(bare, history=(marker, *entries[len(entries) - kept :]))

    def _cut_streaming(self, bare: StateSnapshot, base: int, budget: int) -> StateSnapshot:
        """Keep only the latest text of the answer in flight, so the rest fits ``budget``."""
        streaming = bare.streaming
        if streaming is None:
            return bare
        others = base - len(to_wire(streaming))
        keep = max((budget - others - _MARKER_ROOM) // _WIRE_BYTES_PER_CHAR, 0)
        text = streaming.content
        cut = len(text) - keep
        if cut <= 0:
            return bare
        content = f"[{cut} characters left out] {text[cut:]}"
        return attrs.evolve(bare, streaming=attrs.evolve(streaming, content=content))

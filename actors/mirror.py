"""The session mirror: what a surface needs to catch up, rebuilt from published messages.

The registry feeds every published message through a ``SessionMirror``; it
keeps a bounded history, the answer in flight (as a list of pieces, joined only
when a snapshot is taken), the conversation state, session info, the avatar's
state and the open tasks. ``snapshot()`` turns that into a ``StateSnapshot``
for a surface that joins late or falls behind.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

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
)


class SessionMirror:
    """A bounded copy of the conversation as surfaces saw it."""

    def __init__(self, history_limit: int = 200) -> None:
        self.history: deque[HistoryEntry] = deque(maxlen=history_limit)
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
        kind = type(msg)
        if kind is Token:
            assert isinstance(msg, Token)
            if msg.message_id == self._streaming_id:
                self._pieces.append(msg.text)
        elif kind is Message:
            assert isinstance(msg, Message)
            if msg.role is Role.ASSISTANT:
                self._streaming_id = msg.id
                self._pieces = [msg.content] if msg.content else []
            else:
                self.history.append(HistoryEntry(msg.id, msg.role, msg.content))
        elif kind is StreamEnd:
            assert isinstance(msg, StreamEnd)
            self.history.append(
                HistoryEntry(msg.message_id, Role.ASSISTANT, msg.content, msg.status, msg.metadata)
            )
            self._end_stream(msg.message_id)
        elif kind is StreamError:
            assert isinstance(msg, StreamError)
            self.history.append(
                HistoryEntry(msg.message_id, Role.ASSISTANT, msg.partial, AnswerStatus.ERROR)
            )
            self._end_stream(msg.message_id)
        elif kind is State:
            assert isinstance(msg, State)
            self.state = msg.state
        elif kind is SessionInfo:
            assert isinstance(msg, SessionInfo)
            self.session = msg
        elif kind is AvatarState:
            assert isinstance(msg, AvatarState)
            self.avatar = msg
        elif kind is TaskCreated:
            assert isinstance(msg, TaskCreated)
            self.tasks[msg.task_id] = msg
        elif kind is TaskUpdated:
            assert isinstance(msg, TaskUpdated)
            self.progress[msg.task_id] = msg
        elif kind is TaskCompleted or kind is TaskFailed:
            assert isinstance(msg, TaskCompleted | TaskFailed)
            self.tasks.pop(msg.task_id, None)
            self.progress.pop(msg.task_id, None)

    def clear_history(self) -> None:
        """Forget the conversation (``/clear``)."""
        self.history.clear()

    def restore(self, history: Iterable[HistoryEntry], tasks: Iterable[object]) -> None:
        """Start over from a saved session (``/resume``, ``/new``): its history and open tasks."""
        self.history.clear()
        self.history.extend(history)
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
        """Everything needed to catch up, as of sequence number ``last_seq``."""
        streaming = self.streaming()
        return StateSnapshot(
            history=tuple(self.history),
            state=self.state,
            session=self.session,
            avatar=self.avatar,
            last_seq=last_seq,
            streaming=streaming,
            tasks=(*self.tasks.values(), *self.progress.values()),
        )

"""The view model: what the terminal UI shows, handed from the loop thread to the UI thread.

The TUI surface actor's handlers run on the event loop's thread; curses may
only be touched by the UI thread. In between sits this object: the handlers
fold each published message into it under a lock (cheap: append a piece, set
a field, mark what changed) and wake the UI thread once; the UI thread calls
``take`` on each wake-up and gets only what changed since the last one, as
immutable views. Avatar frames and metrics are single overwritten slots, so
they never back up; the conversation is bounded by ``history_limit``. Nothing
here blocks for longer than a few field updates, and nothing calls curses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs

from aiway.actors.protocol import (
    ActorFailed,
    AvatarFrame,
    ConversationState,
    Message,
    Metrics,
    Notify,
    Quit,
    ResponseMetadata,
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
from aiway.ui.progress import PullMeter
from aiway.ui.tui.views import (
    ASSISTANT,
    NOTE,
    STREAMING,
    USER,
    Changes,
    EntryView,
    StatusView,
    TaskView,
)

__all__ = [
    "ASSISTANT",
    "NOTE",
    "STREAMING",
    "USER",
    "Changes",
    "EntryView",
    "StatusView",
    "TaskView",
    "ViewModel",
]


class _Entry:
    __slots__ = (
        "error",
        "full",
        "id",
        "kind",
        "level",
        "metadata",
        "pieces",
        "queued",
        "serial",
        "status",
        "taken",
        "title",
    )

    def __init__(self, serial: int, entry_id: str, kind: str, text: str, status: str) -> None:
        self.serial = serial
        self.id = entry_id
        self.kind = kind
        self.pieces = [text] if text else []
        self.status = status
        self.level = "info"
        self.title = ""
        self.metadata: ResponseMetadata | None = None
        self.error: str | None = None
        self.taken = 0
        self.full = True
        self.queued = False

    def view(self) -> EntryView:
        text = "".join(self.pieces) if self.full else "".join(self.pieces[self.taken :])
        view = EntryView(
            self.serial,
            self.kind,
            text,
            self.full,
            self.status,
            self.level,
            self.title,
            self.metadata,
            self.error,
        )
        if len(self.pieces) > 1 and self.status != STREAMING:
            self.pieces = ["".join(self.pieces)]
        self.taken = len(self.pieces)
        self.full = False
        self.queued = False
        return view


class ViewModel:
    """Shared state of the terminal UI; writers on the loop thread, ``take`` on the UI thread."""

    def __init__(
        self,
        *,
        history_limit: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wake = wake
        self._wake_pending = False
        self._limit = max(1, history_limit)
        self._entries: list[_Entry] = []
        self._by_id: dict[str, _Entry] = {}
        self._changed: list[_Entry] = []
        self._serial = 0
        self._reset = False
        self._state = ConversationState.INITIALIZING
        self._model = ""
        self._backend = ""
        self._tokens = 0
        self._started: float | None = None
        self._ended: float | None = None
        self._seq = 0
        self._notice = ""
        self._status_changed = True
        self._tasks: dict[str, TaskView] = {}
        self._tasks_changed = False
        self._metrics: Metrics | None = None
        self._frame: AvatarFrame | None = None
        self._quit: str | None = None
        self._session: SessionInfo | None = None
        #: long jobs in flight (``/pull``), by their progress key: shown in the status bar
        self._meters: dict[str, PullMeter] = {}

    def set_wake(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (from the writing thread) when something changes while none is pending."""
        self._wake = wake

    # -- writers (loop thread) -------------------------------------------------------

    def publish(self, message: object, seq: int | None = None) -> None:
        """Fold one published message in (unknown types only advance ``seq``)."""
        with self._lock:
            if seq is not None:
                self._seq = seq
            self._fold(message)
            self._poke()

    def snapshot(self, msg: StateSnapshot) -> None:
        """Start over from a snapshot (on attach, after falling behind, a core placed anew).

        A snapshot of the session shown whose history starts at an entry shown
        already is the tail of this conversation (a mirror holds only so many
        turns; a core placed anew is seeded with the saved tail): what is shown
        before that entry stays.
        """
        with self._lock:
            kept = self._before(msg)
            self._entries.clear()
            self._by_id.clear()
            self._changed.clear()
            self._reset = True
            for entry in kept:  # drawn again whole, like everything after a reset
                entry.full = True
                self._entries.append(entry)
                if entry.id:
                    self._by_id[entry.id] = entry
            for item in msg.history:
                kind = {Role.USER: USER, Role.ASSISTANT: ASSISTANT}.get(item.role, NOTE)
                entry = self._append(item.id, kind, item.content, item.status.value)
                entry.metadata = item.metadata
            if msg.streaming is not None:
                self._append(msg.streaming.id, ASSISTANT, msg.streaming.content, STREAMING)
            self._state = msg.state
            if msg.session is not None:
                self._on_session(msg.session)
            self._tasks.clear()
            for task in msg.tasks:
                self._on_task(task)
            self._tasks_changed = True
            self._seq = msg.last_seq
            self._status_changed = True
            self._poke()

    def _before(self, msg: StateSnapshot) -> list[_Entry]:
        """The entries shown before the first of ``msg``'s history, when ``msg`` continues
        the session shown; none otherwise."""
        session = self._session
        if not msg.history or session is None or msg.session is None:
            return []
        if msg.session.session_id != session.session_id:
            return []
        first = self._by_id.get(msg.history[0].id)
        if first is None:
            return []
        for index, entry in enumerate(self._entries):
            if entry is first:
                return self._entries[:index]
        return []

    def avatar(self, frame: AvatarFrame) -> None:
        """The newest avatar frame replaces any frame not yet drawn."""
        with self._lock:
            self._frame = frame
            self._poke()

    def metrics(self, msg: Metrics) -> None:
        """The newest metrics replace any not yet shown."""
        with self._lock:
            self._metrics = msg
            self._poke()

    def notice(self, text: str) -> None:
        """Start-up progress for the status bar (any thread)."""
        with self._lock:
            self._notice = text
            self._status_changed = True
            self._poke()

    def note(self, level: str, title: str, text: str) -> None:
        """Add a system note to the conversation (any thread)."""
        with self._lock:
            self._add_note(level, title, text)
            self._poke()

    def clear(self) -> None:
        """Forget the conversation shown (``/clear``), from any thread."""
        with self._lock:
            self._entries.clear()
            self._by_id.clear()
            self._changed.clear()
            self._reset = True
            self._poke()

    # -- reader (UI thread) ------------------------------------------------------------

    def take(self) -> Changes:
        """What changed since the last call; never blocks for long."""
        with self._lock:
            self._wake_pending = False
            reset = self._reset
            if reset:
                self._reset = False
                changed = self._entries
            else:
                changed = self._changed
                if len(changed) > 1:
                    changed.sort(key=_serial_of)
            entries = tuple(entry.view() for entry in changed)
            self._changed = []
            status = None
            if self._status_changed:
                self._status_changed = False
                status = StatusView(
                    self._state,
                    self._model,
                    self._backend,
                    self._tokens,
                    self._started,
                    self._ended,
                    self._seq,
                    self._notice,
                )
            tasks = None
            if self._tasks_changed:
                self._tasks_changed = False
                tasks = tuple(self._tasks.values())
            metrics, self._metrics = self._metrics, None
            frame, self._frame = self._frame, None
            first = self._entries[0].serial if self._entries else self._serial + 1
            return Changes(reset, first, entries, status, tasks, metrics, frame, self._quit)

    def last_answer(self) -> str | None:
        """The text of the newest answer kept (any thread), or None."""
        with self._lock:
            for entry in reversed(self._entries):
                if entry.kind == ASSISTANT:
                    return "".join(entry.pieces)
        return None

    def forget_finished_tasks(self, before: float) -> None:
        """Drop task cards that finished before ``before`` (UI thread, after showing them)."""
        with self._lock:
            stale = [
                key
                for key, task in self._tasks.items()
                if task.finished_at is not None and task.finished_at < before
            ]
            for key in stale:
                del self._tasks[key]
            if stale:
                self._tasks_changed = True

    # -- internals (lock held) -------------------------------------------------------------

    def _fold(self, message: object) -> None:
        """One published message into the state (lock held)."""
        match message:
            case Message():
                self._on_message(message)
            case Token():
                self._on_token(message)
            case StreamEnd():
                self._on_stream_end(message)
            case StreamError():
                self._on_stream_error(message)
            case State():
                self._on_state(message)
            case SessionInfo():
                self._on_session(message)
            case Notify():
                self._on_notify(message)
            case ActorFailed():
                self._on_failed(message)
            case TaskCreated() | TaskUpdated() | TaskCompleted() | TaskFailed():
                self._on_task(message)
            case Quit():
                self._on_quit(message)
            case _:
                pass  # not shown here: only ``seq`` advances

    def _poke(self) -> None:
        if not self._wake_pending and self._wake is not None:
            self._wake_pending = True
            self._wake()

    def _append(self, entry_id: str, kind: str, text: str, status: str) -> _Entry:
        self._serial += 1
        entry = _Entry(self._serial, entry_id, kind, text, status)
        self._entries.append(entry)
        if entry_id:
            self._by_id[entry_id] = entry
        self._mark(entry)
        overflow = len(self._entries) - self._limit
        if overflow > max(8, self._limit // 8):  # trim in batches: amortised O(1)
            for gone in self._entries[:overflow]:
                self._by_id.pop(gone.id, None)
            del self._entries[:overflow]
        return entry

    def _mark(self, entry: _Entry) -> None:
        if not entry.queued:
            entry.queued = True
            self._changed.append(entry)

    def _add_note(self, level: str, title: str, text: str) -> None:
        entry = self._append("", NOTE, text, "complete")
        entry.level = level
        entry.title = title

    def _on_message(self, msg: Message) -> None:
        if msg.role is Role.ASSISTANT:
            self._append(msg.id, ASSISTANT, msg.content, STREAMING)
            self._tokens = 0
            self._started = self._ended = None
            self._status_changed = True
        elif msg.role is Role.USER:
            self._append(msg.id, USER, msg.content, "complete")
        else:
            self._add_note("info", "", msg.content)

    def _on_token(self, msg: Token) -> None:
        entry = self._by_id.get(msg.message_id)
        if entry is None:
            entry = self._append(msg.message_id, ASSISTANT, "", STREAMING)
        entry.pieces.append(msg.text)
        self._mark(entry)
        if self._started is None:
            self._started = self._clock()
        self._tokens += 1
        self._status_changed = True

    def _finish(self, message_id: str, content: str, status: str) -> _Entry:
        entry = self._by_id.get(message_id)
        if entry is None:
            entry = self._append(message_id, ASSISTANT, content, status)
        entry.pieces = [content] if content else []
        entry.full = True
        entry.status = status
        self._mark(entry)
        self._ended = self._clock()
        self._status_changed = True
        return entry

    def _on_stream_end(self, msg: StreamEnd) -> None:
        entry = self._finish(msg.message_id, msg.content, msg.status.value)
        entry.metadata = msg.metadata

    def _on_stream_error(self, msg: StreamError) -> None:
        entry = self._finish(msg.message_id, msg.partial, "error")
        entry.error = msg.error

    def _on_state(self, msg: State) -> None:
        self._state = msg.state
        self._status_changed = True

    def _on_session(self, msg: SessionInfo) -> None:
        previous, self._session = self._session, msg
        self._model, self._backend = msg.model, msg.backend
        self._notice = ""
        self._status_changed = True
        if previous is None or (previous.model, previous.backend) != (msg.model, msg.backend):
            why = f" ({msg.backend_reason})" if msg.backend_reason else ""
            self._add_note("info", "", f"model {msg.model} on {msg.backend}{why}")

    def _on_notify(self, msg: Notify) -> None:
        progress = msg.progress
        if progress is None:
            self._add_note(msg.level.value, msg.title, msg.text)
            return
        # A long job's progress updates the status bar in place; its end is a note.
        if progress.done:
            if self._meters.pop(progress.key, None) is not None or not self._meters:
                self._notice = ""
                self._status_changed = True
            self._add_note(msg.level.value, msg.title, msg.text)
            return
        meter = self._meters.get(progress.key)
        if meter is None:
            meter = self._meters[progress.key] = PullMeter(
                progress.key.removeprefix("pull "), self._clock
            )
        meter.update(progress.status, progress.part, progress.total, progress.completed)
        self._notice = f"{progress.key}: {meter.short()}"
        self._status_changed = True

    def _on_failed(self, msg: ActorFailed) -> None:
        self._add_note("error", "actor failed", f"{msg.actor}: {msg.error} ({msg.action})")

    def _on_task(self, msg: object) -> None:
        match msg:
            case TaskCreated():
                self._tasks[msg.task_id] = TaskView(
                    msg.task_id, msg.agent, msg.agent_name, msg.description
                )
            case TaskUpdated():
                task = self._tasks.get(msg.task_id)
                if task is not None:
                    self._tasks[msg.task_id] = attrs.evolve(
                        task, percent=msg.percent, status=msg.status.value
                    )
            case TaskCompleted() | TaskFailed():
                task = self._tasks.get(msg.task_id)
                if task is not None:
                    failed = isinstance(msg, TaskFailed)
                    self._tasks[msg.task_id] = attrs.evolve(
                        task,
                        percent=task.percent if failed else 100,
                        status="failed" if failed else "done",
                        reason=msg.reason if isinstance(msg, TaskFailed) else "",
                        finished_at=self._clock(),
                    )
        self._tasks_changed = True

    def _on_quit(self, msg: Quit) -> None:
        self._quit = msg.reason or "quit"


def _serial_of(entry: _Entry) -> int:
    return entry.serial

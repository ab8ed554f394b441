"""The immutable views the UI thread gets from the view model: entries, tasks, status, changes.

Everything here is frozen: built under the view model's lock, then read by
the UI thread without it.
"""

from __future__ import annotations

import attrs

from aiway.actors.protocol import AvatarFrame, ConversationState, Metrics, ResponseMetadata

USER = "user"
ASSISTANT = "assistant"
NOTE = "note"
STREAMING = "streaming"


@attrs.frozen(slots=True)
class EntryView:
    """One conversation entry as the UI thread receives it."""

    serial: int
    """Position in the conversation since start (never reused)."""
    kind: str
    """``user``, ``assistant`` or ``note``."""
    text: str
    """The whole content when ``full``, else only the text appended since the last take."""
    full: bool
    status: str
    """``streaming``, or how the entry ended (an ``AnswerStatus`` value)."""
    level: str = "info"
    """A note's level: ``info``, ``warning`` or ``error``."""
    title: str = ""
    metadata: ResponseMetadata | None = None
    error: str | None = None


@attrs.frozen(slots=True)
class TaskView:
    """One task card."""

    task_id: str
    agent: str
    agent_name: str
    description: str
    percent: int = 0
    status: str = "running"
    reason: str = ""
    finished_at: float | None = None


@attrs.frozen(slots=True)
class StatusView:
    """What the status bar shows (besides metrics and the scroll position)."""

    state: ConversationState
    model: str
    backend: str
    answer_tokens: int
    """Token messages of the current (or last) answer so far."""
    answer_started: float | None
    """When its first token arrived (``clock`` seconds)."""
    answer_ended: float | None
    last_seq: int
    notice: str
    """Start-up progress, shown until the session is ready."""


@attrs.frozen(slots=True)
class Changes:
    """Everything that changed since the previous ``take``; empty fields did not change."""

    reset: bool = False
    """Drop every entry shown: ``entries`` then holds the whole conversation."""
    first_serial: int = 0
    """Entries with a smaller serial fell out of the history: drop them."""
    entries: tuple[EntryView, ...] = ()
    status: StatusView | None = None
    tasks: tuple[TaskView, ...] | None = None
    metrics: Metrics | None = None
    avatar: AvatarFrame | None = None
    quit: str | None = None

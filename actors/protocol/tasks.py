"""Task commands from the tag parser, and the task events surfaces show as cards."""

from __future__ import annotations

import enum

import attrs

from aiway.actors.protocol.base import WireMessage


class TaskStatus(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# -- commands (tag parser -> Conductor's task tracker) ---------------------------


@attrs.frozen(slots=True)
class TaskStart(WireMessage):
    """Open a task card for an allow-listed agent."""

    agent: str
    description: str


@attrs.frozen(slots=True)
class TaskProgress(WireMessage):
    """Set a task's progress (task_id None: the most recent open task)."""

    task_id: str | None
    percent: int


@attrs.frozen(slots=True)
class TaskDone(WireMessage):
    """Mark a task done."""

    task_id: str | None


@attrs.frozen(slots=True)
class TaskFail(WireMessage):
    """Mark a task failed with a reason."""

    task_id: str | None
    reason: str = "unknown error"


@attrs.frozen(slots=True)
class TaskFocus(WireMessage):
    """Move the avatar next to a task's card (also ``point``/``hover``)."""

    task_id: str | None


@attrs.frozen(slots=True)
class TaskCelebrate(WireMessage):
    """Celebrate a task (plays the tada reaction)."""

    task_id: str | None


TaskCommand = TaskStart | TaskProgress | TaskDone | TaskFail | TaskFocus | TaskCelebrate


# -- events (Conductor -> surfaces) -------------------------------------------------


@attrs.frozen(slots=True)
class TaskCreated(WireMessage):
    """A task card opened."""

    task_id: str
    agent: str
    agent_name: str
    description: str


@attrs.frozen(slots=True)
class TaskUpdated(WireMessage):
    """A task's progress changed."""

    task_id: str
    percent: int
    status: TaskStatus = TaskStatus.RUNNING


@attrs.frozen(slots=True)
class TaskCompleted(WireMessage):
    """A task finished."""

    task_id: str


@attrs.frozen(slots=True)
class TaskFailed(WireMessage):
    """A task failed."""

    task_id: str
    reason: str

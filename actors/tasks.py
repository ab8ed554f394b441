"""The task tracker: turns the model's task commands into the task cards surfaces show.

Tasks are display state driven by the model's `[yolla:task ...]` tags; nothing
is executed. The Conductor owns one ``TaskTracker`` per session. It is a plain
synchronous class (no event loop, no clock of its own: every call is given
``now``), so it is tested by feeding commands and asserting on what it returns.
This module also owns the agent allow-list and the validation rules for task
ids, descriptions and fail reasons, which the tag parser shares.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, TypeAlias

import attrs

from aiway.actors.protocol.avatar import PlayReaction, Reaction
from aiway.actors.protocol.tasks import (
    TaskCelebrate,
    TaskCommand,
    TaskCompleted,
    TaskCreated,
    TaskDone,
    TaskFail,
    TaskFailed,
    TaskFocus,
    TaskProgress,
    TaskStart,
    TaskStatus,
    TaskUpdated,
)

_log = logging.getLogger(__name__)

DEFAULT_AGENTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ethical-hacker": "Cousin Rita",
        "backend-engineer": "Uncle Marco",
        "frontend-specialist": "Prima Sofia",
        "senior-full-stack-developer": "Tio Miguel",
        "solutions-architect": "Tia Carmen",
        "ux-ui-designer": "Cousin Lucia",
        "qa-engineer": "The Intern",
        "privacy-researcher": "Abuelo Pedro",
        "devops-engineer": "Primo Carlos",
        "relational-database-expert": "Tia Rosa",
    }
)
"""The agents a task may name (agent -> family name shown on its card)."""

MAX_DESCRIPTION_BYTES: Final = 1000
MAX_REASON_BYTES: Final = 1000
MAX_TASK_ID_LENGTH: Final = 100
MAX_ACTIVE_TASKS: Final = 20
MAX_TOTAL_TASKS: Final = 100
PRUNE_FINISHED_AFTER_S: Final = 3600.0

_ISSUED_ID = re.compile(r"t[0-9]+")
_TASK_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TASK_ID_LENGTH}}}")
# C0 and C1 controls (ESC among them), line/paragraph separators, bidi
# embeddings, overrides and isolates (they reorder what a terminal shows), and
# lone surrogates (they cannot be encoded).
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTEXT_DESCRIPTION_CHARS: Final = 60

AGENT_NOT_ALLOWED: Final = "agent_not_allowed"
BAD_ARGUMENT: Final = "bad_argument"
TOO_MANY_ACTIVE: Final = "too_many_active"
TOO_MANY_TASKS: Final = "too_many_tasks"
UNKNOWN_TASK: Final = "unknown_task"
NO_OPEN_TASK: Final = "no_open_task"
NOT_OPEN: Final = "not_open"
TRACKER_DROP_REASONS: Final = (
    AGENT_NOT_ALLOWED,
    BAD_ARGUMENT,
    TOO_MANY_ACTIVE,
    TOO_MANY_TASKS,
    UNKNOWN_TASK,
    NO_OPEN_TASK,
    NOT_OPEN,
)
"""Every reason the tracker drops a command for (the keys of ``TaskTracker.dropped``)."""

TaskOutcome: TypeAlias = (
    TaskCreated
    | TaskUpdated
    | TaskCompleted
    | TaskFailed
    | TaskFocus
    | TaskCelebrate
    | PlayReaction
)
"""What applying a task command yields: task events, a resolved focus/celebrate, a reaction."""

_NOTHING: tuple[TaskOutcome, ...] = ()
_TADA = PlayReaction(Reaction.TADA)


def is_valid_task_id(task_id: str) -> bool:
    """True if ``task_id`` is 1-100 characters of ASCII letters, digits, ``-`` and ``_``."""
    return _TASK_ID.fullmatch(task_id) is not None


def is_issued_task_id(task_id: str) -> bool:
    """True if ``task_id`` has the form the tracker gives ids (``t`` and a number)."""
    return _ISSUED_ID.fullmatch(task_id) is not None


def _fits(text: str, max_bytes: int) -> bool:
    # UTF-8 takes at most 4 bytes a character: encode only when it could matter.
    if len(text) > max_bytes:
        return False
    return len(text) * 4 <= max_bytes or len(text.encode()) <= max_bytes


def is_valid_description(text: str) -> bool:
    """True if ``text`` is a non-blank task description of at most 1000 UTF-8 bytes
    without control characters."""
    return (
        bool(text.strip()) and _fits(text, MAX_DESCRIPTION_BYTES) and not _UNSHOWABLE.search(text)
    )


def is_valid_reason(text: str) -> bool:
    """True if ``text`` is a non-blank fail reason of at most 1000 UTF-8 bytes
    without control characters."""
    return bool(text.strip()) and _fits(text, MAX_REASON_BYTES) and not _UNSHOWABLE.search(text)


@attrs.frozen(slots=True)
class TaskRecord:
    """One task card as the tracker knows it (immutable; updates replace it)."""

    task_id: str
    """The short id the tracker gave it (``t1``, ``t2``, ...)."""
    agent: str
    """The allow-listed agent, e.g. ``backend-engineer``."""
    agent_name: str
    """The agent's family name, e.g. ``Uncle Marco``."""
    description: str
    started_at: float
    status: TaskStatus = TaskStatus.RUNNING
    percent: int = 0
    finished_at: float | None = None
    """When it was marked done or failed; None while running."""
    reason: str | None = None
    """Why it failed; None unless failed."""


class TaskTracker:
    """The tasks of one session, keyed by short ids, with bounded size.

    ``apply`` never raises on a bad command: it drops it and counts the reason
    in ``dropped``. Ids are ``t1``, ``t2``, ... and never reused in a session.
    """

    def __init__(
        self,
        *,
        agents: Mapping[str, str] = DEFAULT_AGENTS,
        max_active: int = MAX_ACTIVE_TASKS,
        max_total: int = MAX_TOTAL_TASKS,
        prune_after: float = PRUNE_FINISHED_AFTER_S,
    ) -> None:
        """``agents`` replaces the allow-list (extend it with ``{**DEFAULT_AGENTS, ...}``)."""
        self._agents = agents
        self._max_active = max_active
        self._max_total = max_total
        self._prune_after = prune_after
        self._tasks: dict[str, TaskRecord] = {}
        self._next_number = 1
        self.dropped: dict[str, int] = dict.fromkeys(TRACKER_DROP_REASONS, 0)
        """Commands dropped so far, by reason."""

    @property
    def dropped_total(self) -> int:
        """All commands dropped so far."""
        return sum(self.dropped.values())

    @property
    def active_count(self) -> int:
        """How many tasks are still running."""
        return sum(1 for task in self._tasks.values() if task.status is TaskStatus.RUNNING)

    def apply(self, command: TaskCommand, now: float) -> tuple[TaskOutcome, ...]:
        """Apply one task command at time ``now``; return what follows from it.

        A start yields ``TaskCreated``; progress ``TaskUpdated``; done
        ``TaskCompleted``; fail ``TaskFailed``; focus the ``TaskFocus`` with its
        id resolved; celebrate the resolved ``TaskCelebrate`` and the tada
        reaction. A dropped command yields an empty tuple and is counted.
        A missing id means the most recent open task (for focus and celebrate,
        the most recent task if none is open).
        """
        match command:
            case TaskStart():
                return self._start(command, now)
            case TaskProgress():
                return self._progress(command)
            case TaskDone(task_id=task_id):
                return self._finish(task_id, now, None)
            case TaskFail(task_id=task_id, reason=reason):
                if not is_valid_reason(reason):
                    return self._drop(BAD_ARGUMENT, command)
                return self._finish(task_id, now, reason)
            case TaskFocus(task_id=task_id):
                task = self._resolve(task_id, any_status=True)
                if isinstance(task, str):
                    return self._drop(task, command)
                return (TaskFocus(task.task_id),)
            case TaskCelebrate(task_id=task_id):
                task = self._resolve(task_id, any_status=True)
                if isinstance(task, str):
                    return self._drop(task, command)
                return (TaskCelebrate(task.task_id), _TADA)

    def open_tasks_context(self) -> str:
        """One short line naming the open tasks' ids for the model's context, or ""."""
        parts = [
            f"{task.task_id} ({task.agent}: {_shorten(task.description)})"
            for task in self._tasks.values()
            if task.status is TaskStatus.RUNNING
        ]
        if not parts:
            return ""
        return "Open tasks: " + ", ".join(parts) + "."

    def snapshot(self) -> tuple[TaskRecord, ...]:
        """Every task the tracker still holds, oldest first."""
        return tuple(self._tasks.values())

    def _start(self, command: TaskStart, now: float) -> tuple[TaskOutcome, ...]:
        agent_name = self._agents.get(command.agent)
        if agent_name is None:
            return self._drop(AGENT_NOT_ALLOWED, command)
        if not is_valid_description(command.description):
            return self._drop(BAD_ARGUMENT, command)
        if self.active_count >= self._max_active:
            return self._drop(TOO_MANY_ACTIVE, command)
        if len(self._tasks) >= self._max_total:
            self._prune(now)
            if len(self._tasks) >= self._max_total:
                return self._drop(TOO_MANY_TASKS, command)
        task_id = f"t{self._next_number}"  # keep in step with is_issued_task_id
        self._next_number += 1
        self._tasks[task_id] = TaskRecord(
            task_id, command.agent, agent_name, command.description, started_at=now
        )
        return (TaskCreated(task_id, command.agent, agent_name, command.description),)

    def _progress(self, command: TaskProgress) -> tuple[TaskOutcome, ...]:
        if not 0 <= command.percent <= 100:
            return self._drop(BAD_ARGUMENT, command)
        task = self._resolve(command.task_id, any_status=False)
        if isinstance(task, str):
            return self._drop(task, command)
        self._tasks[task.task_id] = attrs.evolve(task, percent=command.percent)
        return (TaskUpdated(task.task_id, command.percent),)

    def _finish(
        self, task_id: str | None, now: float, failure: str | None
    ) -> tuple[TaskOutcome, ...]:
        task = self._resolve(task_id, any_status=False)
        if isinstance(task, str):
            return self._drop(task, task_id)
        if failure is None:
            done = attrs.evolve(task, status=TaskStatus.DONE, percent=100, finished_at=now)
            self._tasks[task.task_id] = done
            return (TaskCompleted(task.task_id),)
        failed = attrs.evolve(task, status=TaskStatus.FAILED, finished_at=now, reason=failure)
        self._tasks[task.task_id] = failed
        return (TaskFailed(task.task_id, failure),)

    def _resolve(self, task_id: str | None, *, any_status: bool) -> TaskRecord | str:
        """The task ``task_id`` names (None: the most recent open one), or a drop reason."""
        if task_id is None:
            for task in reversed(self._tasks.values()):
                if task.status is TaskStatus.RUNNING:
                    return task
            if any_status and self._tasks:
                return next(reversed(self._tasks.values()))
            return NO_OPEN_TASK
        if not is_valid_task_id(task_id):
            return BAD_ARGUMENT
        found = self._tasks.get(task_id)
        if found is None:
            return UNKNOWN_TASK
        if not any_status and found.status is not TaskStatus.RUNNING:
            return NOT_OPEN
        return found

    def _prune(self, now: float) -> None:
        """Forget finished tasks that finished at least ``prune_after`` seconds ago."""
        cutoff = now - self._prune_after
        stale = [
            task_id
            for task_id, task in self._tasks.items()
            if task.finished_at is not None and task.finished_at <= cutoff
        ]
        for task_id in stale:
            del self._tasks[task_id]

    def _drop(self, reason: str, what: object) -> tuple[TaskOutcome, ...]:
        self.dropped[reason] += 1
        _log.debug("task command dropped (%s): %r", reason, what)
        return _NOTHING


def _shorten(text: str) -> str:
    if len(text) <= _CONTEXT_DESCRIPTION_CHARS:
        return text
    return text[: _CONTEXT_DESCRIPTION_CHARS - 1].rstrip() + "…"

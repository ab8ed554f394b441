"""A saved session's tasks back as live state: the task tracker and the open task cards.

The Conductor rebuilds its ``TaskTracker`` by replaying the saved tasks in the
order they were opened: the tracker gives ids in sequence (``t1``, ``t2``,
...), so the replay reproduces them and the next task gets a fresh id. Should
a replayed id differ (an agent since removed from the allow-list), the replay
stops there and says so in the log; the tasks before it keep their ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from aiway.actors.protocol import (
    TaskCreated,
    TaskDone,
    TaskFail,
    TaskProgress,
    TaskStart,
    TaskStatus,
    TaskUpdated,
)
from aiway.actors.store.records import StoredTask
from aiway.actors.tasks import TaskTracker

log = logging.getLogger(__name__)

# Replayed tasks finish at time 0 and start much later, so that a session with
# more tasks than the tracker holds can prune the finished ones while replaying.
_FINISHED_AT: Final = 0.0
_STARTED_AT: Final = 1e9


def replay_tasks(tracker: TaskTracker, tasks: Sequence[StoredTask]) -> None:
    """Give a new ``tracker`` the saved ``tasks`` (in the order they were opened), same ids."""
    for task in tasks:
        created = tracker.apply(TaskStart(task.agent, task.description), _STARTED_AT)
        issued = created[0].task_id if created and isinstance(created[0], TaskCreated) else None
        if issued != task.task_id:
            log.warning(
                "resuming tasks: %s came back as %s; the tasks after it are not replayed",
                task.task_id,
                issued,
            )
            break
        if task.status is TaskStatus.DONE:
            tracker.apply(TaskDone(task.task_id), _FINISHED_AT)
        elif task.status is TaskStatus.FAILED:
            tracker.apply(TaskFail(task.task_id, task.reason or "unknown error"), _FINISHED_AT)
        elif task.percent:
            tracker.apply(TaskProgress(task.task_id, task.percent), _FINISHED_AT)


def open_task_events(tasks: Sequence[StoredTask]) -> tuple[TaskCreated | TaskUpdated, ...]:
    """The events that show the open task cards again (what a snapshot carries)."""
    created: list[TaskCreated | TaskUpdated] = []
    progress: list[TaskCreated | TaskUpdated] = []
    for task in tasks:
        if task.status is not TaskStatus.RUNNING:
            continue
        created.append(TaskCreated(task.task_id, task.agent, task.agent_name, task.description))
        if task.percent:
            progress.append(TaskUpdated(task.task_id, task.percent))
    return (*created, *progress)

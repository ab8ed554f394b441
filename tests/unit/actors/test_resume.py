"""Resuming: the task tracker gets its saved tasks back under the same ids; open cards return."""

from __future__ import annotations

from aiway.actors.protocol import TaskCreated, TaskDone, TaskStart, TaskStatus, TaskUpdated
from aiway.actors.resume import open_task_events, replay_tasks
from aiway.actors.store.records import StoredTask
from aiway.actors.tasks import DEFAULT_AGENTS, TaskTracker


def task(number: int, status: TaskStatus = TaskStatus.RUNNING, percent: int = 0) -> StoredTask:
    return StoredTask(
        f"t{number}", "qa-engineer", "The Intern", f"job {number}", percent, status, None, 1.0, 2.0
    )


def test_saved_tasks_come_back_with_their_ids_and_the_next_one_is_fresh() -> None:
    tracker = TaskTracker(agents=DEFAULT_AGENTS)
    saved = [task(1, TaskStatus.DONE, 100), task(2, percent=30), task(3, TaskStatus.FAILED)]

    replay_tasks(tracker, saved)
    created = tracker.apply(TaskStart("qa-engineer", "new job"), 10.0)

    records = {r.task_id: (r.status, r.percent) for r in tracker.snapshot()}
    assert records["t1"] == (TaskStatus.DONE, 100)
    assert records["t2"] == (TaskStatus.RUNNING, 30)
    assert records["t3"][0] is TaskStatus.FAILED
    assert created == (TaskCreated("t4", "qa-engineer", "The Intern", "new job"),)
    assert "t2 (qa-engineer: job 2)" in tracker.open_tasks_context()


def test_more_saved_tasks_than_the_tracker_holds_still_keep_the_ids_in_sequence() -> None:
    tracker = TaskTracker(agents=DEFAULT_AGENTS, max_total=5)
    saved = [task(n, TaskStatus.DONE, 100) for n in range(1, 9)] + [task(9)]

    replay_tasks(tracker, saved)

    assert tracker.apply(TaskDone("t9"), 20.0)[0].task_id == "t9"  # type: ignore[union-attr]
    assert tracker.apply(TaskStart("qa-engineer", "x"), 20.0)[0].task_id == "t10"  # type: ignore[union-attr]


def test_an_agent_no_longer_allowed_stops_the_replay_there() -> None:
    tracker = TaskTracker(agents={"qa-engineer": "The Intern"})
    odd = StoredTask("t2", "gone-agent", "Nobody", "x", 0, TaskStatus.RUNNING, None, 1.0, 1.0)

    replay_tasks(tracker, [task(1), odd, task(3)])

    assert [r.task_id for r in tracker.snapshot()] == ["t1"]


def test_open_cards_are_shown_again_with_their_progress() -> None:
    events = open_task_events([task(1, TaskStatus.DONE, 100), task(2, percent=30), task(3)])

    assert events == (
        TaskCreated("t2", "qa-engineer", "The Intern", "job 2"),
        TaskCreated("t3", "qa-engineer", "The Intern", "job 3"),
        TaskUpdated("t2", 30),
    )

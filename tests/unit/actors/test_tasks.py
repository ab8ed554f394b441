"""The task tracker: ids, resolution of missing ids, validation, limits and pruning."""

from __future__ import annotations

import pytest

from aiway.actors.protocol.avatar import PlayReaction, Reaction
from aiway.actors.protocol.tasks import (
    TaskCelebrate,
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
from aiway.actors.tasks import (
    DEFAULT_AGENTS,
    TaskTracker,
    is_issued_task_id,
    is_valid_description,
    is_valid_task_id,
)

HOUR = 3600.0


def start(tracker: TaskTracker, description: str = "work", now: float = 0.0) -> str:
    (created,) = tracker.apply(TaskStart("backend-engineer", description), now)
    assert isinstance(created, TaskCreated)
    return created.task_id


def only_drop(tracker: TaskTracker) -> str:
    assert tracker.dropped_total == 1
    return next(reason for reason, count in tracker.dropped.items() if count)


# -- ids and the flow of one task ------------------------------------------------------------


def test_default_agents_are_the_allow_list_of_tags_md() -> None:
    assert dict(DEFAULT_AGENTS) == {
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


def test_start_creates_t1_with_the_agents_family_name() -> None:
    events = TaskTracker().apply(TaskStart("ethical-hacker", "Audit the login"), 0.0)
    assert events == (TaskCreated("t1", "ethical-hacker", "Cousin Rita", "Audit the login"),)


def test_ids_count_up_per_tracker() -> None:
    tracker = TaskTracker()
    assert [start(tracker), start(tracker), start(tracker)] == ["t1", "t2", "t3"]
    assert start(TaskTracker()) == "t1"


def test_start_progress_without_id_then_done_by_id() -> None:
    tracker = TaskTracker()
    task_id = start(tracker)
    assert tracker.apply(TaskProgress(None, 40), 1.0) == (TaskUpdated(task_id, 40),)
    assert tracker.apply(TaskDone(task_id), 2.0) == (TaskCompleted(task_id),)
    (record,) = tracker.snapshot()
    assert (record.status, record.percent, record.finished_at) == (TaskStatus.DONE, 100, 2.0)


def test_missing_id_means_the_most_recent_open_task() -> None:
    tracker = TaskTracker()
    first, second = start(tracker), start(tracker)
    tracker.apply(TaskDone(second), 1.0)
    assert tracker.apply(TaskProgress(None, 70), 2.0) == (TaskUpdated(first, 70),)


def test_missing_id_with_no_open_task_is_dropped_and_counted() -> None:
    tracker = TaskTracker()
    assert tracker.apply(TaskDone(None), 0.0) == ()
    assert only_drop(tracker) == "no_open_task"


def test_unknown_id_is_dropped_and_counted_never_invented() -> None:
    tracker = TaskTracker()
    start(tracker)
    assert tracker.apply(TaskDone("t9"), 0.0) == ()
    assert only_drop(tracker) == "unknown_task"
    assert [task.task_id for task in tracker.snapshot()] == ["t1"]


def test_malformed_id_is_dropped_as_bad_argument() -> None:
    tracker = TaskTracker()
    start(tracker)
    assert tracker.apply(TaskDone("t 1"), 0.0) == ()
    assert only_drop(tracker) == "bad_argument"


def test_progress_on_a_finished_task_is_dropped_as_not_open() -> None:
    tracker = TaskTracker()
    task_id = start(tracker)
    tracker.apply(TaskDone(task_id), 1.0)
    assert tracker.apply(TaskProgress(task_id, 50), 2.0) == ()
    assert only_drop(tracker) == "not_open"


def test_done_twice_is_dropped_the_second_time() -> None:
    tracker = TaskTracker()
    task_id = start(tracker)
    tracker.apply(TaskDone(task_id), 1.0)
    assert tracker.apply(TaskDone(task_id), 2.0) == ()
    assert only_drop(tracker) == "not_open"


@pytest.mark.parametrize("percent", [-1, 101])
def test_progress_out_of_range_is_dropped_as_bad_argument(percent: int) -> None:
    tracker = TaskTracker()
    start(tracker)
    assert tracker.apply(TaskProgress(None, percent), 0.0) == ()
    assert only_drop(tracker) == "bad_argument"


def test_fail_records_the_reason() -> None:
    tracker = TaskTracker()
    task_id = start(tracker)
    assert tracker.apply(TaskFail(None, "disk full"), 3.0) == (TaskFailed(task_id, "disk full"),)
    (record,) = tracker.snapshot()
    assert (record.status, record.reason, record.finished_at) == (
        TaskStatus.FAILED,
        "disk full",
        3.0,
    )


def test_fail_without_reason_uses_unknown_error() -> None:
    tracker = TaskTracker()
    task_id = start(tracker)
    assert tracker.apply(TaskFail(task_id), 0.0) == (TaskFailed(task_id, "unknown error"),)


@pytest.mark.parametrize("reason", ["", "x" * 1001, "é" * 501, "bad\x1b[2Jreason"])
def test_invalid_fail_reason_is_dropped_as_bad_argument(reason: str) -> None:
    tracker = TaskTracker()
    start(tracker)
    assert tracker.apply(TaskFail(None, reason), 0.0) == ()
    assert only_drop(tracker) == "bad_argument"


def test_focus_resolves_the_id() -> None:
    tracker = TaskTracker()
    task_id = start(tracker)
    assert tracker.apply(TaskFocus(None), 0.0) == (TaskFocus(task_id),)


def test_celebrate_also_plays_the_tada_reaction() -> None:
    tracker = TaskTracker()
    task_id = start(tracker)
    events = tracker.apply(TaskCelebrate(task_id), 0.0)
    assert events == (TaskCelebrate(task_id), PlayReaction(Reaction.TADA))


def test_celebrate_without_id_after_done_celebrates_the_most_recent_task() -> None:
    tracker = TaskTracker()
    task_id = start(tracker)
    tracker.apply(TaskDone(None), 1.0)
    assert tracker.apply(TaskCelebrate(None), 2.0)[0] == TaskCelebrate(task_id)


def test_focus_with_no_task_at_all_is_dropped() -> None:
    tracker = TaskTracker()
    assert tracker.apply(TaskFocus(None), 0.0) == ()
    assert only_drop(tracker) == "no_open_task"


# -- what a start may ask ------------------------------------------------------------------------


def test_start_for_an_agent_off_the_allow_list_is_dropped() -> None:
    tracker = TaskTracker()
    assert tracker.apply(TaskStart("hacker-man", "crimes"), 0.0) == ()
    assert only_drop(tracker) == "agent_not_allowed"


def test_allow_list_is_extendable() -> None:
    tracker = TaskTracker(agents={**DEFAULT_AGENTS, "bard": "Uncle Song"})
    assert tracker.apply(TaskStart("bard", "sing"), 0.0) == (
        TaskCreated("t1", "bard", "Uncle Song", "sing"),
    )


@pytest.mark.parametrize(
    "description", ["", "   ", "x" * 1001, "界" * 334, "tab\there", "\u202eevil"]
)
def test_invalid_description_is_dropped_as_bad_argument(description: str) -> None:
    tracker = TaskTracker()
    assert tracker.apply(TaskStart("qa-engineer", description), 0.0) == ()
    assert only_drop(tracker) == "bad_argument"


@pytest.mark.parametrize("description", ["x" * 1000, "界" * 333 + "x", "🦎 ok"])
def test_description_of_at_most_1000_bytes_is_valid(description: str) -> None:
    assert is_valid_description(description)


@pytest.mark.parametrize("task_id", ["t1", "A-b_9", "a" * 100])
def test_task_id_shapes_that_are_valid(task_id: str) -> None:
    assert is_valid_task_id(task_id)


@pytest.mark.parametrize("task_id", ["", "a" * 101, "t 1", "t1!", "té", "t1\n"])
def test_task_id_shapes_that_are_invalid(task_id: str) -> None:
    assert not is_valid_task_id(task_id)


# -- limits and pruning --------------------------------------------------------------------------


def test_twenty_first_active_task_is_dropped() -> None:
    tracker = TaskTracker()
    for _ in range(20):
        start(tracker)
    assert tracker.apply(TaskStart("qa-engineer", "one more"), 0.0) == ()
    assert only_drop(tracker) == "too_many_active"


def test_finishing_a_task_makes_room_for_another_active_one() -> None:
    tracker = TaskTracker()
    for _ in range(20):
        start(tracker)
    tracker.apply(TaskDone("t5"), 1.0)
    assert start(tracker, now=2.0) == "t21"


def fill_with_finished(tracker: TaskTracker, count: int, finished_at: float) -> None:
    for _ in range(count):
        task_id = start(tracker, now=finished_at)
        tracker.apply(TaskDone(task_id), finished_at)


def test_hundred_and_first_task_within_the_hour_is_dropped() -> None:
    tracker = TaskTracker()
    fill_with_finished(tracker, 100, finished_at=0.0)
    assert tracker.apply(TaskStart("qa-engineer", "more"), HOUR - 1) == ()
    assert only_drop(tracker) == "too_many_tasks"


def test_finished_tasks_older_than_an_hour_are_pruned_to_make_room() -> None:
    tracker = TaskTracker()
    fill_with_finished(tracker, 60, finished_at=0.0)
    fill_with_finished(tracker, 40, finished_at=HOUR)
    assert start(tracker, now=HOUR + 1) == "t101"
    ids = [task.task_id for task in tracker.snapshot()]
    assert len(ids) == 41
    assert ids[0] == "t61"


def test_running_tasks_are_never_pruned() -> None:
    tracker = TaskTracker()
    start(tracker, now=0.0)
    fill_with_finished(tracker, 99, finished_at=0.0)
    start(tracker, now=10 * HOUR)
    assert [task.task_id for task in tracker.snapshot()] == ["t1", "t101"]


def test_pruned_ids_are_not_reused_and_become_unknown() -> None:
    tracker = TaskTracker(max_total=1)
    fill_with_finished(tracker, 1, finished_at=0.0)
    assert start(tracker, now=HOUR) == "t2"
    assert tracker.apply(TaskCelebrate("t1"), HOUR) == ()
    assert only_drop(tracker) == "unknown_task"


# -- what the Conductor reads --------------------------------------------------------------------


def test_open_tasks_context_is_empty_without_open_tasks() -> None:
    tracker = TaskTracker()
    assert tracker.open_tasks_context() == ""
    tracker.apply(TaskDone(start(tracker)), 1.0)
    assert tracker.open_tasks_context() == ""


def test_open_tasks_context_names_open_ids_agents_and_descriptions() -> None:
    tracker = TaskTracker()
    start(tracker, "Build the API")
    tracker.apply(TaskStart("qa-engineer", "Write tests"), 0.0)
    start(tracker, "Finished already")
    tracker.apply(TaskDone("t3"), 1.0)
    assert tracker.open_tasks_context() == (
        "Open tasks: t1 (backend-engineer: Build the API), t2 (qa-engineer: Write tests)."
    )


def test_open_tasks_context_shortens_long_descriptions() -> None:
    tracker = TaskTracker()
    start(tracker, "word " * 100)
    context = tracker.open_tasks_context()
    assert len(context) < 120
    assert context.endswith("…).")


def test_snapshot_lists_tasks_oldest_first_with_their_state() -> None:
    tracker = TaskTracker()
    start(tracker, "a", now=1.0)
    start(tracker, "b", now=2.0)
    tracker.apply(TaskProgress("t1", 30), 3.0)
    first, second = tracker.snapshot()
    assert (first.task_id, first.percent, first.started_at, first.agent_name) == (
        "t1",
        30,
        1.0,
        "Uncle Marco",
    )
    assert (second.task_id, second.status) == ("t2", TaskStatus.RUNNING)


def test_active_count_counts_running_tasks_only() -> None:
    tracker = TaskTracker()
    start(tracker)
    start(tracker)
    tracker.apply(TaskFail("t1"), 1.0)
    assert tracker.active_count == 1


@pytest.mark.parametrize(("task_id", "issued"), [("t1", True), ("t204", True), ("t", False)])
def test_issued_ids_are_t_and_a_number(task_id: str, issued: bool) -> None:
    assert is_issued_task_id(task_id) is issued


@pytest.mark.parametrize("task_id", ["task-1", "T1", "t1a", "1"])
def test_other_id_shapes_are_not_issued_ones(task_id: str) -> None:
    assert not is_issued_task_id(task_id)

"""The view model: handlers fold messages in cheaply; ``take`` hands over only what changed."""

from __future__ import annotations

from aiway.actors.avatar import default_sprites
from aiway.actors.protocol import (
    AnswerStatus,
    AvatarFrame,
    ConversationState,
    HistoryEntry,
    Message,
    Metrics,
    Notify,
    NotifyLevel,
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
    TaskUpdated,
    Token,
)
from aiway.actors.protocol.avatar import Animation, AvatarSize
from aiway.ui.tui.viewmodel import ASSISTANT, NOTE, STREAMING, USER, ViewModel


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def model(**kwargs: object) -> tuple[ViewModel, list[int]]:
    wakes: list[int] = []
    view = ViewModel(wake=lambda: wakes.append(1), **kwargs)  # type: ignore[arg-type]
    return view, wakes


def frame(x: int) -> AvatarFrame:
    sheet = default_sprites().sheet(AvatarSize.MEDIUM)
    rows = sheet.frames(Animation.IDLE)[0].rows
    return AvatarFrame(AvatarSize.MEDIUM, Animation.IDLE, 0, x, 0, True, rows)


def test_tokens_arrive_as_the_text_added_since_the_last_take() -> None:
    view, _ = model()
    view.publish(Message("a1", Role.ASSISTANT, ""), 1)
    first = view.take().entries
    assert [(e.kind, e.text, e.full, e.status) for e in first] == [(ASSISTANT, "", True, STREAMING)]
    view.publish(Token("a1", "Hel"), 2)
    view.publish(Token("a1", "lo"), 3)
    (entry,) = view.take().entries
    assert (entry.text, entry.full) == ("Hello", False)
    view.publish(Token("a1", "!"), 4)
    assert view.take().entries[0].text == "!"


def test_the_ui_is_woken_once_until_it_takes() -> None:
    view, wakes = model()
    for n in range(5):
        view.publish(Token("a1", str(n)), n)
    assert len(wakes) == 1
    view.take()
    view.publish(Token("a1", "x"), 9)
    assert len(wakes) == 2


def test_only_the_newest_avatar_frame_is_handed_over() -> None:
    view, _ = model()
    older, newer = frame(1), frame(2)
    view.avatar(older)
    view.avatar(newer)
    assert view.take().avatar is newer
    assert view.take().avatar is None


def test_metrics_are_an_overwritten_slot_too() -> None:
    view, _ = model()
    view.metrics(Metrics((), dead_letters=1))
    latest = Metrics((), dead_letters=2)
    view.metrics(latest)
    assert view.take().metrics is latest


def test_stream_end_replaces_the_text_and_carries_the_metadata() -> None:
    view, _ = model()
    view.publish(Message("a1", Role.ASSISTANT, ""), 1)
    view.publish(Token("a1", "Hi"), 2)
    view.take()
    meta = ResponseMetadata(model="m", tokens=1)
    view.publish(StreamEnd("a1", "Hi!", meta, AnswerStatus.CANCELLED), 3)
    (entry,) = view.take().entries
    assert (entry.text, entry.full, entry.status, entry.metadata) == (
        "Hi!",
        True,
        "cancelled",
        meta,
    )


def test_errors_and_notices_are_never_swallowed() -> None:
    view, _ = model()
    view.publish(Message("a1", Role.ASSISTANT, ""), 1)
    view.publish(StreamError("a1", "connection reset", "par"), 2)
    view.publish(Notify(NotifyLevel.ERROR, "the model could not answer", "connection reset"), 3)
    entries = view.take().entries
    assert (entries[0].status, entries[0].error, entries[0].text) == (
        "error",
        "connection reset",
        "par",
    )
    assert (entries[1].kind, entries[1].level, entries[1].title) == (
        NOTE,
        "error",
        "the model could not answer",
    )


def test_the_status_follows_state_session_and_the_answers_token_count() -> None:
    clock = Clock()
    view, _ = model(clock=clock)
    view.publish(SessionInfo("s", "llama", "ollama"), 1)
    view.publish(State(ConversationState.RESPONDING), 2)
    view.publish(Message("a1", Role.ASSISTANT, ""), 3)
    view.publish(Token("a1", "a"), 4)
    clock.now += 1
    view.publish(Token("a1", "b"), 5)
    status = view.take().status
    assert status is not None
    assert (status.state, status.model, status.answer_tokens, status.answer_started) == (
        ConversationState.RESPONDING,
        "llama",
        2,
        100.0,
    )
    assert view.take().status is None


def test_a_snapshot_resets_the_conversation() -> None:
    view, _ = model()
    view.publish(Message("u1", Role.USER, "old"), 1)
    view.take()
    snapshot = StateSnapshot(
        history=(HistoryEntry("u2", Role.USER, "kept"),),
        state=ConversationState.RESPONDING,
        session=SessionInfo("s", "m", "b"),
        avatar=None,
        last_seq=40,
        streaming=HistoryEntry("a3", Role.ASSISTANT, "so far"),
    )
    view.snapshot(snapshot)
    changes = view.take()
    assert changes.reset
    assert [(e.kind, e.text, e.status) for e in changes.entries] == [
        (USER, "kept", "complete"),
        (ASSISTANT, "so far", STREAMING),
        (NOTE, "model m on b", "complete"),
    ]
    assert changes.status is not None and changes.status.last_seq == 40


def tail_snapshot(session: str, *ids: str) -> StateSnapshot:
    return StateSnapshot(
        history=tuple(HistoryEntry(i, Role.USER, f"text {i}") for i in ids),
        state=ConversationState.READY,
        session=SessionInfo(session, "m", "b"),
        avatar=None,
        last_seq=50,
    )


def test_a_snapshot_of_the_conversations_tail_keeps_what_is_shown_before_it() -> None:
    """A core placed anew is seeded with the saved tail: the earlier turns stay shown."""
    view, _ = model()
    view.snapshot(tail_snapshot("s", "u1", "u2", "u3", "u4"))
    view.take()
    view.snapshot(tail_snapshot("s", "u3", "u4", "u5"))
    changes = view.take()
    assert changes.reset
    users = [e.text for e in changes.entries if e.kind == USER]
    assert users == [f"text u{n}" for n in range(1, 6)]


def test_a_snapshot_of_another_session_or_not_a_tail_starts_over() -> None:
    view, _ = model()
    view.snapshot(tail_snapshot("s", "u1", "u2"))
    view.snapshot(tail_snapshot("other", "u2", "u3"))
    assert [e.text for e in view.take().entries if e.kind == USER] == ["text u2", "text u3"]
    view.snapshot(tail_snapshot("other", "u9"))
    assert [e.text for e in view.take().entries if e.kind == USER] == ["text u9"]


def test_the_history_is_bounded_and_the_ui_learns_what_fell_out() -> None:
    view, _ = model(history_limit=10)
    for n in range(30):
        view.publish(Message(f"u{n}", Role.USER, str(n)), n)
    changes = view.take()
    kept = [e for e in changes.entries if e.serial >= changes.first_serial]
    assert len(kept) <= 10 + 8
    assert kept[-1].text == "29"


def test_task_cards_open_progress_and_finish() -> None:
    clock = Clock()
    view, _ = model(clock=clock)
    view.publish(TaskCreated("t1", "cook", "Chef", "soup"), 1)
    view.publish(TaskUpdated("t1", 40), 2)
    tasks = view.take().tasks
    assert tasks is not None and (tasks[0].percent, tasks[0].status) == (40, "running")
    view.publish(TaskCompleted("t1"), 3)
    tasks = view.take().tasks
    assert tasks is not None and (tasks[0].status, tasks[0].finished_at) == ("done", 100.0)
    view.forget_finished_tasks(before=101.0)
    assert view.take().tasks == ()


def test_quit_is_reported() -> None:
    view, _ = model()
    view.publish(Quit("/quit"), 1)
    assert view.take().quit == "/quit"

"""The Conductor taking a saved session: at start, and mid-conversation (/resume, /new)."""

from __future__ import annotations

from aiway.actors.conductor import Conductor, ConductorSettings
from aiway.actors.protocol import (
    AnswerStatus,
    CancelStream,
    HistoryEntry,
    Notify,
    ResponseMetadata,
    Role,
    SessionInfo,
    StartStream,
    StreamChunk,
    StreamDone,
    StreamEnd,
    TaskCreated,
    TaskStart,
    TaskStatus,
    TaskUpdated,
    UserMessage,
)
from aiway.actors.registry import RestoreHistory
from aiway.actors.runtime import ActorRef
from aiway.actors.runtime.testing import Probe
from aiway.actors.store.messages import HISTORY_OFF, ResumeSession, StoreCommand
from aiway.actors.store.records import StoredTask

SAVED = ResumeSession(
    "s-saved",
    (
        HistoryEntry("h1", Role.USER, "¿hola?"),
        HistoryEntry("h2", Role.ASSISTANT, "¡hola! 🦎", AnswerStatus.COMPLETE, ResponseMetadata()),
        HistoryEntry("h3", Role.USER, "and then"),
        HistoryEntry("h4", Role.ASSISTANT, "cut", AnswerStatus.INTERRUPTED),
    ),
    (
        StoredTask("t1", "qa-engineer", "The Intern", "done one", 100, TaskStatus.DONE, None, 1, 2),
        StoredTask(
            "t2", "qa-engineer", "The Intern", "open one", 40, TaskStatus.RUNNING, None, 1, 2
        ),
    ),
    note="resumed: a saved chat",
)


def make(*, resumed: ResumeSession | None = None, store: bool = True) -> tuple[Probe, Conductor]:
    unset = ActorRef("unset", None, lambda name, msg: None)
    conductor = Conductor(
        ConductorSettings(model="m", session_id="s-new"),
        registry=unset,
        stream_manager=unset,
        resumed=resumed,
    )
    probe = Probe(conductor, "conductor", start=False)
    conductor.registry = probe.ref("registry")
    conductor.stream_manager = probe.ref("streams")
    conductor.store = probe.ref("store") if store else None
    conductor.on_start(probe)
    return probe, conductor


def test_a_session_resumed_at_start_seeds_the_history_the_tasks_and_the_snapshot() -> None:
    probe, conductor = make(resumed=SAVED)

    (info,) = probe.sent(SessionInfo)
    (restore,) = probe.sent(RestoreHistory)
    probe.send(UserMessage("go on"))
    (request,) = probe.sent(StartStream)

    assert info.session_id == "s-saved"
    assert restore.history == SAVED.history
    assert restore.tasks == (
        TaskCreated("t2", "qa-engineer", "The Intern", "open one"),
        TaskUpdated("t2", 40),
    )
    contents = [turn.content for turn in request.messages]
    assert contents[-5:] == ["¿hola?", "¡hola! 🦎", "and then", "cut", "go on"]
    assert "t2 (qa-engineer: open one)" in request.messages[0].content
    assert "t1" not in request.messages[0].content
    assert conductor.tasks.apply(TaskStart("qa-engineer", "x"), 1.0)[0] == TaskCreated(
        "t3", "qa-engineer", "The Intern", "x"
    )


def test_resuming_mid_answer_ends_it_cancelled_in_its_own_session_first() -> None:
    probe, conductor = make()
    probe.send(UserMessage("long question"))
    (request,) = probe.sent(StartStream)
    probe.send(StreamChunk(request.request_id, "half an "))
    probe.clear()

    probe.send(SAVED)
    probe.send(StreamDone(request.request_id, ResponseMetadata()))  # the old stream's end

    told = [msg for _, msg in probe.told]
    kinds = [type(msg) for msg in told]
    assert kinds.index(StreamEnd) < kinds.index(SessionInfo) < kinds.index(RestoreHistory)
    (end,) = probe.sent(StreamEnd)
    assert (end.content, end.status) == ("half an ", AnswerStatus.CANCELLED)
    assert probe.sent(CancelStream) == [CancelStream(request.request_id)]
    (notice,) = [n for n in probe.sent(Notify) if n.title == "conversation"]
    assert notice.text == "resumed: a saved chat"
    assert [turn.content for turn in conductor.history] == [e.content for e in SAVED.history]
    assert conductor.answer is None and conductor.session_info().session_id == "s-saved"


def test_history_commands_go_to_the_store_or_say_the_history_is_off() -> None:
    probe, _ = make()
    off, _ = make(store=False)

    probe.send(UserMessage("/resume 3f2a"))
    off.send(UserMessage("/sessions"))

    assert probe.inbox("store") == [StoreCommand("resume", "3f2a")]
    (notice,) = off.sent(Notify)
    assert notice.text == HISTORY_OFF

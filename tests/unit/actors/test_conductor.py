"""The Conductor as a behaviour: fed messages by a probe, no event loop at all."""

from __future__ import annotations

from aiway.actors.conductor import Conductor, ConductorSettings, PlacedAgain
from aiway.actors.protocol import (
    AnswerStatus,
    Cancel,
    CancelStream,
    ConversationState,
    HistoryEntry,
    Message,
    Notify,
    PlayGesture,
    Quit,
    ResponseMetadata,
    Role,
    SetMood,
    StartStream,
    State,
    StreamChunk,
    StreamDone,
    StreamEnd,
    StreamError,
    StreamFailed,
    TaskCreated,
    Token,
    UserCommand,
    UserMessage,
)
from aiway.actors.protocol.avatar import Gesture, Mood
from aiway.actors.runtime import ActorRef
from aiway.actors.runtime.testing import Probe
from aiway.actors.store.messages import ResumeSession
from aiway.actors.stream_manager import ListModels, ModelList

META = ResponseMetadata(model="m", tokens=3)


def make(**overrides: object) -> tuple[Probe, Conductor]:
    settings = ConductorSettings(model="m", system_prompt="be kind", **overrides)  # type: ignore[arg-type]
    unset = ActorRef("unset", None, lambda name, msg: None)
    conductor = Conductor(settings, registry=unset, stream_manager=unset, avatar=unset)
    probe = Probe(conductor, "conductor", start=False)
    conductor.registry = probe.ref("registry")
    conductor.stream_manager = probe.ref("streams")
    conductor.avatar = probe.ref("avatar")
    conductor.on_start(probe)
    probe.clear()
    return probe, conductor


def published(probe: Probe) -> list[object]:
    return [msg for ref, msg in probe.told if ref.name == "registry"]


def start(probe: Probe, text: str = "hi") -> StartStream:
    probe.send(UserMessage(text))
    (request,) = probe.sent(StartStream)
    return request


def test_user_message_starts_a_stream_with_system_prompt_and_history() -> None:
    probe, _ = make()
    request = start(probe, "hello")
    assert [(t.role, t.content) for t in request.messages] == [
        ("system", "be kind"),
        ("user", "hello"),
    ]
    out = published(probe)
    assert out[0] == Message("u1", Role.USER, "hello")
    assert State(ConversationState.THINKING) in out
    assert Message("a3", Role.ASSISTANT, "") in out


def test_tags_are_stripped_from_tokens_and_the_final_text() -> None:
    probe, _ = make()
    request = start(probe)
    for piece in ["Hola [yol", "la:wave] amigo", " [yolla:mood happy]!"]:
        probe.send(StreamChunk(request.request_id, piece))
    probe.send(StreamDone(request.request_id, META))
    tokens = "".join(m.text for m in probe.sent(Token))
    (end,) = probe.sent(StreamEnd)
    assert tokens == end.content == "Hola  amigo !"
    assert end.status is AnswerStatus.COMPLETE
    commands = [m for m in probe.inbox("avatar") if not isinstance(m, State)]
    assert commands == [PlayGesture(Gesture.WAVE), SetMood(Mood.HAPPY)]
    assert State(ConversationState.RESPONDING) in published(probe)
    assert published(probe)[-1] == State(ConversationState.READY)


def test_task_tags_become_task_events_and_ids_reach_the_next_context() -> None:
    probe, _ = make()
    request = start(probe)
    probe.send(StreamChunk(request.request_id, '[yolla:task start qa-engineer "Test it"]ok'))
    probe.send(StreamDone(request.request_id, META))
    (created,) = probe.sent(TaskCreated)
    assert created.task_id == "t1"
    assert created.agent_name == "The Intern"
    probe.clear()
    second = start(probe, "next")
    assert "t1" in second.messages[0].content


def test_cancel_keeps_the_partial_answer_marked_cancelled() -> None:
    probe, _ = make()
    request = start(probe)
    probe.send(StreamChunk(request.request_id, "partial "))
    probe.send(Cancel())
    assert probe.sent(CancelStream) == [CancelStream(request.request_id)]
    probe.send(StreamChunk(request.request_id, "late"))  # already queued: not shown
    probe.send(StreamDone(request.request_id, ResponseMetadata(done_reason="cancelled")))
    (end,) = probe.sent(StreamEnd)
    assert end.content == "partial "
    assert end.status is AnswerStatus.CANCELLED
    assert published(probe)[-1] == State(ConversationState.READY)


def test_failure_keeps_partial_text_and_notifies() -> None:
    probe, _ = make()
    request = start(probe)
    probe.send(StreamChunk(request.request_id, "half"))
    probe.send(StreamFailed(request.request_id, "no Ollama server", META))
    (error,) = probe.sent(StreamError)
    assert (error.partial, error.error) == ("half", "no Ollama server")
    assert any(n.text == "no Ollama server" for n in probe.sent(Notify))
    assert published(probe)[-1] == State(ConversationState.READY)


def test_message_while_streaming_is_queued_and_answered_next() -> None:
    probe, _ = make()
    request = start(probe, "first")
    probe.send(UserMessage("second"))
    assert len(probe.sent(StartStream)) == 1
    probe.send(StreamDone(request.request_id, META))
    follow_up = probe.sent(StartStream)[-1]
    assert follow_up.messages[-1].content == "second"


def test_retry_answers_the_last_message_again() -> None:
    probe, _conductor = make()
    request = start(probe, "q")
    probe.send(StreamChunk(request.request_id, "a"))
    probe.send(StreamDone(request.request_id, META))
    probe.clear()
    probe.send(UserCommand("retry"))
    (again,) = probe.sent(StartStream)
    assert [t.content for t in again.messages[1:]] == ["q"]


def test_model_command_checks_the_installed_list() -> None:
    probe, conductor = make()
    probe.send(UserMessage("/model nope"))
    (_ask,) = probe.sent(ListModels)
    probe.send(ModelList(("llama3.2:latest", "qwen")))
    assert "not found; installed: llama3.2:latest, qwen" in probe.sent(Notify)[-1].text
    probe.send(UserCommand("model", "llama3.2"))
    probe.send(ModelList(("llama3.2:latest",)))
    assert conductor.model == "llama3.2"


def test_unknown_command_is_named() -> None:
    probe, _ = make()
    probe.send(UserMessage("/dance"))
    assert "/dance is not a command" in probe.sent(Notify)[-1].text


def test_quit_tells_surfaces() -> None:
    probe, _ = make()
    probe.send(UserCommand("quit"))
    assert isinstance(published(probe)[-1], Quit)


def test_stale_chunks_from_another_request_are_ignored() -> None:
    probe, _ = make()
    start(probe)
    probe.send(StreamChunk("other", "x"))
    assert probe.sent(Token) == []


def test_a_conductor_placed_again_makes_ids_the_lost_one_never_made() -> None:
    # the lost Conductor's ids: u1, r2, a3 (and a stream r2 that may still send text)
    lost, _ = make()
    first = start(lost)
    probe, _ = make()
    probe.send(PlacedAgain(1))

    request = start(probe, "again")

    ids = [m.id for m in published(probe) if isinstance(m, Message)]
    assert ids == ["u1.1", "a1.3"] and request.request_id == "r1.2"
    assert first.request_id == "r2"
    # text of the lost request is not taken for the new answer
    probe.send(StreamChunk(first.request_id, "old"))
    assert not [m for m in published(probe) if isinstance(m, Token)]


def test_ids_continue_past_those_of_a_restored_conversation() -> None:
    probe, _ = make()
    probe.send(PlacedAgain(2))
    probe.send(
        ResumeSession(
            "s",
            (
                HistoryEntry("u2.7", Role.USER, "hi"),
                HistoryEntry("a9", Role.ASSISTANT, "hello"),
            ),
        )
    )

    request = start(probe, "again")

    assert request.request_id == "r2.11"

"""The Store actor as a behaviour: fed published messages by a probe, writes recorded by a fake."""

from __future__ import annotations

import itertools
from pathlib import Path

import attrs

from aiway.actors.protocol import (
    AnswerStatus,
    ConversationState,
    HistoryEntry,
    Message,
    Notify,
    NotifyLevel,
    Published,
    Role,
    SessionInfo,
    StateSnapshot,
    StreamEnd,
    StreamError,
    TaskCompleted,
    TaskCreated,
    TaskStatus,
    TaskUpdated,
    Token,
)
from aiway.actors.registry import GetStreamingText, StreamingText
from aiway.actors.runtime import ActorRef
from aiway.actors.runtime.testing import Probe
from aiway.actors.store.actor import StoreActor
from aiway.actors.store.errors import StoreLocked
from aiway.actors.store.history import WriteDone
from aiway.actors.store.messages import SETTLED, Settle
from aiway.actors.store.records import (
    AppendMessage,
    CreateTask,
    EnsureSession,
    InsertMessage,
    LoadedSession,
    MessageState,
    StoredSession,
    UpdateMessage,
    UpdateTask,
    WriteOp,
)
from tests.unit.actors.store.support import META, opened


class FakeStore:
    """Records each transaction; the test decides when (and how) it ends."""

    path = Path("/nowhere/aiway.sqlite3")

    def __init__(self) -> None:
        self.batches: list[tuple[WriteOp, ...]] = []
        self.unanswered: list[WriteDone | None] = []
        self._keys = itertools.count(1)

    def new_key(self) -> int:
        return next(self._keys)

    def write(self, ops: tuple[WriteOp, ...], on_done: WriteDone | None = None) -> None:
        self.batches.append(ops)
        self.unanswered.append(on_done)

    def end(self, error: BaseException | None = None) -> None:
        """The oldest transaction in flight ends."""
        callback = self.unanswered.pop(0)
        assert callback is not None
        callback(error)

    def ops(self) -> list[WriteOp]:
        return [op for batch in self.batches for op in batch]


class Harness:
    """A probe around a StoreActor that also delivers what the actor tells itself."""

    def __init__(self, resumed: LoadedSession | None = None, write_delay: float = 0.0) -> None:
        self.store = FakeStore()
        unset = ActorRef("unset", None, lambda name, msg: None)
        self.actor = StoreActor(
            self.store,  # type: ignore[arg-type]  # only the write path is used here
            registry=unset,
            conductor=unset,
            session_id="s1",
            model="tiny",
            checkpoint_interval=0.5,
            write_delay=write_delay,
            resumed=resumed,
            clock=lambda: 5.0,
        )
        self.probe = Probe(self.actor, name="surface:store")
        self.actor.registry = self.probe.ref("registry")
        self.actor.conductor = self.probe.ref("conductor")
        self._seen = 0
        self.seq = 0

    def publish(self, *messages: object) -> None:
        for message in messages:
            self.seq += 1
            self.probe.send(Published(self.seq, message))
        self.pump()

    def pump(self) -> None:
        """Deliver what the actor told itself (write results) and its zero-delay timers."""
        inbox = self.probe.inbox(self.probe.self_ref)
        while True:
            if self._seen < len(inbox):
                message = inbox[self._seen]
                self._seen += 1
                self.probe.send(message)
            elif not self.probe.advance(0.0):
                return

    def end(self, error: BaseException | None = None) -> None:
        self.store.end(error)
        self.pump()

    def advance(self, seconds: float) -> None:
        self.probe.advance(seconds)
        self.pump()

    def asked(self) -> int:
        """How many times the actor asked the registry for the streaming text."""
        return sum(isinstance(m, GetStreamingText) for m in self.probe.inbox("registry"))

    def reply(self, text: StreamingText) -> None:
        self.probe.send(text)
        self.pump()

    def notices(self) -> list[Notify]:
        return [m for m in self.probe.inbox("registry") if isinstance(m, Notify)]


def test_a_user_message_creates_the_session_titled_by_it_in_one_transaction() -> None:
    h = Harness()

    h.publish(Message("u1", Role.USER, "hola 🦎\nmore"))

    (batch,) = h.store.batches
    ensure, insert = batch
    assert ensure == EnsureSession("s1", "tiny", "", 5.0, title="hola 🦎")
    assert isinstance(insert, InsertMessage)
    assert (insert.session_id, insert.role, insert.content, insert.state) == (
        "s1",
        Role.USER,
        "hola 🦎\nmore",
        MessageState.COMPLETE,
    )


def test_an_answer_gets_its_row_at_the_first_checkpoint_or_before_the_next_message() -> None:
    h = Harness()
    h.publish(Message("u1", Role.USER, "q"), Message("a1", Role.ASSISTANT, ""))
    h.end()
    assert [type(op) for op in h.store.batches[0]] == [EnsureSession, InsertMessage]

    h.publish(Message("u2", Role.USER, "queued while it streams"))
    h.end()

    answer, queued = h.store.batches[1]
    assert isinstance(answer, InsertMessage) and isinstance(queued, InsertMessage)
    assert (answer.role, answer.state) == (Role.ASSISTANT, MessageState.STREAMING)
    assert queued.content == "queued while it streams", "rows keep the published order"


def test_a_streaming_answer_is_checkpointed_once_per_interval_from_the_registry() -> None:
    h = Harness()
    h.publish(Message("a1", Role.ASSISTANT, ""), Token("a1", "tokens are not for the store"))
    assert h.store.batches == []

    h.advance(0.49)
    assert h.asked() == 0
    h.advance(0.01)
    h.reply(StreamingText("a1", "Hola"))
    h.advance(0.5)
    h.reply(StreamingText("a1", "Hola amigo"))
    h.advance(0.5)
    h.reply(StreamingText("a1", "Hola amigo"))  # nothing new: nothing to write
    assert len(h.store.unanswered) == 1, "the next one waits for the first to end"
    h.end()
    h.end()

    ensure, first, *checkpoints = h.store.ops()
    assert isinstance(ensure, EnsureSession) and isinstance(first, InsertMessage)
    assert (first.content, first.state) == ("Hola", MessageState.STREAMING)
    assert checkpoints == [AppendMessage(first.key, 4, " amigo")], "only the new text"
    assert h.asked() == 3


def test_a_reply_that_comes_after_the_end_changes_nothing() -> None:
    h = Harness()
    h.publish(Message("a1", Role.ASSISTANT, ""))
    h.advance(0.5)

    h.publish(StreamEnd("a1", "Hola amigo", META))
    h.reply(StreamingText(None))
    h.reply(StreamingText("a1", "Hola"))
    h.end()

    _, answer = h.store.ops()
    assert isinstance(answer, InsertMessage)
    assert (answer.content, answer.state) == ("Hola amigo", MessageState.COMPLETE)
    assert h.probe.timers == {}


def test_a_short_answer_is_one_write_when_it_ends_with_its_state_and_metadata() -> None:
    h = Harness()
    h.publish(Message("a1", Role.ASSISTANT, ""))

    h.publish(StreamEnd("a1", "Hola", META, AnswerStatus.CANCELLED))
    h.end()

    assert h.probe.timers == {}
    ensure, final = h.store.ops()
    assert isinstance(ensure, EnsureSession) and isinstance(final, InsertMessage)
    assert (final.content, final.state) == ("Hola", MessageState.CANCELLED)
    assert final.metadata is not None and '"tokens":3' in final.metadata


def test_the_end_of_a_checkpointed_answer_updates_its_row() -> None:
    h = Harness()
    h.publish(Message("a1", Role.ASSISTANT, ""))
    h.advance(0.5)
    h.reply(StreamingText("a1", "Ho"))
    h.end()

    h.publish(StreamEnd("a1", "Hola", META))
    h.end()

    final = h.store.ops()[-1]
    assert isinstance(final, UpdateMessage)
    assert (final.content, final.state) == ("Hola", MessageState.COMPLETE)


def test_a_failed_answer_is_saved_as_an_error_with_its_partial_text() -> None:
    h = Harness()
    h.publish(Message("a1", Role.ASSISTANT, ""))

    h.publish(StreamError("a1", "model crashed", "half"))
    h.end()

    final = h.store.ops()[-1]
    assert isinstance(final, InsertMessage)
    assert (final.content, final.state, final.metadata) == (
        "half",
        MessageState.ERROR,
        '{"error":"model crashed"}',
    )


def test_writes_that_arrive_within_the_write_delay_go_in_one_transaction() -> None:
    h = Harness(write_delay=0.02)
    h.publish(Message("u1", Role.USER, "q"), Message("a1", Role.ASSISTANT, ""))
    h.probe.advance(0.01)
    h.publish(StreamEnd("a1", "short answer", META))
    assert h.store.batches == []

    h.advance(0.01)

    (batch,) = h.store.batches
    assert [type(op) for op in batch] == [EnsureSession, InsertMessage, InsertMessage]
    assert h.probe.timers == {}


def test_a_checkpoint_is_asked_for_early_by_the_write_delay() -> None:
    h = Harness(write_delay=0.02)
    h.publish(Message("a1", Role.ASSISTANT, ""))

    h.probe.advance(0.47)
    assert h.asked() == 0
    h.probe.advance(0.01)

    assert h.asked() == 1


def test_what_arrives_while_a_transaction_is_in_flight_goes_in_the_next_one_together() -> None:
    h = Harness()
    h.publish(Message("u1", Role.USER, "one"))
    h.publish(Message("u2", Role.USER, "two"), Message("u3", Role.USER, "three"))
    h.publish(Message("u4", Role.USER, "four"))
    assert len(h.store.batches) == 1

    h.end()

    assert [len(batch) for batch in h.store.batches] == [2, 3]


def test_a_failed_transaction_is_retried_with_backoff_and_the_person_told_once() -> None:
    h = Harness()
    h.publish(Message("u1", Role.USER, "one"))

    h.end(StoreLocked("locked for 5 s"))
    h.publish(Message("u2", Role.USER, "two"))
    assert len(h.store.batches) == 1, "nothing is written during the backoff"
    h.advance(0.5)
    assert [len(batch) for batch in h.store.batches] == [2, 3]
    h.end(StoreLocked("still locked"))
    h.advance(0.99)
    assert len(h.store.batches) == 2, "the backoff doubled"
    h.advance(0.01)
    h.end()

    assert h.store.batches[2] == h.store.batches[1]
    levels = [(n.level, n.text.split(":")[0]) for n in h.notices()]
    assert levels == [
        (NotifyLevel.WARNING, "could not save"),
        (NotifyLevel.INFO, "saving to /nowhere/aiway.sqlite3 again"),
    ]
    assert (h.actor.writes.saved_batches, h.actor.writes.failed_batches) == (1, 2)


def test_a_new_session_id_starts_a_new_session_row() -> None:
    h = Harness()
    h.publish(Message("u1", Role.USER, "one"))
    h.end()

    h.publish(SessionInfo("s2", "other", "ollama"), Message("u2", Role.USER, "two"))

    ensure, insert = h.store.batches[1]
    assert ensure == EnsureSession("s2", "other", "", 5.0, title="two")
    assert isinstance(insert, InsertMessage) and insert.session_id == "s2"


def test_tasks_are_saved_with_the_answer_that_opened_them() -> None:
    h = Harness()
    h.publish(Message("a1", Role.ASSISTANT, ""))

    h.publish(
        TaskCreated("t1", "qa-engineer", "The Intern", "test it"),
        TaskUpdated("t1", 50),
        TaskCompleted("t1"),
    )

    _, answer, created, updated, completed = h.store.batches[0]
    assert isinstance(answer, InsertMessage) and isinstance(created, CreateTask)
    assert created.message_key == answer.key
    assert updated == UpdateTask("s1", "t1", 5.0, percent=50, status=TaskStatus.RUNNING)
    assert completed == UpdateTask("s1", "t1", 5.0, percent=100, status=TaskStatus.DONE)


def test_stopping_mid_answer_keeps_the_last_checkpoint_as_interrupted() -> None:
    h = Harness()
    h.publish(Message("a1", Role.ASSISTANT, ""))
    h.advance(0.5)
    h.reply(StreamingText("a1", "cut short"))

    h.actor.on_stop(h.probe)

    final = h.store.batches[-1][-1]
    assert isinstance(final, UpdateMessage)
    assert (final.content, final.state) == ("cut short", MessageState.INTERRUPTED)
    assert h.store.unanswered[-1] is None, "nobody is told once the actor has stopped"


def test_a_resync_snapshot_saves_what_was_missed_and_skips_what_is_saved() -> None:
    loaded = LoadedSession(
        StoredSession("s1", "t", "tiny", "", 1.0, 2.0, 1),
        (HistoryEntry("h1", Role.USER, "from disk"),),
        (),
    )
    h = Harness(resumed=loaded)
    h.publish(Message("u2", Role.USER, "seen"))
    h.end()

    snapshot = StateSnapshot(
        history=(
            HistoryEntry("h1", Role.USER, "from disk"),
            HistoryEntry("u2", Role.USER, "seen"),
            HistoryEntry("u3", Role.USER, "missed"),
            HistoryEntry("a4", Role.ASSISTANT, "missed answer", AnswerStatus.COMPLETE, META),
        ),
        state=ConversationState.RESPONDING,
        session=SessionInfo("s1", "tiny", "ollama"),
        avatar=None,
        last_seq=h.seq + 5,
        streaming=HistoryEntry("a6", Role.ASSISTANT, "so far"),
        tasks=(TaskCreated("t1", "qa-engineer", "The Intern", "x"),),
    )
    h.probe.send(snapshot)
    h.pump()
    h.publish(StreamEnd("a6", "so far and on", META))
    h.end()

    inserted = [
        (op.role, op.content, op.state) for op in h.store.ops() if isinstance(op, InsertMessage)
    ]
    assert inserted == [
        (Role.USER, "seen", MessageState.COMPLETE),
        (Role.USER, "missed", MessageState.COMPLETE),
        (Role.ASSISTANT, "missed answer", MessageState.COMPLETE),
        (Role.ASSISTANT, "so far", MessageState.STREAMING),
    ]
    final = h.store.ops()[-1]
    assert isinstance(final, UpdateMessage) and final.content == "so far and on"
    assert any(isinstance(op, CreateTask) for op in h.store.ops())


def test_a_snapshot_with_nothing_missed_writes_nothing() -> None:
    h = Harness()
    h.publish(Message("u1", Role.USER, "one"))
    h.end()
    snapshot = StateSnapshot(
        history=(HistoryEntry("zz", Role.USER, "restored elsewhere"),),
        state=ConversationState.READY,
        session=SessionInfo("s1", "tiny", "ollama"),
        avatar=None,
        last_seq=h.seq,
    )

    h.probe.send(snapshot)
    h.pump()

    assert len(h.store.batches) == 1


def _text_bytes(op: WriteOp) -> int:
    """The bytes of text an operation carries to the store's thread."""
    return sum(len(str(v).encode()) for v in attrs.astuple(op) if isinstance(v, str))


def test_a_long_answer_costs_each_checkpoint_only_its_new_text(tmp_path: Path) -> None:
    h = Harness()
    h.publish(Message("a1", Role.ASSISTANT, ""))
    text = ""
    carried: list[int] = []
    grew: list[int] = []
    wal = tmp_path / "h.sqlite3-wal"
    with opened(tmp_path / "h.sqlite3") as db:
        for n in range(40):
            text += f"{n:04d} ñandú 🦎 " * 125  # about 2.4 KB more each half second
            h.advance(0.5)
            h.reply(StreamingText("a1", text))
            batch = h.store.batches[-1]
            before = wal.stat().st_size
            db.apply(batch)
            grew.append(wal.stat().st_size - before)
            carried.append(sum(_text_bytes(op) for op in batch))
            h.end()
        saved = db.transcript("s1").messages[0].content

    assert saved == text
    new = len((f"{0:04d} ñandú 🦎 " * 125).encode())
    assert max(carried[1:]) <= new + 64, "a checkpoint carries the new text, not the whole"
    early, late = sum(grew[2:7]) / 5, sum(grew[-5:]) / 5
    assert late <= early + 4200, f"WAL bytes per checkpoint grew with the answer: {grew}"


def test_settle_hands_over_what_waits_out_the_write_delay_then_answers() -> None:
    """A core placed anew reads the conversation after ``Settle``: it sees the last turn."""
    h = Harness(write_delay=60.0)
    h.publish(Message("u1", Role.USER, "q"))
    assert h.store.batches == [], "it waits out the write delay"
    asker = h.probe.ref("asker")

    h.probe.send(Settle(asker))

    (batch,) = h.store.batches
    assert [type(op) for op in batch] == [EnsureSession, InsertMessage]
    assert h.probe.inbox(asker) == [SETTLED]


def test_settle_while_a_transaction_is_in_flight_answers_after_the_next_is_handed_over() -> None:
    h = Harness()
    h.publish(Message("u1", Role.USER, "one"))
    h.publish(Message("u2", Role.USER, "two"))  # waits for the transaction in flight
    asker = h.probe.ref("asker")

    h.probe.send(Settle(asker))
    assert h.probe.inbox(asker) == []

    h.end()
    assert [len(batch) for batch in h.store.batches] == [2, 1]
    assert h.probe.inbox(asker) == [SETTLED]

"""Writing and reading conversations: transactions, checkpoints, titles, tails, selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiway.actors.protocol import AnswerStatus, Role, TaskStatus
from aiway.actors.store.database import HistoryDatabase
from aiway.actors.store.errors import SessionNotFound, StoreLocked
from aiway.actors.store.records import (
    AppendMessage,
    CreateTask,
    EnsureSession,
    MessageState,
    SetModel,
    SetTitle,
    UpdateMessage,
    UpdateTask,
    WriteOp,
    metadata_json,
)
from tests.unit.actors.store.support import META, Writer, connect, opened

TABLES = ("messages", "tasks")


def test_an_exchange_is_saved_with_title_state_and_metadata(tmp_path: Path) -> None:
    write = Writer()
    with opened(tmp_path / "h.sqlite3") as db:
        session = write.session(title="Hola, ñandú 🦎")
        db.apply([session, *write.exchange("  Hola,   ñandú 🦎\nsecond line", "¡Hola!")])
        transcript = db.transcript("s1")

    assert transcript.session.title == "Hola, ñandú 🦎"
    assert transcript.session.message_count == 2
    user, answer = transcript.messages
    assert (user.seq, user.role, user.content) == (1, Role.USER, "  Hola,   ñandú 🦎\nsecond line")
    assert (answer.seq, answer.state, answer.content) == (2, MessageState.COMPLETE, "¡Hola!")
    assert answer.metadata is not None and answer.metadata["tokens"] == 3


def test_a_checkpoint_changes_a_streaming_answer_but_never_an_ended_one(tmp_path: Path) -> None:
    write = Writer()
    with opened(tmp_path / "h.sqlite3") as db:
        started = write.message(Role.ASSISTANT, "", state=MessageState.STREAMING)
        db.apply([write.session(), started, UpdateMessage(started.key, "par")])
        partial = db.transcript("s1").messages[0]
        db.apply([UpdateMessage(started.key, "partial", MessageState.CANCELLED)])
        db.apply([UpdateMessage(started.key, "partial and a late checkpoint")])
        ended = db.transcript("s1").messages[0]

    assert (partial.content, partial.state) == ("par", MessageState.STREAMING)
    assert (ended.content, ended.state) == ("partial", MessageState.CANCELLED)


def test_a_failed_answer_keeps_its_error_in_the_metadata(tmp_path: Path) -> None:
    write = Writer()
    with opened(tmp_path / "h.sqlite3") as db:
        started = write.message(Role.ASSISTANT, "", state=MessageState.STREAMING)
        failed = UpdateMessage(
            started.key, "half", MessageState.ERROR, metadata_json(None, "model crashed")
        )
        db.apply([write.session(), started, failed])
        loaded = db.load_session("s1", tail=5)
        saved = db.transcript("s1").messages[0]

    assert loaded.history[0].status is AnswerStatus.ERROR
    assert loaded.history[0].metadata is None
    assert saved.metadata == {"error": "model crashed"}


def test_loading_reads_only_the_tail_and_marks_crashed_answers_interrupted(
    tmp_path: Path,
) -> None:
    write = Writer()
    ops: list[WriteOp] = [write.session()]
    for number in range(30):
        ops += write.exchange(f"q{number}", f"a{number}")
    ops.append(write.message(Role.USER, "last question"))
    ops.append(write.message(Role.ASSISTANT, "cut sh", state=MessageState.STREAMING))
    with opened(tmp_path / "h.sqlite3") as db:
        db.apply(ops)
        loaded = db.load_session("last", tail=4)
        again = db.load_session("last", tail=4)

    assert loaded.session.message_count == 62
    assert [entry.id for entry in loaded.history] == ["h59", "h60", "h61", "h62"]
    assert [entry.content for entry in loaded.history] == ["q29", "a29", "last question", "cut sh"]
    assert loaded.history[-1].status is AnswerStatus.INTERRUPTED
    assert loaded.history[1].metadata == META
    assert loaded.interrupted == 1 and again.interrupted == 0


def test_selectors_last_id_and_unique_prefix(tmp_path: Path) -> None:
    write = Writer()
    with opened(tmp_path / "h.sqlite3") as db:
        for session in ("abc111", "abc222", "zzz999"):
            db.apply([write.session(session), write.message(Role.USER, "hi", session_id=session)])
        db.apply([write.message(Role.USER, "again", session_id="abc111")])  # newest change

        assert db.resolve("last") == "abc111"
        assert db.resolve("zzz999") == "zzz999"
        assert db.resolve("abc2") == "abc222"
        with pytest.raises(SessionNotFound, match="several"):
            db.resolve("abc")
        with pytest.raises(SessionNotFound, match="no saved conversation has the id 'q'"):
            db.resolve("q")
        assert [s.id for s in db.sessions()] == ["abc111", "zzz999", "abc222"]


def test_last_in_an_empty_history_says_there_is_nothing_yet(tmp_path: Path) -> None:
    with opened(tmp_path / "h.sqlite3") as db, pytest.raises(SessionNotFound, match="no saved"):
        db.load_session("last", tail=5)


def test_titles_models_and_tasks(tmp_path: Path) -> None:
    write = Writer()
    with opened(tmp_path / "h.sqlite3") as db:
        answer = write.message(Role.ASSISTANT, "", state=MessageState.STREAMING)
        db.apply(
            [
                EnsureSession("s1", "tiny", "", 1.0),
                SetTitle("s1", "Mi título"),
                SetTitle("s1", "first words do not replace a title", only_if_untitled=True),
                write.message(Role.USER, "first words do not replace a title"),
                answer,
                CreateTask("s1", "t1", "qa-engineer", "The Intern", "test it", answer.key, 3.0),
                CreateTask("s1", "t2", "devops-engineer", "Primo Carlos", "ship it", None, 3.0),
                UpdateTask("s1", "t1", 4.0, percent=40),
                UpdateTask("s1", "t2", 4.0, status=TaskStatus.FAILED, reason="no disk"),
                SetModel("s1", "bigger"),
            ]
        )
        transcript = db.transcript("s1")

    assert (transcript.session.title, transcript.session.model) == ("Mi título", "bigger")
    first, second = transcript.tasks
    assert (first.task_id, first.percent, first.status, first.message_seq) == (
        "t1",
        40,
        TaskStatus.RUNNING,
        2,
    )
    assert (second.status, second.reason, second.message_seq) == (
        TaskStatus.FAILED,
        "no disk",
        None,
    )


def test_deleting_a_session_takes_its_messages_and_tasks_and_later_writes_are_skipped(
    tmp_path: Path,
) -> None:
    write = Writer()
    path = tmp_path / "h.sqlite3"
    with opened(path) as db:
        db.apply([write.session("gone"), *write.exchange("a", "b", session_id="gone")])
        db.apply([CreateTask("gone", "t1", "qa-engineer", "The Intern", "x", None, 1.0)])
        deleted = db.delete_session("gone")
        db.apply([write.message(Role.USER, "too late", session_id="gone")])
        sessions = db.sessions()

    conn = connect(path)
    try:
        rows = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES]
    finally:
        conn.close()
    assert deleted == 2 and sessions == () and rows == [0, 0]


def test_a_transaction_that_cannot_get_the_lock_changes_nothing_and_can_be_retried(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.sqlite3"
    write = Writer()
    with opened(path, lock_timeout=0.05) as db:
        db.apply([write.session()])
        holder = connect(path)
        holder.execute("BEGIN IMMEDIATE")
        batch = write.exchange("hold on", "ok")
        try:
            with pytest.raises(StoreLocked, match="locked by another program"):
                db.apply(batch)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        db.apply(batch)  # the same operations, once the lock is gone
        transcript = db.transcript("s1")

    assert [(m.content, m.state) for m in transcript.messages] == [
        ("hold on", MessageState.COMPLETE),
        ("ok", MessageState.COMPLETE),
    ]


def test_two_writers_of_one_session_never_collide_on_a_sequence_number(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    first, second = Writer(), Writer()
    one, two = HistoryDatabase(path), HistoryDatabase(path)
    one.open()
    two.open()
    try:
        one.apply([first.session()])
        one.apply([first.message(Role.USER, "from one")])
        two.apply([second.message(Role.USER, "from two")])
        one.apply([first.message(Role.USER, "one again")])
        seqs = [(m.seq, m.content) for m in one.transcript("s1").messages]
    finally:
        one.close()
        two.close()

    assert seqs == [(1, "from one"), (2, "from two"), (3, "one again")]


def test_appended_checkpoints_make_the_answer_and_stop_once_it_ends(tmp_path: Path) -> None:
    write = Writer()
    with opened(tmp_path / "h.sqlite3") as db:
        started = write.message(Role.ASSISTANT, "Ho", state=MessageState.STREAMING)
        db.apply([write.session(), started, AppendMessage(started.key, 2, "la ñ")])
        db.apply([AppendMessage(started.key, 6, "andú 🦎")])
        db.apply([AppendMessage(started.key, 6, "andú 🦎")])  # a retry changes nothing
        streaming = db.transcript("s1").messages[0].content
        db.apply([UpdateMessage(started.key, "Hola ñandú 🦎!", MessageState.COMPLETE)])
        db.apply([AppendMessage(started.key, 13, " late")])
        ended = db.transcript("s1").messages[0].content
        conn = connect(tmp_path / "h.sqlite3")
        parts = conn.execute("SELECT count(*) FROM message_parts").fetchone()[0]
        conn.close()

    assert streaming == "Hola ñandú 🦎"
    assert ended == "Hola ñandú 🦎!"
    assert parts == 0, "the end of an answer puts it whole in its row"


def test_resuming_folds_the_parts_of_an_answer_cut_short(tmp_path: Path) -> None:
    write = Writer()
    path = tmp_path / "h.sqlite3"
    with opened(path) as db:
        started = write.message(Role.ASSISTANT, "one", state=MessageState.STREAMING)
        db.apply([write.session(), started, AppendMessage(started.key, 3, " two")])
        db.apply([AppendMessage(started.key, 20, " after a gap")])
    with opened(path) as db:
        loaded = db.load_session("s1", tail=5)

    assert loaded.interrupted == 1
    (entry,) = loaded.history
    assert (entry.content, entry.status) == ("one two", AnswerStatus.INTERRUPTED)


def test_the_end_of_an_answer_is_committed_with_a_full_sync(tmp_path: Path) -> None:
    write = Writer()
    with opened(tmp_path / "h.sqlite3") as db:
        traced: list[str] = []
        db._connection().set_trace_callback(traced.append)
        started = write.message(Role.ASSISTANT, "", state=MessageState.STREAMING)
        db.apply([write.session(), started])
        checkpoint = len(traced)
        db.apply([AppendMessage(started.key, 0, "Hola")])
        ending = len(traced)
        db.apply([UpdateMessage(started.key, "Hola", MessageState.COMPLETE)])
        db._connection().set_trace_callback(None)
        synchronous = db._connection().execute("PRAGMA synchronous").fetchone()[0]

    assert not any("synchronous" in s for s in traced[:ending])
    assert traced[ending] == "PRAGMA synchronous = FULL", traced[checkpoint:]
    assert traced[-1] == "PRAGMA synchronous = NORMAL"
    assert synchronous == 1, "the stream's own checkpoints stay cheap (NORMAL)"

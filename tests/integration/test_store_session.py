"""The history in a whole session on loopback: round trip, resume, commands, a slow or locked disk.

A real ``OllamaBackend`` talks to the fake Ollama server on 127.0.0.1; the
history is a real SQLite file in a temporary directory; a collecting surface
sees what any surface would.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio

from aiway.actors.app import Assistant
from aiway.actors.backends.selection import select_backend
from aiway.actors.protocol import (
    Capability,
    HistoryEntry,
    Message,
    Notify,
    NotifyLevel,
    Published,
    Role,
    SessionInfo,
    StateSnapshot,
    StreamEnd,
    TaskCreated,
    TaskUpdated,
    UserMessage,
)
from aiway.actors.registry import GetSurfaceStats, RegisterSurface, SurfaceRegistry
from aiway.actors.runtime import ActorRef, ActorSystem, Behaviour, Context, MailboxConfig, handles
from aiway.actors.store import HistoryDatabase, HistoryStore, StoreActor, open_history
from aiway.actors.store.records import WriteOp
from aiway.config import Settings, load_settings
from tests.fakes import FakeOllama
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio

SURFACE = frozenset({Capability.STREAMING, Capability.TASKS})


class Screen(Behaviour):
    """A surface that keeps everything it takes, unwrapped."""

    def __init__(self) -> None:
        self.got: list[object] = []
        self.snapshots: list[StateSnapshot] = []

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        self.got.append(msg.message)

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.snapshots.append(msg)

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.got if isinstance(m, kind)]

    def notices(self, title: str) -> list[Notify]:
        return [n for n in self.of(Notify) if n.title == title]


def settings_for(url: str, data: Path, **history: Any) -> Settings:
    base = load_settings(
        env={"XDG_DATA_HOME": str(data)}, config_path=None, overrides={"ollama.host": url}
    ).settings
    return attrs.evolve(
        base,
        backend="ollama",
        ollama=attrs.evolve(base.ollama, default_model="tiny"),
        avatar=attrs.evolve(base.avatar, enabled=False),
        history=attrs.evolve(base.history, **history),
    )


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama(models=("tiny:latest",)) as server:
        yield server


async def start(
    settings: Settings, *, resume: str | None = None, database: Any = HistoryDatabase
) -> tuple[Assistant, Screen]:
    history = await open_history(settings, resume=resume, database=database)
    selection = await select_backend(settings)
    assistant = Assistant.start(
        settings,
        selection.backend,
        model=selection.model,
        system_prompt="be brief",
        history=history,
    )
    screen = Screen()
    assistant.attach("screen", lambda: screen, surface_type="test", capabilities=SURFACE)
    await wait_until(lambda: screen.snapshots, what="the first snapshot")
    return assistant, screen


async def ask(assistant: Assistant, screen: Screen, text: str) -> StreamEnd:
    ends = len(screen.of(StreamEnd))
    assistant.conductor.tell(UserMessage(text))
    await wait_until(lambda: len(screen.of(StreamEnd)) > ends, what=f"the answer to {text!r}")
    end: StreamEnd = screen.of(StreamEnd)[-1]
    return end


async def command(
    assistant: Assistant, screen: Screen, text: str, surface_id: str = "headless"
) -> Notify:
    """Send ``text`` as ``surface_id`` (a local surface by default); wait for a notice."""
    count = len(screen.of(Notify))
    assistant.conductor.tell(UserMessage(text, surface_id))
    await wait_until(lambda: len(screen.of(Notify)) > count, what=f"an answer to {text}")
    notice: Notify = screen.of(Notify)[count]
    return notice


def shown(entries: Sequence[HistoryEntry]) -> list[tuple[object, ...]]:
    """What a person sees of each entry (ids differ between runs)."""
    return [(e.role, e.content, e.status, e.metadata) for e in entries]


async def test_a_conversation_with_tasks_tags_and_multibyte_text_round_trips(
    fake: FakeOllama, tmp_path: Path
) -> None:
    settings = settings_for(fake.url, tmp_path)
    assistant, screen = await start(settings)
    fake.configure(
        script=(
            "¡Hola! [yolla:wave]",
            ' Vamos: [yolla:task start backend-engineer "API für ñandú 🦎"]',
            "[yolla:task progress t1 40] listo ✓",
        )
    )
    await ask(assistant, screen, "Plan it, café ☕")
    fake.configure(
        script=(
            "Done [yolla:task done t1]",
            '[yolla:task start qa-engineer "test 日本語"] and testing 🧪',
        )
    )
    await ask(assistant, screen, "next ➡ step")
    await assistant.stop()
    assert assistant.history is not None
    session_id = assistant.history.session_id
    before = screen.snapshots[0]

    store = await HistoryStore.open(settings.history.path)  # type: ignore[arg-type]
    try:
        transcript = await store.transcript(session_id)
        markdown_path = tmp_path / "out" / "chat.md"
        await store.export(session_id, markdown_path)
    finally:
        await store.close()
    resumed, screen2 = await start(settings, resume=session_id[:4])
    snapshot = screen2.snapshots[0]

    conversation = [(m.role, m.content) for m in screen.of(Message) if m.role is Role.USER]
    answers = [end.content for end in screen.of(StreamEnd)]
    assert [(m.role, m.content) for m in transcript.messages] == [
        conversation[0],
        (Role.ASSISTANT, answers[0]),
        conversation[1],
        (Role.ASSISTANT, answers[1]),
    ]
    assert answers == ["¡Hola!  Vamos:  listo ✓", "Done  and testing 🧪"]
    assert transcript.session.title == "Plan it, café ☕"
    assert [(t.task_id, t.percent, t.status.value) for t in transcript.tasks] == [
        ("t1", 100, "done"),
        ("t2", 0, "running"),
    ]
    assert [t.message_seq for t in transcript.tasks] == [2, 4]
    markdown = markdown_path.read_text(encoding="utf-8")
    for text in ("# Plan it, café ☕", *answers, "API für ñandú 🦎", "test 日本語", "tiny"):
        assert text in markdown
    assert "[yolla:" not in markdown
    # resumed: the same history, the open task card, and the session continues
    expected = [
        (Role.USER, "Plan it, café ☕"),
        (Role.ASSISTANT, answers[0]),
        (Role.USER, "next ➡ step"),
        (Role.ASSISTANT, answers[1]),
    ]
    assert [(e.role, e.content) for e in snapshot.history] == expected
    ends = screen.of(StreamEnd)
    assert [e.metadata for e in snapshot.history[1::2]] == [end.metadata for end in ends]
    assert snapshot.session is not None and snapshot.session.session_id == session_id
    assert snapshot.tasks == (TaskCreated("t2", "qa-engineer", "The Intern", "test 日本語"),)
    assert before.history == ()
    fake.configure(script=('[yolla:task start devops-engineer "ship 🚀"] shipped',))
    await ask(resumed, screen2, "ship it")
    assert [t.task_id for t in screen2.of(TaskCreated)] == ["t3"]
    sent = fake.chat_bodies[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == [text for _, text in expected] + ["ship it"]
    await resumed.stop()
    store = await HistoryStore.open(settings.history.path)  # type: ignore[arg-type]
    try:
        again = await store.transcript(session_id)
    finally:
        await store.close()
    assert [m.seq for m in again.messages] == [1, 2, 3, 4, 5, 6]
    assert [t.task_id for t in again.tasks] == ["t1", "t2", "t3"]


class SlowDatabase(HistoryDatabase):
    """A database whose transactions wait until the test lets them through."""

    release = threading.Event()
    started = threading.Event()

    def apply(self, ops: Sequence[WriteOp]) -> None:
        SlowDatabase.started.set()
        if not SlowDatabase.release.wait(30):
            raise RuntimeError("the test never released the slow database")
        super().apply(ops)


async def test_a_store_that_cannot_commit_does_not_hold_back_the_answer(
    fake: FakeOllama, tmp_path: Path
) -> None:
    SlowDatabase.release.clear()
    SlowDatabase.started.clear()
    settings = settings_for(fake.url, tmp_path)
    fake.configure(tokens=200, rate=200.0)  # a second: the store's first write begins in it
    assistant, screen = await start(settings, database=SlowDatabase)
    path = settings.history.path
    assert path is not None
    try:
        assistant.conductor.tell(UserMessage("talk a lot"))
        await wait_until(SlowDatabase.started.is_set, timeout=10, what="the first write")
        streaming = not screen.of(StreamEnd)
        await wait_until(lambda: screen.of(StreamEnd), timeout=30, what="the answer")
        committed = count_rows(path, "messages")
    finally:
        SlowDatabase.release.set()
    await assistant.stop()

    assert streaming, "the store's first write began while the answer streamed"
    assert committed == 0, "the answer ended while that write still waited"
    (end,) = screen.of(StreamEnd)
    assert len(end.content.split()) == 200
    rows = await _rows(settings)
    assert rows == [("user", "talk a lot", "complete"), ("assistant", end.content, "complete")]


async def test_history_commands_in_a_live_session(fake: FakeOllama, tmp_path: Path) -> None:
    settings = settings_for(fake.url, tmp_path)
    fake.configure(script=("Hola",))
    assistant, screen = await start(settings)
    await ask(assistant, screen, "first chat")
    assert assistant.history is not None
    first = assistant.history.session_id

    titled = await command(assistant, screen, "/title Mi charla")
    new = await command(assistant, screen, "/new")
    await ask(assistant, screen, "second chat")
    listed = await command(assistant, screen, "/sessions")
    exported = await command(assistant, screen, f"/export {tmp_path / 'second.md'}")
    resumed = await command(assistant, screen, f"/resume {first}")
    snapshot = screen.snapshots[-1]
    asked = await command(assistant, screen, f"/delete {first}")
    deleted = await command(assistant, screen, f"/delete {first} confirm")
    missing = await command(assistant, screen, "/resume nope")
    await assistant.stop()

    assert titled.text == "this conversation: Mi charla"
    assert new.title == "conversation" and "a new conversation" in new.text
    lines = listed.text.splitlines()
    assert lines[0].startswith("* ") and lines[0].endswith("second chat")
    assert "Mi charla" in lines[1] and first in lines[1]
    assert exported.text.endswith(f"2 messages written to {tmp_path / 'second.md'}")
    assert "second chat" in (tmp_path / "second.md").read_text(encoding="utf-8")
    assert resumed.text.startswith("resumed: Mi charla")
    assert [e.content for e in snapshot.history] == ["first chat", "Hola"]
    assert asked.level is NotifyLevel.WARNING and f"/delete {first} confirm" in asked.text
    assert "is deleted" in deleted.text
    assert missing.level is NotifyLevel.ERROR and "nope" in missing.text
    sessions = [info.session_id for info in screen.of(SessionInfo)]
    assert sessions[-1] not in (first, sessions[1]), "deleting the live session starts a new one"
    assert [r[1] for r in await _rows(settings)] == ["second chat", "Hola"]


async def test_a_lock_held_for_a_while_delays_saving_but_loses_nothing(
    fake: FakeOllama, tmp_path: Path
) -> None:
    settings = settings_for(fake.url, tmp_path, lock_timeout=0.05)
    fake.configure(script=("fine",))
    assistant, screen = await start(settings)
    path = settings.history.path
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        await ask(assistant, screen, "while locked")
        await wait_until(lambda: screen.notices("history"), what="the warning")
        holder.execute("ROLLBACK")
        await wait_until(lambda: len(screen.notices("history")) == 2, what="saving again")
    finally:
        holder.close()
    await assistant.stop()

    warning, recovered = screen.notices("history")
    assert warning.level is NotifyLevel.WARNING and "locked" in warning.text
    assert recovered.text == f"saving to {path} again"
    assert [r[1] for r in await _rows(settings)] == ["while locked", "fine"]


async def test_a_store_that_lags_saves_what_the_resync_snapshot_carries(tmp_path: Path) -> None:
    system = ActorSystem()
    store = await HistoryStore.open(tmp_path / "h.sqlite3")
    nobody = ActorRef("nobody", None, lambda name, msg: None)
    registry = system.spawn("registry", SurfaceRegistry)
    surface = system.spawn(
        "surface:store",
        lambda: StoreActor(store, registry=registry, conductor=nobody, session_id="s1", model="m"),
        mailbox=MailboxConfig(capacity=4),
    )
    registry.tell(RegisterSurface("store", surface, "store", SURFACE))
    registry.tell(SessionInfo("s1", "m", "test"))
    for number in range(40):  # one registry run: the store's outbox overflows
        registry.tell(Message(f"u{number}", Role.USER, f"message {number}"))
    registry.tell(TaskCreated("t1", "qa-engineer", "The Intern", "x"))
    registry.tell(TaskUpdated("t1", 30))

    path = tmp_path / "h.sqlite3"
    await wait_until(lambda: count_rows(path, "messages") == 40, timeout=10, what="all 40")
    (stats,) = await system.ask(registry, GetSurfaceStats, 1.0)
    transcript = await store.transcript("s1")
    await system.stop()
    await store.close()

    assert stats.lag_events >= 1 and stats.resyncs >= 1, stats
    assert [(m.role, m.content) for m in transcript.messages] == [
        (Role.USER, f"message {number}") for number in range(40)
    ]
    assert [(t.task_id, t.percent) for t in transcript.tasks] == [("t1", 30)]


async def _rows(settings: Settings) -> list[tuple[str, str, str]]:
    store = await HistoryStore.open(settings.history.path)  # type: ignore[arg-type]
    try:
        transcript = await store.transcript("last")
    finally:
        await store.close()
    return [(m.role.value, m.content, m.state.value) for m in transcript.messages]


def count_rows(path: Path, table: str) -> int:
    """Rows committed so far, read by another connection (the store's thread may be busy)."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def test_a_remote_surface_exports_only_into_the_exports_folder(
    fake: FakeOllama, tmp_path: Path
) -> None:
    settings = settings_for(fake.url, tmp_path / "data")
    fake.configure(script=("Hola",))
    assistant, screen = await start(settings)
    await ask(assistant, screen, "a secret chat")
    path = settings.history.path
    assert path is not None
    outside = tmp_path / "outside.md"

    absolute = await command(assistant, screen, f"/export {outside}", "tui-1")
    climbing = await command(assistant, screen, "/export ../../outside.md", "tui-1")
    named = await command(assistant, screen, "/export chat.md", "tui-1")
    again = await command(assistant, screen, "/export chat.md", "tui-1")
    forced = await command(assistant, screen, "/export --force chat.md", "tui-1")
    local = await command(assistant, screen, f"/export {outside}", "tui")
    await assistant.stop()

    exports = path.parent / "exports"
    assert absolute.level is NotifyLevel.ERROR and "file name only" in absolute.text
    assert climbing.level is NotifyLevel.ERROR and "file name only" in climbing.text
    assert named.text.endswith(f"2 messages written to {exports / 'chat.md'}")
    assert again.level is NotifyLevel.ERROR and "--force" in again.text
    assert forced.level is NotifyLevel.INFO
    assert sorted(p.name for p in exports.iterdir()) == ["chat.md"]
    assert (exports.stat().st_mode & 0o777, (exports / "chat.md").stat().st_mode & 0o777) == (
        0o700,
        0o600,
    )
    assert local.level is NotifyLevel.INFO, "the person at this machine writes where they say"
    assert "a secret chat" in outside.read_text(encoding="utf-8")

"""Opening the history: a new file, every older schema, a newer one, a stranger's database."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiway.actors.protocol import AnswerStatus, Role
from aiway.actors.store.errors import StoreError, StoreTooNew
from aiway.actors.store.records import InsertMessage, MessageState
from aiway.actors.store.schema import LATEST, MIGRATIONS
from tests.unit.actors.store.support import build_version, connect, opened


def test_a_new_file_is_built_by_every_migration_in_turn(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "aiway.sqlite3"

    with opened(path) as db:
        version = db.version

    assert version == LATEST == len(MIGRATIONS)
    conn = connect(path)
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert mode == "wal"
    assert {"sessions", "messages", "tasks", "messages_streaming"} <= tables
    assert path.stat().st_mode & 0o777 == 0o600, "conversations are the owner's alone"
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert not list(tmp_path.glob("deep/*.bak")), "a new file needs no backup"


@pytest.mark.parametrize("version", range(LATEST))
def test_every_older_schema_migrates_to_the_latest_keeping_its_data(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "aiway.sqlite3"
    build_version(path, version)

    with opened(path) as db:
        migrated = db.version
        notes = list(db.notes)
        sessions = db.sessions()
        loaded = db.load_session("last", tail=10) if sessions else None

    assert migrated == LATEST
    if version == 0:
        assert sessions == () and notes == []
        return
    backup = tmp_path / f"aiway.sqlite3.v{version}.bak"
    assert backup.exists() and str(backup) in notes[0]
    conn = connect(backup)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    finally:
        conn.close()
    assert loaded is not None
    assert [s.title for s in sessions] == ["ñandú chat"]
    assert [(e.role, e.content, e.status) for e in loaded.history] == [
        (Role.USER, "hola 🦎", AnswerStatus.COMPLETE),
        (Role.ASSISTANT, "half an ans", AnswerStatus.INTERRUPTED),
    ]
    assert loaded.tasks == ()


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sqlite3"
    build_version(path, LATEST)
    conn = connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {LATEST + 3}")
    finally:
        conn.close()
    before = path.read_bytes()

    with pytest.raises(StoreTooNew) as raised, opened(path):
        pass

    message = str(raised.value)
    assert str(path) in message and f"v{LATEST + 3}" in message and "--no-history" in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aiway.sqlite3"]


def test_another_programs_database_is_named_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sqlite3"
    conn = connect(path)
    try:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    finally:
        conn.close()

    with pytest.raises(StoreError, match="not aiway's history") as raised, opened(path):
        pass

    assert "recipes" in str(raised.value)
    conn = connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 1
    finally:
        conn.close()


def test_an_unwritable_place_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    target = blocker / "sub" / "aiway.sqlite3"
    with pytest.raises(StoreError, match="cannot create the history directory"), opened(target):
        pass


@pytest.mark.parametrize("version", range(1, LATEST))
def test_after_migrating_a_message_still_marks_its_session_changed(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "aiway.sqlite3"
    build_version(path, version)

    with opened(path) as db:
        before = db.session("old1").updated
        db.apply([InsertMessage(1, "old1", Role.USER, "again", MessageState.COMPLETE, None, 30.0)])
        after = db.session("old1")

    assert after.updated > before and after.message_count == 3

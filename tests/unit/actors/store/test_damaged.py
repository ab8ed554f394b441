"""Bad files: a damaged one is set aside (kept) and replaced; a locked one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiway.actors.protocol import Role
from aiway.actors.store.errors import StoreDamaged, StoreLocked
from aiway.actors.store.records import WriteOp
from tests.unit.actors.store.support import Writer, connect, opened

GARBAGE = b"this is not SQLite at all \x00\xff" * 300


def test_a_file_that_is_not_sqlite_is_kept_aside_and_a_new_history_starts(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sqlite3"
    path.write_bytes(GARBAGE)

    with opened(path) as db:
        notes = list(db.notes)
        db.apply([Writer().session()])
        sessions = db.sessions()

    kept = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == GARBAGE
    assert len(notes) == 1
    assert str(path) in notes[0] and str(kept[0]) in notes[0] and "not a database" in notes[0]
    assert len(sessions) == 1


def test_a_second_damaged_file_in_the_same_second_does_not_overwrite_the_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "aiway.sqlite3"
    for _ in range(2):
        path.write_bytes(GARBAGE)
        with opened(path):
            pass
        path.unlink()
        for side in tmp_path.glob("aiway.sqlite3-*"):
            side.unlink()

    assert len(list(tmp_path.glob("aiway.sqlite3.damaged-*"))) == 2


def test_damage_inside_the_tables_is_reported_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sqlite3"
    write = Writer()
    with opened(path) as db:
        ops: list[WriteOp] = [write.session()]
        for number in range(400):
            ops += write.exchange(f"question {number} " * 20, f"answer {number} " * 40)
        db.apply(ops)
    conn = connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()
    data = bytearray(path.read_bytes())
    for page in range(pages // 2, pages - 1):  # scribble over the back half of the data
        start = page * page_size
        data[start : start + page_size] = b"\xa5" * page_size
    path.write_bytes(bytes(data))

    with opened(path) as db, pytest.raises(StoreDamaged) as raised:
        db.transcript("last")

    message = str(raised.value)
    assert str(path) in message and "aiway forget" in message


def test_a_file_locked_by_another_program_is_reported_not_waited_on_for_ever(
    tmp_path: Path,
) -> None:
    path = tmp_path / "aiway.sqlite3"
    holder = connect(path)  # a rollback-journal database held in an exclusive transaction
    holder.execute("CREATE TABLE sessions (id TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreLocked) as raised, opened(path, lock_timeout=0.05):
            pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    message = str(raised.value)
    assert str(path) in message and "--no-history" in message and "0.05 s" in message
    assert not list(tmp_path.glob("*.damaged-*")), "a locked file is not damaged"


def test_a_locked_wal_file_can_still_be_read(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sqlite3"
    write = Writer()
    with opened(path) as db:
        db.apply([write.session(), write.message(Role.USER, "hi")])
    holder = connect(path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with opened(path, lock_timeout=0.05) as db:
            sessions = db.sessions()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert [s.message_count for s in sessions] == [1]

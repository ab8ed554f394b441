"""Helpers for the store's tests: a database in a temporary directory, and sample writes."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiway.actors.protocol import ResponseMetadata, Role
from aiway.actors.store.database import HistoryDatabase
from aiway.actors.store.records import (
    EnsureSession,
    InsertMessage,
    MessageState,
    UpdateMessage,
    WriteOp,
    metadata_json,
)
from aiway.actors.store.schema import MIGRATIONS

META = ResponseMetadata(model="tiny", backend="ollama", elapsed_ms=12.5, tokens=3)


class Clock:
    """A wall clock that moves one second per reading."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@contextmanager
def opened(path: Path, **options: float) -> Iterator[HistoryDatabase]:
    """An open ``HistoryDatabase`` at ``path``, closed afterwards."""
    db = HistoryDatabase(path, clock=Clock(), **options)
    db.open()
    try:
        yield db
    finally:
        db.close()


class Writer:
    """Builds write operations with fresh keys."""

    def __init__(self) -> None:
        self._keys = itertools.count(1)

    def session(self, session_id: str = "s1", title: str = "") -> EnsureSession:
        return EnsureSession(session_id, "tiny", "be kind", 1.0, title)

    def message(
        self,
        role: Role,
        content: str,
        *,
        session_id: str = "s1",
        state: MessageState = MessageState.COMPLETE,
        metadata: str | None = None,
    ) -> InsertMessage:
        return InsertMessage(next(self._keys), session_id, role, content, state, metadata, 2.0)

    def exchange(self, question: str, answer: str, session_id: str = "s1") -> list[WriteOp]:
        """A user message and a complete answer."""
        asked = self.message(Role.USER, question, session_id=session_id)
        started = self.message(
            Role.ASSISTANT, "", session_id=session_id, state=MessageState.STREAMING
        )
        ended = UpdateMessage(started.key, answer, MessageState.COMPLETE, metadata_json(META))
        return [asked, started, ended]


def connect(path: Path) -> sqlite3.Connection:
    """A plain connection for looking at (or preparing) a file; close it."""
    return sqlite3.connect(path, isolation_level=None)


def build_version(path: Path, version: int) -> None:
    """A database at schema ``version``, as an older aiway left it, with one conversation."""
    conn = connect(path)
    try:
        for statements in MIGRATIONS[:version]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
        if version >= 1:
            conn.execute(
                "INSERT INTO sessions VALUES ('old1', 'ñandú chat', 'tiny', 'be kind', 10.0, 20.0)"
            )
            conn.execute(
                "INSERT INTO messages (session_id, seq, role, content, state, metadata, created)"
                " VALUES ('old1', 1, 'user', 'hola 🦎', 'complete', NULL, 11.0),"
                " ('old1', 2, 'assistant', 'half an ans', 'streaming', NULL, 12.0)"
            )
    finally:
        conn.close()

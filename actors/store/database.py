"""The history database: one SQLite file, opened, checked, migrated, read and written.

``HistoryDatabase`` is synchronous and belongs to the one thread that opens it
(the ``HistoryStore``'s worker); nothing here may run on the event loop. The
file is in WAL mode (a crash loses no committed transaction, and readers never
wait for the writer) with foreign keys on. Opening it checks, in this order:
the file is SQLite at all (a damaged file is moved aside, kept, and a new one
started, with a note saying where the old one went); its schema is not newer
than ours (refused, untouched); it is ours; older schemas are copied to a
backup file and then migrated. Every ``sqlite3`` error leaves as a
``StoreError`` naming the file and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from aiway.actors.protocol import AnswerStatus, HistoryEntry, Role, TaskStatus
from aiway.actors.store.errors import (
    SessionNotFound,
    StoreDamaged,
    StoreError,
    StoreLocked,
    StoreTooNew,
)
from aiway.actors.store.files import PRIVATE_FILE, private_directory, tighten
from aiway.actors.store.records import (
    AppendMessage,
    CreateTask,
    EnsureSession,
    InsertMessage,
    LoadedSession,
    MessageState,
    SetModel,
    SetTitle,
    StoredMessage,
    StoredSession,
    StoredTask,
    Transcript,
    UpdateMessage,
    UpdateTask,
    WriteOp,
    assemble,
    ends_turn,
    history_id,
    metadata_document,
    response_metadata,
)
from aiway.actors.store.schema import LATEST, MIGRATIONS, TABLES

log = logging.getLogger(__name__)

# SQLite's primary result codes (the low byte of an extended code).
_BUSY = 5
_LOCKED = 6
_CORRUPT = 11
_NOTADB = 26

# Enum lookups by value, without the enum call's overhead (the resume path runs them per row).
_ROLES = {role.value: role for role in Role}
_STATUSES = {status.value: status for status in AnswerStatus}

LAST = "last"
"""The selector of the most recently changed session."""

# A session's messages are numbered 1, 2, ... with no gaps (each takes the next number and
# none is deleted alone), so the count is the last number: one index lookup, not a scan.
_SESSION_COLUMNS = (
    "s.id, s.title, s.model, s.system_prompt, s.created, s.updated,"
    " coalesce((SELECT max(m.seq) FROM messages m WHERE m.session_id = s.id), 0)"
)
# A checkpoint's new text, kept only while its answer streams (and once per offset).
_APPEND_PART = (
    "INSERT OR IGNORE INTO message_parts (message_id, start, text)"
    " SELECT ?, ?, ? WHERE EXISTS"
    " (SELECT 1 FROM messages WHERE id = ? AND state = 'streaming')"
)
_INSERT_MESSAGE = (
    "INSERT INTO messages"
    " (session_id, seq, role, content, state, metadata, created, published_id)"
    " VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE session_id = ?),"
    " ?, ?, ?, ?, ?, ?)"
)


class HistoryDatabase:
    """The history file behind one connection; see the module docstring. One thread only."""

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.clock = clock
        #: what opening did that the person should hear about (a repair, a migration)
        self.notes: list[str] = []
        self._conn: sqlite3.Connection | None = None
        # write key -> messages.id, for the rows written by this process
        self._rows: dict[int, int] = {}

    # -- opening and closing ---------------------------------------------------------

    def open(self) -> None:
        """Open (creating, repairing or migrating as needed). Raises ``StoreError``."""
        try:
            # Conversations are private: the directory and every file are the owner's alone,
            # and a file an older aiway (or a loose umask) left readable is tightened now.
            # SQLite gives the -wal and -shm files it creates the database file's mode.
            private_directory(self.path.parent)
            if not self.path.exists():
                self.path.touch(mode=PRIVATE_FILE)
            for file in (self.path, *self._journal()):
                tighten(file, PRIVATE_FILE)
        except OSError as exc:
            raise StoreError(
                f"cannot create the history directory {self.path.parent}: {exc.strerror}; "
                "set history.path to a writable place, or run with --no-history"
            ) from None
        try:
            self._conn = self._connect()
        except StoreDamaged as damaged:
            kept = self._set_aside()
            self.notes.append(
                f"the history file {self.path} could not be read ({damaged.reason}); "
                f"it was kept as {kept} and a new, empty history was started"
            )
            log.warning("%s", self.notes[-1])
            self.path.touch(mode=PRIVATE_FILE)
            self._conn = self._connect()

    def _journal(self) -> tuple[Path, Path]:
        """SQLite's write-ahead log and shared-memory index beside the file."""
        return Path(f"{self.path}-wal"), Path(f"{self.path}-shm")

    def close(self) -> None:
        """Close the connection (pending WAL frames are checkpointed by SQLite)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)
        try:
            with self._errors("opened"):
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > LATEST:
                    raise StoreTooNew(
                        f"the history database {self.path} was written by a newer aiway "
                        f"(schema v{version}; this aiway knows up to v{LATEST}). It was left "
                        "as it is: upgrade aiway, or run with --no-history"
                    )
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    log.warning("%s: journal mode %s, not wal", self.path, mode)
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                tables = {
                    row[0]
                    for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                if version == 0 and tables:
                    raise StoreError(
                        f"{self.path} is an SQLite database but not aiway's history (it has "
                        f"the tables {', '.join(sorted(tables))}); it was left as it is: "
                        "set history.path to another file, or run with --no-history"
                    )
                if version < LATEST:
                    self._migrate(conn, version, tables & TABLES)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection, version: int, tables: set[str]) -> None:
        if version > 0:
            backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
            backup.touch(mode=PRIVATE_FILE)
            tighten(backup, PRIVATE_FILE)
            target = sqlite3.connect(backup)
            try:
                conn.backup(target)
            finally:
                target.close()
            self.notes.append(
                f"the history was upgraded from schema v{version} to v{LATEST}; "
                f"the file as it was is kept as {backup}"
            )
            log.info("%s", self.notes[-1])
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Read again under the write lock: another aiway may have migrated meanwhile.
                current = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if current >= LATEST:
                    conn.execute("COMMIT")
                    return
                for statement in MIGRATIONS[current]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {current + 1}")
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    def _set_aside(self) -> Path:
        """Move the damaged file (and its WAL and shared-memory files) to a dated name."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        number = 1
        while target.exists():
            number += 1
            target = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{number}")
        os.replace(self.path, target)
        tighten(target, PRIVATE_FILE)
        for side in self._journal():
            if side.exists():
                kept = Path(f"{target}{side.name[len(self.path.name) :]}")
                os.replace(side, kept)
                tighten(kept, PRIVATE_FILE)
        return target

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn ``sqlite3`` errors into ``StoreError``s that name the file and the way out."""
        try:
            yield
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code in (_BUSY, _LOCKED):
                raise StoreLocked(
                    f"the history database {self.path} is locked by another program (another "
                    f"aiway?); it stayed locked for {self.lock_timeout:g} s, so it could not be "
                    f"{doing}. Close that program and try again, or run with --no-history"
                ) from None
            if code in (_CORRUPT, _NOTADB):
                raise StoreDamaged(
                    f"the history database {self.path} is damaged ({exc}), so it could not be "
                    f"{doing}; `aiway forget` deletes it, or move it away to start afresh",
                    reason=str(exc),
                ) from None
            raise StoreError(
                f"the history database {self.path} could not be {doing}: {exc}"
            ) from None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the history database {self.path} is not open")
        return self._conn

    @property
    def version(self) -> int:
        """The schema version of the open file."""
        return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    # -- writing ---------------------------------------------------------------------------

    def apply(self, ops: Sequence[WriteOp]) -> None:
        """Apply ``ops`` in order in one transaction: all of them, or (raising) none.

        One operation is one statement, committed by itself: the common case (a
        message, a checkpoint) costs the store's thread a single SQLite call.
        A transaction that ends an answer is synced to the disk before this
        returns (``synchronous = FULL`` for its commit): with it, everything
        written before it is on the disk too. Others are synced at SQLite's
        next checkpoint (``NORMAL``): a crash of aiway loses none of them, a
        power loss may lose those since the last synced one.
        """
        conn = self._connection()
        inserted: list[int] = []
        durable = any(ends_turn(op) for op in ops)
        with self._errors("saved"):
            if durable:
                conn.execute("PRAGMA synchronous = FULL")
            try:
                if len(ops) == 1:
                    self._apply(conn, ops[0], inserted)
                    return
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for op in ops:
                        self._apply(conn, op, inserted)
                    conn.execute("COMMIT")
                except BaseException:
                    for key in inserted:
                        self._rows.pop(key, None)
                    _rollback(conn)
                    raise
            finally:
                if durable:
                    conn.execute("PRAGMA synchronous = NORMAL")

    def _apply(self, conn: sqlite3.Connection, op: WriteOp, inserted: list[int]) -> None:
        match op:
            case InsertMessage():
                self._insert(conn, op, inserted)
            case AppendMessage(key=key, start=start, text=text):
                row = self._rows.get(key)
                if row is None:
                    log.debug("checkpoint of message key %d, which was never saved", key)
                    return
                conn.execute(_APPEND_PART, (row, start, text, row))
            case UpdateMessage(key=key, content=content, state=None):
                row = self._rows.get(key)
                if row is None:
                    log.debug("update of message key %d, which was never saved", key)
                    return
                conn.execute(
                    "UPDATE messages SET content = ? WHERE id = ? AND state = 'streaming'",
                    (content, row),
                )
            case UpdateMessage(
                key=key, content=content, state=MessageState() as state, metadata=metadata
            ):
                row = self._rows.get(key)
                if row is None:
                    log.debug("update of message key %d, which was never saved", key)
                    return
                conn.execute(
                    "UPDATE messages SET content = ?, state = ?, metadata = ? WHERE id = ?",
                    (content, state.value, metadata, row),
                )
            case EnsureSession(session_id, model, system_prompt, created, title):
                conn.execute(
                    "INSERT OR IGNORE INTO sessions"
                    " (id, title, model, system_prompt, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, title, model, system_prompt, created, created),
                )
            case SetTitle(session_id, title, only_if_untitled):
                condition = " AND title = ''" if only_if_untitled else ""
                conn.execute(
                    f"UPDATE sessions SET title = ? WHERE id = ?{condition}", (title, session_id)
                )
            case SetModel(session_id, model):
                conn.execute("UPDATE sessions SET model = ? WHERE id = ?", (model, session_id))
            case CreateTask():
                self._create_task(conn, op)
            case UpdateTask():
                conn.execute(
                    "UPDATE tasks SET percent = coalesce(?, percent),"
                    " status = coalesce(?, status), reason = coalesce(?, reason), updated = ?"
                    " WHERE session_id = ? AND task_id = ?",
                    (
                        op.percent,
                        None if op.status is None else op.status.value,
                        op.reason,
                        op.updated,
                        op.session_id,
                        op.task_id,
                    ),
                )

    def _insert(self, conn: sqlite3.Connection, op: InsertMessage, inserted: list[int]) -> None:
        values = (
            op.session_id,
            op.session_id,
            op.role.value,
            op.content,
            op.state.value,
            op.metadata,
            op.created,
            op.published_id,
        )
        try:
            cursor = conn.execute(_INSERT_MESSAGE, values)
        except sqlite3.IntegrityError:
            log.warning("session %s is gone (deleted?): a message was not saved", op.session_id)
            return
        assert cursor.lastrowid is not None
        self._rows[op.key] = cursor.lastrowid
        inserted.append(op.key)

    def _create_task(self, conn: sqlite3.Connection, op: CreateTask) -> None:
        row = self._rows.get(op.message_key) if op.message_key is not None else None
        task = (
            op.session_id,
            op.task_id,
            row,
            op.agent,
            op.agent_name,
            op.description,
            op.created,
            op.created,
        )
        try:
            conn.execute(
                "INSERT OR IGNORE INTO tasks (session_id, task_id, message_id, agent,"
                " agent_name, description, percent, status, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, 'running', ?, ?)",
                task,
            )
        except sqlite3.IntegrityError:
            log.warning("session %s is gone (deleted?): a task was not saved", op.session_id)

    # -- reading -----------------------------------------------------------------------------

    def resolve(self, selector: str) -> str:
        """The id of the session ``selector`` names: ``last``, an id, or a unique id prefix."""
        conn = self._connection()
        selector = selector.strip()
        with self._errors("read"):
            if selector in ("", LAST):
                row = conn.execute(
                    "SELECT id FROM sessions ORDER BY updated DESC, rowid DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    raise SessionNotFound(f"there is no saved conversation in {self.path} yet")
                return str(row[0])
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (selector,)).fetchone():
                return selector
            found = [
                str(row[0])
                for row in conn.execute(
                    "SELECT id FROM sessions WHERE substr(id, 1, ?) = ? ORDER BY updated DESC"
                    " LIMIT 6",
                    (len(selector), selector),
                )
            ]
        if not found:
            raise SessionNotFound(
                f"no saved conversation has the id {selector!r}; `/sessions` (or "
                "`aiway sessions`) lists them"
            )
        if len(found) > 1:
            raise SessionNotFound(
                f"{selector!r} starts several conversation ids ({', '.join(found[:5])}"
                f"{', ...' if len(found) > 5 else ''}); give more of it"
            )
        return found[0]

    def session(self, selector: str) -> StoredSession:
        """The session ``selector`` names (see ``resolve``)."""
        session_id = self.resolve(selector)
        with self._errors("read"):
            row = (
                self._connection()
                .execute(f"SELECT {_SESSION_COLUMNS} FROM sessions s WHERE s.id = ?", (session_id,))
                .fetchone()
            )
        if row is None:  # deleted between the two reads
            raise SessionNotFound(f"the conversation {session_id} was just deleted")
        return _session(row)

    def sessions(self, limit: int | None = None) -> tuple[StoredSession, ...]:
        """Saved sessions, the most recently changed first."""
        with self._errors("read"):
            rows = (
                self._connection()
                .execute(
                    f"SELECT {_SESSION_COLUMNS} FROM sessions s"
                    " ORDER BY s.updated DESC, s.rowid DESC LIMIT ?",
                    (-1 if limit is None else limit,),
                )
                .fetchall()
            )
        return tuple(_session(row) for row in rows)

    def load_session(self, selector: str, tail: int) -> LoadedSession:
        """A session to resume: its last ``tail`` messages and its tasks.

        Answers still marked streaming (the process that wrote them died) are
        marked interrupted first, in the same transaction.
        """
        session_id = self.resolve(selector)
        conn = self._connection()
        with self._errors("read"):
            conn.execute("BEGIN IMMEDIATE")
            try:
                interrupted = self._interrupt(conn, session_id)
                row = conn.execute(
                    f"SELECT {_SESSION_COLUMNS} FROM sessions s WHERE s.id = ?", (session_id,)
                ).fetchone()
                rows = conn.execute(
                    "SELECT seq, role, content, state, metadata, published_id FROM messages"
                    " WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                    (session_id, tail),
                ).fetchall()
                tasks = self._tasks(conn, session_id)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        if row is None:
            raise SessionNotFound(f"the conversation {session_id} was just deleted")
        history = tuple(
            HistoryEntry(
                history_id(seq, published_id),
                _ROLES[role],
                content,
                _STATUSES[state],
                None if metadata is None else response_metadata(metadata_document(metadata)),
            )
            for seq, role, content, state, metadata, published_id in reversed(rows)
        )
        return LoadedSession(_session(row), history, tasks, interrupted)

    def _interrupt(self, conn: sqlite3.Connection, session_id: str) -> int:
        """Mark the session's answers left streaming interrupted, their parts folded in."""
        streaming = conn.execute(
            "SELECT id, content FROM messages WHERE session_id = ? AND state = 'streaming'",
            (session_id,),
        ).fetchall()
        for row, content in streaming:
            conn.execute(
                "UPDATE messages SET content = ?, state = 'interrupted' WHERE id = ?",
                (assemble(content, self._parts(conn, row)), row),
            )
        return len(streaming)

    @staticmethod
    def _parts(conn: sqlite3.Connection, row: int) -> list[tuple[int, str]]:
        return conn.execute(
            "SELECT start, text FROM message_parts WHERE message_id = ? ORDER BY start", (row,)
        ).fetchall()

    def transcript(self, selector: str) -> Transcript:
        """A whole session, every message, for an export."""
        session = self.session(selector)
        conn = self._connection()
        with self._errors("read"):
            rows = conn.execute(
                "SELECT seq, role, content, state, metadata, created, id FROM messages"
                " WHERE session_id = ? ORDER BY seq",
                (session.id,),
            ).fetchall()
            tasks = self._tasks(conn, session.id)
            # an answer still streaming (here or in another aiway) has parts to add
            streaming = {
                row: assemble(content, self._parts(conn, row))
                for _, _, content, state, _, _, row in rows
                if state == MessageState.STREAMING.value
            }
        messages = tuple(
            StoredMessage(
                seq,
                Role(role),
                streaming.get(row, content),
                MessageState(state),
                metadata_document(meta),
                created,
            )
            for seq, role, content, state, meta, created, row in rows
        )
        return Transcript(session, messages, tasks)

    def _tasks(self, conn: sqlite3.Connection, session_id: str) -> tuple[StoredTask, ...]:
        rows = conn.execute(
            "SELECT t.task_id, t.agent, t.agent_name, t.description, t.percent, t.status,"
            " t.reason, t.created, t.updated, m.seq FROM tasks t"
            " LEFT JOIN messages m ON m.id = t.message_id"
            " WHERE t.session_id = ? ORDER BY t.rowid",
            (session_id,),
        ).fetchall()
        return tuple(
            StoredTask(
                task_id, agent, name, description, percent, TaskStatus(status), reason, c, u, seq
            )
            for task_id, agent, name, description, percent, status, reason, c, u, seq in rows
        )

    # -- deleting ------------------------------------------------------------------------------

    def delete_session(self, session_id: str) -> int:
        """Delete a session with its messages and tasks; returns how many messages went."""
        conn = self._connection()
        with self._errors("changed"):
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = int(
                    conn.execute(
                        "SELECT count(*) FROM messages WHERE session_id = ?", (session_id,)
                    ).fetchone()[0]
                )
                conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        return count


def _session(row: Sequence[object]) -> StoredSession:
    session_id, title, model, prompt, created, updated, count = row
    return StoredSession(
        str(session_id),
        str(title),
        str(model),
        str(prompt),
        float(created),  # type: ignore[arg-type]
        float(updated),  # type: ignore[arg-type]
        int(count),  # type: ignore[call-overload]
    )


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")

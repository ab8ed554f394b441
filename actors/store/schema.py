"""The history database's schema, by version, and the migrations between versions.

The version lives in SQLite's ``user_version``. A new database is built by
running every migration from version 0, so the path an old file takes is the
one every new file takes too. Each migration runs in one transaction with the
version bump: it happens whole or not at all. Migrations only ever add; a
released one is never edited.

* v1: ``sessions`` and ``messages`` (one row per message, in sequence per session).
* v2: ``tasks`` (the task cards of a session), an index to list sessions by
  their last change, and a partial index on answers still streaming, so the
  crash check at resume touches only those rows.
* v3: triggers that keep ``sessions.updated`` in step with its messages, so
  saving a message is a single statement.
* v4: ``message_parts``, the checkpoints of a streaming answer, each only the
  text that is new (a checkpoint costs the new text, not the whole answer).
* v5: ``messages.published_id``, the id the session published the message
  under, so the conversation loaded again (a core placed anew, a resume)
  carries the ids its surfaces already showed.
"""

from __future__ import annotations

from typing import Final

V1: Final[tuple[str, ...]] = (
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL
    )
    """,
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
        content TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL
            CHECK (state IN ('streaming', 'complete', 'cancelled', 'error', 'interrupted')),
        metadata TEXT,
        created REAL NOT NULL,
        UNIQUE (session_id, seq)
    )
    """,
)

V2: Final[tuple[str, ...]] = (
    """
    CREATE TABLE tasks (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
        agent TEXT NOT NULL,
        agent_name TEXT NOT NULL,
        description TEXT NOT NULL,
        percent INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        reason TEXT,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (session_id, task_id)
    )
    """,
    "CREATE INDEX sessions_by_update ON sessions (updated)",
    "CREATE INDEX messages_streaming ON messages (session_id) WHERE state = 'streaming'",
)

# The wall clock in seconds, but never behind the last change of any session: "the last
# session changed" stays well defined when two changes fall in the same millisecond.
_NOW = (
    "max((julianday('now') - 2440587.5) * 86400.0, (SELECT max(updated) FROM sessions) + 0.000001)"
)

V3: Final[tuple[str, ...]] = (
    # The session's last change follows its messages inside SQLite, so saving a message
    # is one statement (each statement is a trip through the GIL for the store's thread).
    f"""
    CREATE TRIGGER messages_inserted_touch_session AFTER INSERT ON messages
    BEGIN
        UPDATE sessions SET updated = {_NOW} WHERE id = NEW.session_id;
    END
    """,
    f"""
    CREATE TRIGGER messages_updated_touch_session AFTER UPDATE OF content, state ON messages
    BEGIN
        UPDATE sessions SET updated = {_NOW} WHERE id = NEW.session_id;
    END
    """,
)

V4: Final[tuple[str, ...]] = (
    # A streaming answer's checkpoints: each one appends only the text that is new since the
    # last, so a long answer costs O(new text) per checkpoint instead of rewriting the row.
    # ``start`` is the character offset of ``text`` in the answer. The answer's end (or
    # any rewrite of its row's content) puts the whole text in the row and drops its parts.
    """
    CREATE TABLE message_parts (
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        start INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (message_id, start)
    )
    """,
    f"""
    CREATE TRIGGER message_parts_inserted_touch_session AFTER INSERT ON message_parts
    BEGIN
        UPDATE sessions SET updated = {_NOW}
        WHERE id = (SELECT session_id FROM messages WHERE id = NEW.message_id);
    END
    """,
    """
    CREATE TRIGGER messages_content_replaces_parts AFTER UPDATE OF content ON messages
    BEGIN
        DELETE FROM message_parts WHERE message_id = NEW.id;
    END
    """,
)

V5: Final[tuple[str, ...]] = (
    # The id a surface knows the message by: a conversation loaded again under the ids
    # its surfaces showed is not shown to them a second time. NULL for older rows.
    "ALTER TABLE messages ADD COLUMN published_id TEXT",
)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (V1, V2, V3, V4, V5)
"""``MIGRATIONS[n]`` takes a database from version n to n + 1."""

LATEST: Final = len(MIGRATIONS)
"""The version this aiway writes."""

TABLES: Final = frozenset({"sessions", "messages", "tasks", "message_parts"})
"""Every table some version of the schema has."""

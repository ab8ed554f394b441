"""Conversations that last: the SQLite history, the Store actor that fills it, resume and export.

``open_history`` opens the file the settings name (and loads a session for
``--resume``); ``Assistant.start(..., history=...)`` attaches the ``StoreActor``
that saves the session as it is published. ``HistoryStore`` is the async API
on the database (``load_session``, ``sessions``, ``export``, ...), for the CLI
and the daemon. See docs/HISTORY.md.
"""

from aiway.actors.store.actor import STORE_CAPACITY, STORE_SURFACE, StoreActor
from aiway.actors.store.commands import format_sessions
from aiway.actors.store.database import LAST, HistoryDatabase
from aiway.actors.store.errors import (
    SessionNotFound,
    StoreDamaged,
    StoreError,
    StoreLocked,
    StoreTooNew,
)
from aiway.actors.store.export import render_markdown
from aiway.actors.store.files import ExportRefused
from aiway.actors.store.history import HistoryStore, OpenedHistory, new_session_id, open_history
from aiway.actors.store.messages import (
    HISTORY_OFF,
    LOCAL_SURFACES,
    STORE_COMMANDS,
    ResumeSession,
    Settle,
    Settled,
    StoreCommand,
)
from aiway.actors.store.records import (
    LoadedSession,
    MessageState,
    StoredMessage,
    StoredSession,
    StoredTask,
    Transcript,
)
from aiway.actors.store.resume import resume_message
from aiway.actors.store.schema import LATEST
from aiway.actors.store.wiring import STORE_CAPABILITIES, store_factory

__all__ = [
    "HISTORY_OFF",
    "LAST",
    "LATEST",
    "LOCAL_SURFACES",
    "STORE_CAPABILITIES",
    "STORE_CAPACITY",
    "STORE_COMMANDS",
    "STORE_SURFACE",
    "ExportRefused",
    "HistoryDatabase",
    "HistoryStore",
    "LoadedSession",
    "MessageState",
    "OpenedHistory",
    "ResumeSession",
    "SessionNotFound",
    "Settle",
    "Settled",
    "StoreActor",
    "StoreCommand",
    "StoreDamaged",
    "StoreError",
    "StoreLocked",
    "StoreTooNew",
    "StoredMessage",
    "StoredSession",
    "StoredTask",
    "Transcript",
    "format_sessions",
    "new_session_id",
    "open_history",
    "render_markdown",
    "resume_message",
    "store_factory",
]

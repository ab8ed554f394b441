"""The history behind its worker thread: the async API the Store actor, the CLI and the daemon use.

``HistoryStore`` owns one ``HistoryDatabase`` and the single-thread executor it
lives on. Every call runs there, in the order it was made, so a read sees every
write queued before it, and the event loop never waits for SQLite. ``write``
does not even await: it queues a transaction and reports back through a
callback. ``open_history`` is the way in for a session: it opens the file the
settings name and, for ``--resume``, loads the session to continue.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

import attrs

from aiway.actors.store.database import LAST, HistoryDatabase
from aiway.actors.store.errors import StoreError
from aiway.actors.store.export import render_markdown
from aiway.actors.store.files import write_export
from aiway.actors.store.records import LoadedSession, StoredSession, Transcript, WriteOp
from aiway.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

WriteDone = Callable[[BaseException | None], None]
"""Told, on the loop, how a write ended: None, or the ``StoreError`` that undid it."""


class DatabaseFactory(Protocol):
    """Makes the (not yet opened) database: ``HistoryDatabase``, or a test double."""

    def __call__(self, path: Path, *, lock_timeout: float) -> HistoryDatabase: ...


class StoreBackend(Protocol):
    """What the Store actor needs of a ``HistoryStore`` (a test double may stand in)."""

    @property
    def path(self) -> Path: ...

    def new_key(self) -> int: ...

    def write(self, ops: Sequence[WriteOp], on_done: WriteDone | None = None) -> None: ...

    async def load_session(self, selector: str = ..., *, tail: int = ...) -> LoadedSession: ...

    async def sessions(self, limit: int | None = None) -> tuple[StoredSession, ...]: ...

    async def session(self, selector: str) -> StoredSession: ...

    async def export(
        self, selector: str, path: Path, *, force: bool = False, confined: bool = False
    ) -> Transcript: ...

    async def delete_session(self, session_id: str) -> int: ...


def new_session_id() -> str:
    """A fresh session id: eight hex digits, short enough to type after ``/resume``."""
    return secrets.token_hex(4)


class HistoryStore:
    """The history database and its worker thread; see the module docstring."""

    def __init__(self, database: HistoryDatabase, executor: ThreadPoolExecutor) -> None:
        self._db = database
        self._executor = executor
        self._keys = itertools.count(1)
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        lock_timeout: float = 5.0,
        database: DatabaseFactory = HistoryDatabase,
    ) -> HistoryStore:
        """Open (create, repair or migrate) the file at ``path``. Raises ``StoreError``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiway-store")
        db = database(path, lock_timeout=lock_timeout)
        try:
            await asyncio.get_running_loop().run_in_executor(executor, db.open)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(db, executor)

    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def notes(self) -> tuple[str, ...]:
        """What opening did that the person should hear about (a repair, a migration)."""
        return tuple(self._db.notes)

    def new_key(self) -> int:
        """A number naming one message in writes, unique for this store's life."""
        return next(self._keys)

    def write(self, ops: Sequence[WriteOp], on_done: WriteDone | None = None) -> None:
        """Queue ``ops`` as one transaction behind every call made before; never blocks.

        ``on_done`` is called on the loop with None, or with the error after
        the transaction was rolled back. Without it a failure is logged.
        """
        if self._closed:
            error = StoreError(f"the history database {self.path} is closed")
            if on_done is not None:
                on_done(error)
            else:
                log.error("%d history writes lost: %s", len(ops), error)
            return
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._db.apply, ops)

        def finished(done: asyncio.Future[None]) -> None:
            error = None if done.cancelled() else done.exception()
            if on_done is not None:
                on_done(error)
            elif error is not None:
                log.error("%d history writes lost: %s", len(ops), error)

        future.add_done_callback(finished)

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise StoreError(f"the history database {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def load_session(self, selector: str = LAST, *, tail: int = 50) -> LoadedSession:
        """The session ``selector`` names (``last``, an id or a unique prefix), ready to resume.

        Only the last ``tail`` messages are read; answers left streaming by a
        crash are marked interrupted. Raises ``SessionNotFound`` or ``StoreError``.
        """
        return await self._call(self._db.load_session, selector, tail)

    async def sessions(self, limit: int | None = None) -> tuple[StoredSession, ...]:
        """Saved sessions, the most recently changed first."""
        return await self._call(self._db.sessions, limit)

    async def session(self, selector: str) -> StoredSession:
        """One saved session (raises ``SessionNotFound``)."""
        return await self._call(self._db.session, selector)

    async def transcript(self, selector: str) -> Transcript:
        """Every message and task of one session."""
        return await self._call(self._db.transcript, selector)

    async def export(
        self, selector: str, path: Path, *, force: bool = False, confined: bool = False
    ) -> Transcript:
        """Write one session as Markdown to ``path``, a new 0600 file (see ``files.write_export``).

        Runs in the worker: no file I/O on the loop, and nothing there blocks
        (a FIFO is refused at once). ``force`` replaces an existing regular
        file; ``confined`` requires ``path``'s folder to be a real directory.
        Raises ``ExportRefused``, ``SessionNotFound`` or ``StoreError``.
        """
        return await self._call(_export, self._db, selector, path, force, confined)

    async def delete_session(self, session_id: str) -> int:
        """Delete one session with its messages and tasks; how many messages went."""
        return await self._call(self._db.delete_session, session_id)

    async def close(self) -> None:
        """Finish every queued write, close the file, let the thread go. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        finally:
            self._executor.shutdown(wait=False)


def _export(
    db: HistoryDatabase, selector: str, path: Path, force: bool, confined: bool
) -> Transcript:
    transcript = db.transcript(selector)
    write_export(path, render_markdown(transcript), force=force, confined=confined)
    return transcript


@attrs.frozen(slots=True)
class OpenedHistory:
    """An open history for one session: the store, the session's id, what was resumed."""

    store: HistoryStore
    #: the session this run writes to: the resumed one, or a new id
    session_id: str
    #: the session loaded for ``--resume``, or None for a new one
    resumed: LoadedSession | None
    #: the visible tail size (``history.resume_messages``)
    resume_messages: int
    #: seconds between checkpoints of a streaming answer
    checkpoint_interval: float
    #: writes held while the disk refuses them (``history.max_queued_writes``)
    max_queued_writes: int = 1000


async def open_history(
    settings: Settings,
    *,
    resume: str | None = None,
    database: DatabaseFactory = HistoryDatabase,
) -> OpenedHistory | None:
    """Open the history the settings name, and load ``resume`` (an id, a prefix or ``last``).

    None when the history is off. Raises ``StoreError`` (locked, damaged
    beyond repair, too new, no such session); a repair or migration that
    happened is in ``store.notes``.
    """
    history = settings.history
    if not history.enabled:
        if resume is not None:
            raise StoreError(
                "--resume needs the history, which is off (--no-history, or "
                "history.enabled = false)"
            )
        return None
    if history.path is None:
        raise StoreError("history.path is not set: the settings were not loaded by the loader")
    store = await HistoryStore.open(
        history.path, lock_timeout=history.lock_timeout, database=database
    )
    try:
        loaded = None
        if resume is not None:
            loaded = await store.load_session(resume, tail=history.resume_messages)
    except BaseException:
        await store.close()
        raise
    return OpenedHistory(
        store,
        loaded.session.id if loaded is not None else new_session_id(),
        loaded,
        history.resume_messages,
        history.checkpoint_interval,
        history.max_queued_writes,
    )

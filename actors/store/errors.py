"""Errors of the conversation store: each says which file, what is wrong, and what to do."""

from __future__ import annotations

from aiway.actors.errors import AiwayError


class StoreError(AiwayError):
    """The history database could not be opened, read or written."""


class StoreLocked(StoreError):
    """Another program held a lock on the database for longer than the lock timeout."""


class StoreDamaged(StoreError):
    """The database file is not readable as SQLite (corrupt, truncated, or another format)."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        #: SQLite's own words ("file is not a database")
        self.reason = reason or message


class StoreTooNew(StoreError):
    """The database was written by a newer aiway whose schema this one does not know."""


class SessionNotFound(StoreError):
    """No saved session matches the id (or prefix) given, or it matches several."""

"""Messages between the Store actor and the Conductor, and the history slash commands."""

from __future__ import annotations

from typing import Final

import attrs

from aiway.actors.protocol import HistoryEntry
from aiway.actors.runtime import ActorRef
from aiway.actors.store.records import StoredTask

STORE_COMMANDS: Final = frozenset({"sessions", "new", "resume", "export", "delete", "title"})
"""Slash commands the Conductor passes on to the Store actor."""

HISTORY_OFF: Final = (
    "the history is off (--no-history, or history.enabled = false in the config): "
    "nothing is saved, so there is nothing to list, resume or export"
)


LOCAL_SURFACES: Final = frozenset({"tui", "headless"})
"""Surface ids of the surfaces that run in aiway's own process (``ui/tui``, ``ui/headless``).

A history command from one of them is the person at this machine's: ``/export``
writes where they say. Any other id (a daemon's surfaces are ``TYPE-N``, and
the daemon stamps every message with the id it gave) is remote: its exports go
only into the ``exports`` folder beside the database.
"""


@attrs.frozen(slots=True)
class StoreCommand:
    """Conductor -> Store: a history slash command (``command`` without the slash).

    ``surface_id`` is who sent it, as stamped on its way in: it decides whether
    ``/export`` may write anywhere (``LOCAL_SURFACES``) or only under ``exports``.
    """

    command: str
    args: str = ""
    surface_id: str = ""


@attrs.frozen(slots=True)
class ResumeSession:
    """Store (or start-up) -> Conductor: the conversation is this session from now on.

    ``history`` is the visible tail of a saved session (empty for a new one),
    ``tasks`` its task cards; ``note`` is the notice shown once it is live
    (empty at start-up).
    """

    session_id: str
    history: tuple[HistoryEntry, ...] = ()
    tasks: tuple[StoredTask, ...] = ()
    note: str = ""


@attrs.frozen(slots=True)
class Settle:
    """Session -> Store (an ask): reply ``Settled`` once every write queued before it is
    handed to the store's thread, without waiting out the write delay.

    The thread runs its calls in order, so what the asker reads from the same
    store after the reply (the conversation a core placed anew is seeded with)
    includes those writes.
    """

    reply_to: ActorRef


@attrs.frozen(slots=True)
class Settled:
    """Store -> asker: the writes queued before ``Settle`` are with the store's thread."""


SETTLED: Final = Settled()

"""Turning a loaded session into the message that makes it the live conversation.

``resume_message`` is what the Store sends the Conductor; ``resumed_note`` the
notice the person sees. The tasks are replayed on the Conductor's side
(``aiway.actors.resume``).
"""

from __future__ import annotations

from aiway.actors.store.messages import ResumeSession
from aiway.actors.store.records import LoadedSession


def resume_message(loaded: LoadedSession, note: str = "") -> ResumeSession:
    """What tells the Conductor to continue ``loaded``."""
    return ResumeSession(loaded.session.id, loaded.history, loaded.tasks, note)


def resumed_note(loaded: LoadedSession) -> str:
    """The notice shown when a session is resumed."""
    session = loaded.session
    shown = len(loaded.history)
    older = session.message_count - shown
    parts = [f"{session.title or 'untitled'} ({session.id}), {session.message_count} messages"]
    if older > 0:
        parts.append(f"the last {shown} shown; `aiway export {session.id}` has them all")
    if loaded.interrupted:
        parts.append(f"{loaded.interrupted} answer cut short by a crash is marked interrupted")
    return "; ".join(parts)

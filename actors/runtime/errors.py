"""Errors raised by the actor runtime."""

from __future__ import annotations

from aiway.actors.errors import AiwayError


class ActorRuntimeError(AiwayError):
    """Base of the runtime's errors."""


class AskTimeout(ActorRuntimeError, TimeoutError):
    """An ask got no reply in time. A reply that arrives later is discarded and counted."""


class ActorStopped(ActorRuntimeError):
    """The target actor stopped (or was never running) while an ask was pending."""


class MailboxFull(ActorRuntimeError, TimeoutError):
    """An edge producer waited for mailbox space longer than its timeout."""


class DuplicateActorName(ActorRuntimeError):
    """An actor with this name is already running in the system."""

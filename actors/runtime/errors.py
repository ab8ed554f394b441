"""Errors raised by the actor runtime."""

from __future__ import annotations

from aiway.actors.errors import AiwayError


class RuntimeError_(AiwayError):
    """Base of the runtime's errors."""


class AskTimeout(RuntimeError_, TimeoutError):
    """An ask got no reply in time. A reply that arrives later is discarded and counted."""


class ActorStopped(RuntimeError_):
    """The target actor stopped (or was never running) while an ask was pending."""


class MailboxFull(RuntimeError_, TimeoutError):
    """An edge producer waited for mailbox space longer than its timeout."""


class DuplicateActorName(RuntimeError_):
    """An actor with this name is already running in the system."""

"""How a session gets its Store actor: the factory ``Assistant.start`` attaches as a surface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aiway.actors.protocol import Capability
from aiway.actors.runtime import ActorRef
from aiway.actors.store.actor import StoreActor
from aiway.actors.store.history import OpenedHistory

STORE_CAPABILITIES: Final = frozenset({Capability.TASKS})
"""What the Store actor takes as a surface: the conversation and the task cards, no tokens."""


def store_factory(
    history: OpenedHistory,
    *,
    registry: ActorRef,
    conductor: ActorRef,
    model: str,
    system_prompt: str,
) -> Callable[[], StoreActor]:
    """Builds the Store actor for ``history`` (again after a restart)."""

    def make() -> StoreActor:
        return StoreActor(
            history.store,
            registry=registry,
            conductor=conductor,
            session_id=history.session_id,
            model=model,
            system_prompt=system_prompt,
            checkpoint_interval=history.checkpoint_interval,
            resume_messages=history.resume_messages,
            resumed=history.resumed,
            max_queued_writes=history.max_queued_writes,
        )

    return make

"""What waits at the bridge: coalesced the way a mailbox would, and the bridge's counters."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import attrs

from aiway.actors.runtime.thespian.config import SystemHandle


@attrs.frozen(slots=True)
class BridgeStats:
    """The bridge's counters (both directions)."""

    sent: int
    """Messages handed to the driver for Thespian actors."""
    sent_coalesced: int
    """Of those, merged into or replaced by a newer one before they left."""
    thespian_messages_out: int
    """Thespian messages the driver sent (an ``Envelope`` or a ``Batch`` of them)."""
    received: int
    """Messages from Thespian actors for actors of this process."""
    received_coalesced: int
    """Of those, merged or replaced before the loop took them."""
    loop_handoffs: int
    """``call_soon_threadsafe`` calls the listener made to hand messages over."""
    blocked_puts: int
    """Edge puts that waited because the driver was ``capacity`` operations behind."""
    held: int
    """Times a full mailbox of this process refused a message from Thespian: the bridge
    held it (and what followed for that actor) until the mailbox drained."""
    undeliverable: int
    """Messages for names this process does not (or no longer) export."""
    bad_input: int
    """Messages that could not be decoded."""


def teller(address: object, msg: object) -> Callable[[SystemHandle], None]:
    """A driver operation that tells ``msg`` to ``address``."""

    def tell(system: SystemHandle) -> None:
        system.tell(address, msg)

    return tell


class Staging:
    """Messages waiting at the bridge, coalesced per target as a mailbox would."""

    __slots__ = ("coalesced", "items", "keyed", "newest")

    def __init__(self) -> None:
        self.items: list[tuple[str, Any, object]] = []
        self.newest: dict[str, int] = {}
        self.keyed: dict[tuple[str, type, Hashable], int] = {}
        self.coalesced = 0

    def add(self, name: str, target: Any, msg: object) -> None:
        kind = type(msg)
        items = self.items
        if not getattr(kind, "control", False):
            if hasattr(kind, "merge"):
                index = self.newest.get(name)
                if index is not None:
                    queued = items[index][2]
                    if type(queued) is kind:
                        merged = queued.merge(msg)  # type: ignore[attr-defined]
                        if merged is not None:
                            items[index] = (name, target, merged)
                            self.coalesced += 1
                            return
            elif hasattr(kind, "coalesce_key"):
                key = msg.coalesce_key  # type: ignore[attr-defined]
                if key is not None:
                    slot = (name, kind, key)
                    index = self.keyed.get(slot)
                    if index is not None:
                        items[index] = (name, target, msg)
                        self.coalesced += 1
                        return
                    self.keyed[slot] = len(items)
        self.newest[name] = len(items)
        items.append((name, target, msg))

    def take(self) -> list[tuple[str, Any, object]]:
        items = self.items
        self.items = []
        self.newest.clear()
        self.keyed.clear()
        return items

"""The mailbox's hot paths in C (``_lane.c``); ``Mailbox`` subclasses ``Lane``."""

from collections import deque
from collections.abc import Callable, Mapping
from typing import TypeVar

from aiway.actors.runtime.mailbox import Delivery

_Target = TypeVar("_Target")
_Ctx = TypeVar("_Ctx")

class Lane:
    _queue: deque[object]
    _control: deque[object]
    on_ready: Callable[[], None]
    _woke_at: float
    _halted: object
    _mark: int
    _wakes: int
    _asleep: bool
    @property
    def _drained(self) -> int: ...
    def offer(self, msg: object) -> Delivery:
        """Enqueue without blocking: accepted, coalesced, or rejected by the overflow policy.

        A closed mailbox returns DEAD (and reports it to ``on_dead``).
        """
    def _drain(
        self,
        handlers: Mapping[type, Callable[[_Target, _Ctx, object], object]],
        target: _Target,
        ctx: _Ctx,
        limit: int,
    ) -> int: ...

def bind(plain_kinds: set[type], accepted: Delivery, clock: Callable[[], float]) -> None: ...

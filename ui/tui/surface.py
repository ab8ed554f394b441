"""The TUI surface actor: runs on the loop thread and only hands data to the view model.

Each handler folds one message into the shared ``ViewModel`` (a few field
updates under its lock) and returns; the view model wakes the UI thread. No
handler waits for the UI, so a slow terminal can never stall the actors: the
registry's outbox bound and resync, and the view model's overwritten slots,
take the pressure.
"""

from __future__ import annotations

from aiway.actors.protocol import AvatarFrame, Capability, Metrics, Published, StateSnapshot
from aiway.actors.runtime import Behaviour, Context, handles
from aiway.ui.tui.viewmodel import ViewModel

CAPABILITIES = frozenset(
    {
        Capability.COLOR,
        Capability.AVATAR,
        Capability.ANIMATIONS,
        Capability.TASKS,
        Capability.STREAMING,
        Capability.KEYBOARD,
        Capability.METRICS,
    }
)


class TuiSurface(Behaviour):
    """Folds everything published to the terminal UI into ``view``."""

    def __init__(self, view: ViewModel) -> None:
        self.view = view

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.view.snapshot(msg)

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        self.view.publish(msg.message, msg.seq)

    @handles(AvatarFrame)
    def on_frame(self, ctx: Context, msg: AvatarFrame) -> None:
        self.view.avatar(msg)

    @handles(Metrics)
    def on_metrics(self, ctx: Context, msg: Metrics) -> None:
        self.view.metrics(msg)

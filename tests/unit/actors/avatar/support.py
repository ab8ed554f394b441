"""Helpers for the avatar tests: an Avatar under a Probe, and a context that allocates nothing."""

from __future__ import annotations

import random

from aiway.actors.avatar import Avatar, SpriteSet
from aiway.actors.avatar.harness import LeanContext, SinkTarget
from aiway.actors.protocol import AvatarFrame, AvatarState
from aiway.actors.runtime import (
    Behaviour,
)
from aiway.actors.runtime.testing import Probe


class _Unstarted(Behaviour):
    """Stands in until the Avatar, which needs the probe's registry ref, is built."""


def start_avatar(
    *,
    reduce_motion: bool = False,
    seed: int = 7,
    fps: float = 10,
    sprites: SpriteSet | None = None,
    area: tuple[int, int] = (80, 24),
) -> tuple[Probe, Avatar]:
    """An Avatar under a Probe, started; it tells the probe's ``registry`` ref."""
    probe = Probe(_Unstarted(), name="avatar", start=False)
    avatar = Avatar(
        probe.ref("registry"),
        reduce_motion=reduce_motion,
        fps=fps,
        sprites=sprites,
        area=area,
        rng=random.Random(seed),
    )
    probe.behaviour = avatar
    avatar.on_start(probe)
    return probe, avatar


def frames(probe: Probe) -> list[AvatarFrame]:
    """Every frame the avatar published so far."""
    return probe.sent(AvatarFrame)


def last_state(probe: Probe) -> AvatarState:
    """The avatar's latest published state."""
    states: list[AvatarState] = probe.sent(AvatarState)
    return states[-1]


def last_frame(probe: Probe) -> AvatarFrame:
    """The avatar's latest published frame."""
    return frames(probe)[-1]


__all__ = ["LeanContext", "SinkTarget", "frames", "last_frame", "last_state", "start_avatar"]

"""Avatar vocabulary (enums) and the avatar commands the Conductor sends the Avatar actor."""

from __future__ import annotations

import enum

import attrs

from aiway.actors.protocol.base import WireMessage


class Mood(enum.Enum):
    HAPPY = "happy"
    THINKING = "thinking"
    PLAYFUL = "playful"
    SHY = "shy"
    EXCITED = "excited"
    CONFUSED = "confused"
    CALM = "calm"
    CURIOUS = "curious"


class AvatarSize(enum.Enum):
    TINY = "tiny"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Anchor(enum.Enum):
    """Named positions; ``PERCENT`` means the x/y percentages apply."""

    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"
    CENTER = "center"
    FOLLOW = "follow"
    PERCENT = "percent"


class Gesture(enum.Enum):
    WAVE = "wave"
    NOD = "nod"
    SHAKE = "shake"
    PEEK = "peek"
    BOUNCE = "bounce"
    SPIN = "spin"
    DANCE = "dance"
    SWIM = "swim"
    STRETCH = "stretch"
    YAWN = "yawn"
    WIGGLE = "wiggle"


class Reaction(enum.Enum):
    LAUGH = "laugh"
    GASP = "gasp"
    HMM = "hmm"
    TADA = "tada"
    OOPS = "oops"
    LOVE = "love"
    BLUSH = "blush"
    WINK = "wink"
    CRY = "cry"
    ANGRY = "angry"
    SLEEPY = "sleepy"
    DIZZY = "dizzy"


class PeekDirection(enum.Enum):
    LEFT = "left"
    RIGHT = "right"
    TOP = "top"
    BOTTOM = "bottom"


class Animation(enum.Enum):
    IDLE = "idle"
    THINKING = "thinking"
    TALKING = "talking"
    HAPPY = "happy"
    SWIMMING = "swimming"
    WAITING = "waiting"
    ERROR = "error"
    WINK = "wink"


# -- commands (Conductor -> Avatar), produced by the tag parser ---------------


@attrs.frozen(slots=True)
class SetMood(WireMessage):
    """Change the resting mood."""

    mood: Mood


@attrs.frozen(slots=True)
class SetSize(WireMessage):
    """Change the sprite size."""

    size: AvatarSize


@attrs.frozen(slots=True)
class MoveTo(WireMessage):
    """Move to a named anchor, or to x/y percent of the free area (anchor PERCENT)."""

    anchor: Anchor
    x: int = 0
    y: int = 0


@attrs.frozen(slots=True)
class PointAt(WireMessage):
    """Point at x/y percent of the free area; stops wandering."""

    x: int
    y: int


@attrs.frozen(slots=True)
class SetWander(WireMessage):
    """Start or stop drifting about."""

    enabled: bool


@attrs.frozen(slots=True)
class SetVisible(WireMessage):
    """Show or hide the avatar."""

    visible: bool


@attrs.frozen(slots=True)
class PlayGesture(WireMessage):
    """Play a gesture for its default duration (peek takes a direction)."""

    gesture: Gesture
    direction: PeekDirection | None = None


@attrs.frozen(slots=True)
class PlayReaction(WireMessage):
    """Play a reaction for its default duration."""

    reaction: Reaction


AvatarCommand = (
    SetMood | SetSize | MoveTo | PointAt | SetWander | SetVisible | PlayGesture | PlayReaction
)


@attrs.frozen(slots=True)
class AvatarViewers(WireMessage):
    """Registry -> Avatar: how many surfaces currently show the avatar (0 stops the clock)."""

    count: int

"""What Yollayah plays and for how long: the tables of docs/TAGS.md and the precedence rule.

Each gesture and reaction has a default duration and the animation it shows;
each mood and conversation state maps to an animation. ``shown_animation``
applies the precedence: an active gesture, then an active reaction, then the
conversation state, then the mood.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from aiway.actors.protocol.avatar import Animation, Gesture, Mood, Reaction
from aiway.actors.protocol.conductor import ConversationState

_A = Animation

GESTURES: Mapping[Gesture, tuple[float, Animation]] = MappingProxyType(
    {
        Gesture.WAVE: (1.5, _A.HAPPY),
        Gesture.NOD: (0.8, _A.TALKING),
        Gesture.SHAKE: (0.8, _A.ERROR),
        Gesture.BOUNCE: (1.0, _A.HAPPY),
        Gesture.SPIN: (1.2, _A.SWIMMING),
        Gesture.DANCE: (2.0, _A.HAPPY),
        Gesture.SWIM: (2.0, _A.SWIMMING),
        Gesture.STRETCH: (1.5, _A.IDLE),
        Gesture.YAWN: (2.0, _A.IDLE),
        Gesture.WIGGLE: (1.0, _A.SWIMMING),
        Gesture.PEEK: (1.0, _A.IDLE),
    }
)
"""Gesture -> (default duration in seconds, animation shown)."""

REACTIONS: Mapping[Reaction, tuple[float, Animation]] = MappingProxyType(
    {
        Reaction.LAUGH: (2.0, _A.HAPPY),
        Reaction.GASP: (1.0, _A.ERROR),
        Reaction.HMM: (2.0, _A.THINKING),
        Reaction.TADA: (2.5, _A.HAPPY),
        Reaction.OOPS: (1.5, _A.ERROR),
        Reaction.LOVE: (2.0, _A.HAPPY),
        Reaction.BLUSH: (1.5, _A.IDLE),
        Reaction.WINK: (1.0, _A.WINK),
        Reaction.CRY: (2.0, _A.ERROR),
        Reaction.ANGRY: (1.5, _A.ERROR),
        Reaction.SLEEPY: (2.5, _A.IDLE),
        Reaction.DIZZY: (2.0, _A.SWIMMING),
    }
)
"""Reaction -> (default duration in seconds, animation shown)."""

MOODS: Mapping[Mood, Animation] = MappingProxyType(
    {
        Mood.HAPPY: _A.HAPPY,
        Mood.EXCITED: _A.HAPPY,
        Mood.THINKING: _A.THINKING,
        Mood.PLAYFUL: _A.SWIMMING,
        Mood.SHY: _A.IDLE,
        Mood.CALM: _A.IDLE,
        Mood.CONFUSED: _A.ERROR,
        Mood.CURIOUS: _A.WAITING,
    }
)
"""Mood -> the animation it rests in."""

CONVERSATION: Mapping[ConversationState, Animation] = MappingProxyType(
    {
        ConversationState.THINKING: _A.THINKING,
        ConversationState.RESPONDING: _A.TALKING,
    }
)
"""Conversation states that override the mood; every other state leaves the mood showing."""


def shown_animation(
    gesture: Gesture | None,
    reaction: Reaction | None,
    conversation: ConversationState,
    mood: Mood,
) -> Animation:
    """The animation to show, by precedence: gesture, reaction, conversation state, mood."""
    if gesture is not None:
        return GESTURES[gesture][1]
    if reaction is not None:
        return REACTIONS[reaction][1]
    by_state = CONVERSATION.get(conversation)
    if by_state is not None:
        return by_state
    return MOODS[mood]

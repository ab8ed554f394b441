"""The tables of TAGS.md and the precedence of what shows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.avatar.repertoire import CONVERSATION, GESTURES, MOODS, REACTIONS, shown_animation
from aiway.actors.protocol import Animation, ConversationState, Gesture, Mood, Reaction


def test_every_gesture_reaction_and_mood_has_an_entry() -> None:
    assert set(GESTURES) == set(Gesture)
    assert set(REACTIONS) == set(Reaction)
    assert set(MOODS) == set(Mood)


def test_durations_and_animations_follow_tags_md() -> None:
    assert GESTURES[Gesture.WAVE] == (1.5, Animation.HAPPY)
    assert GESTURES[Gesture.NOD] == (0.8, Animation.TALKING)
    assert GESTURES[Gesture.SPIN] == (1.2, Animation.SWIMMING)
    assert GESTURES[Gesture.PEEK] == (1.0, Animation.IDLE)
    assert REACTIONS[Reaction.TADA] == (2.5, Animation.HAPPY)
    assert REACTIONS[Reaction.HMM] == (2.0, Animation.THINKING)
    assert REACTIONS[Reaction.WINK] == (1.0, Animation.WINK)
    assert REACTIONS[Reaction.SLEEPY] == (2.5, Animation.IDLE)
    assert REACTIONS[Reaction.DIZZY] == (2.0, Animation.SWIMMING)


def test_moods_show_their_animation() -> None:
    assert MOODS == {
        Mood.HAPPY: Animation.HAPPY,
        Mood.EXCITED: Animation.HAPPY,
        Mood.THINKING: Animation.THINKING,
        Mood.PLAYFUL: Animation.SWIMMING,
        Mood.SHY: Animation.IDLE,
        Mood.CALM: Animation.IDLE,
        Mood.CONFUSED: Animation.ERROR,
        Mood.CURIOUS: Animation.WAITING,
    }


def test_only_thinking_and_responding_override_the_mood() -> None:
    assert CONVERSATION == {
        ConversationState.THINKING: Animation.THINKING,
        ConversationState.RESPONDING: Animation.TALKING,
    }


@given(
    st.sampled_from(Gesture) | st.none(),
    st.sampled_from(Reaction) | st.none(),
    st.sampled_from(ConversationState),
    st.sampled_from(Mood),
)
def test_precedence_gesture_reaction_state_mood(
    gesture: Gesture | None, reaction: Reaction | None, state: ConversationState, mood: Mood
) -> None:
    shown = shown_animation(gesture, reaction, state, mood)
    if gesture is not None:
        assert shown is GESTURES[gesture][1]
    elif reaction is not None:
        assert shown is REACTIONS[reaction][1]
    elif state in CONVERSATION:
        assert shown is CONVERSATION[state]
    else:
        assert shown is MOODS[mood]

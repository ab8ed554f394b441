"""The Avatar's commands -> logical state -> animation, positions, and what it publishes."""

from __future__ import annotations

import pytest

from aiway.actors.avatar import default_sprites
from aiway.actors.avatar.repertoire import GESTURES, REACTIONS
from aiway.actors.protocol import (
    Anchor,
    Animation,
    AvatarFrame,
    AvatarSize,
    AvatarState,
    AvatarViewers,
    ConversationState,
    Gesture,
    Mood,
    MoveTo,
    PeekDirection,
    PlayGesture,
    PlayReaction,
    PointAt,
    Reaction,
    Resized,
    SetMood,
    SetSize,
    SetVisible,
    State,
)
from tests.unit.actors.avatar.support import frames, last_frame, last_state, start_avatar


def test_start_publishes_the_default_frame_and_state() -> None:
    probe, _ = start_avatar()
    frame = last_frame(probe)
    assert (frame.size, frame.animation, frame.frame, frame.visible) == (
        AvatarSize.MEDIUM,
        Animation.HAPPY,
        0,
        True,
    )
    assert (frame.x, frame.y) == (80 - 14, 24 - 5)  # bottom-right of the default 80x24 area
    # The protocol's default state, except that mood happy shows the happy animation (TAGS.md).
    assert last_state(probe) == AvatarState(animation=Animation.HAPPY)
    assert probe.told[0][0] == probe.ref("registry")


@pytest.mark.parametrize(
    ("mood", "animation"),
    [
        (Mood.HAPPY, Animation.HAPPY),
        (Mood.EXCITED, Animation.HAPPY),
        (Mood.THINKING, Animation.THINKING),
        (Mood.PLAYFUL, Animation.SWIMMING),
        (Mood.SHY, Animation.IDLE),
        (Mood.CALM, Animation.IDLE),
        (Mood.CONFUSED, Animation.ERROR),
        (Mood.CURIOUS, Animation.WAITING),
    ],
)
def test_mood_sets_state_and_animation(mood: Mood, animation: Animation) -> None:
    probe, _ = start_avatar()
    probe.send(SetMood(Mood.CALM if mood is Mood.HAPPY else Mood.HAPPY))
    probe.send(SetMood(mood))
    state = last_state(probe)
    assert (state.mood, state.animation) == (mood, animation)
    assert last_frame(probe).animation is animation


@pytest.mark.parametrize(
    ("conversation", "animation"),
    [
        (ConversationState.THINKING, Animation.THINKING),
        (ConversationState.RESPONDING, Animation.TALKING),
        (ConversationState.READY, Animation.IDLE),
        (ConversationState.LISTENING, Animation.IDLE),
    ],
)
def test_conversation_state_overrides_the_mood(
    conversation: ConversationState, animation: Animation
) -> None:
    probe, _ = start_avatar()
    probe.send(SetMood(Mood.CALM))
    probe.send(State(conversation))
    assert last_state(probe).animation is animation
    assert last_frame(probe).animation is animation


@pytest.mark.parametrize("gesture", list(Gesture))
def test_gesture_plays_its_animation_then_expires_after_its_duration(gesture: Gesture) -> None:
    duration, animation = GESTURES[gesture]
    probe, _ = start_avatar()
    probe.send(AvatarViewers(1))
    probe.send(SetMood(Mood.CONFUSED))  # shows error, so any gesture's animation is visible
    probe.send(PlayGesture(gesture, PeekDirection.LEFT))
    assert (last_state(probe).gesture, last_state(probe).animation) == (gesture, animation)
    probe.advance(duration - 0.01)
    assert last_state(probe).gesture is gesture
    probe.advance(0.02)
    assert last_state(probe).gesture is None
    assert last_state(probe).animation is Animation.ERROR
    assert last_frame(probe).animation is Animation.ERROR


@pytest.mark.parametrize("reaction", list(Reaction))
def test_reaction_plays_its_animation_then_expires_after_its_duration(reaction: Reaction) -> None:
    duration, animation = REACTIONS[reaction]
    probe, _ = start_avatar()
    probe.send(AvatarViewers(2))
    probe.send(PlayReaction(reaction))
    assert (last_state(probe).reaction, last_state(probe).animation) == (reaction, animation)
    probe.advance(duration - 0.01)
    assert last_state(probe).reaction is reaction
    probe.advance(0.02)
    assert (last_state(probe).reaction, last_state(probe).animation) == (None, Animation.HAPPY)


def test_gesture_replaces_a_running_reaction_and_runs_its_own_duration() -> None:
    probe, _ = start_avatar()
    probe.send(AvatarViewers(1))
    probe.send(PlayReaction(Reaction.TADA))  # 2.5 s
    probe.advance(1.0)
    probe.send(PlayGesture(Gesture.NOD))  # 0.8 s
    assert (last_state(probe).gesture, last_state(probe).reaction) == (Gesture.NOD, None)
    assert last_state(probe).animation is Animation.TALKING
    probe.advance(0.79)
    assert last_state(probe).gesture is Gesture.NOD
    probe.advance(0.02)
    assert (last_state(probe).gesture, last_state(probe).reaction) == (None, None)


def test_reaction_replaces_a_running_gesture() -> None:
    probe, _ = start_avatar()
    probe.send(AvatarViewers(1))
    probe.send(PlayGesture(Gesture.DANCE))  # 2.0 s
    probe.advance(1.5)
    probe.send(PlayReaction(Reaction.GASP))  # 1.0 s: outlives the dance's end at 2.0
    assert (last_state(probe).gesture, last_state(probe).reaction) == (None, Reaction.GASP)
    probe.advance(0.6)
    assert last_state(probe).reaction is Reaction.GASP
    probe.advance(0.5)
    assert last_state(probe).reaction is None


def test_precedence_gesture_then_reaction_then_conversation_then_mood() -> None:
    probe, _ = start_avatar()
    probe.send(AvatarViewers(1))
    probe.send(SetMood(Mood.CURIOUS))
    assert last_state(probe).animation is Animation.WAITING
    probe.send(State(ConversationState.THINKING))
    assert last_state(probe).animation is Animation.THINKING
    probe.send(PlayReaction(Reaction.WINK))
    assert last_state(probe).animation is Animation.WINK
    probe.send(PlayGesture(Gesture.SPIN))
    assert last_state(probe).animation is Animation.SWIMMING
    probe.advance(1.3)
    assert last_state(probe).animation is Animation.THINKING  # the wink was replaced
    probe.send(State(ConversationState.READY))
    assert last_state(probe).animation is Animation.WAITING


MEDIUM_ROOM = (80 - 14, 24 - 5)


@pytest.mark.parametrize(
    ("command", "cell", "percent"),
    [
        (MoveTo(Anchor.TOP_LEFT), (0, 0), (0, 0)),
        (MoveTo(Anchor.TOP_RIGHT), (66, 0), (100, 0)),
        (MoveTo(Anchor.BOTTOM_LEFT), (0, 19), (0, 100)),
        (MoveTo(Anchor.BOTTOM_RIGHT), (66, 19), (100, 100)),
        (MoveTo(Anchor.CENTER), (33, 10), (50, 50)),
        (MoveTo(Anchor.FOLLOW), (66, 19), (100, 100)),
        (MoveTo(Anchor.PERCENT, 25, 75), (17, 14), (25, 75)),
        (MoveTo(Anchor.PERCENT, 150, -5), (66, 0), (100, 0)),
    ],
)
def test_move_places_the_sprite_inside_the_free_area(
    command: MoveTo, cell: tuple[int, int], percent: tuple[int, int]
) -> None:
    probe, _ = start_avatar()
    probe.send(
        MoveTo(Anchor.CENTER) if command.anchor is not Anchor.CENTER else MoveTo(Anchor.TOP_LEFT)
    )
    probe.send(command)
    assert (last_frame(probe).x, last_frame(probe).y) == cell
    state = last_state(probe)
    assert (state.anchor, state.x, state.y) == (command.anchor, *percent)


def test_point_moves_to_percent_and_stops_wandering() -> None:
    probe, _ = start_avatar()
    probe.send(PointAt(50, 0))
    state = last_state(probe)
    assert (state.anchor, state.x, state.y, state.wandering) == (Anchor.PERCENT, 50, 0, False)
    assert (last_frame(probe).x, last_frame(probe).y) == (33, 0)


def test_resize_keeps_the_anchor_and_a_too_small_area_pins_the_sprite_at_zero() -> None:
    probe, _ = start_avatar()
    probe.send(Resized(100, 40))
    assert (last_frame(probe).x, last_frame(probe).y) == (100 - 14, 40 - 5)
    probe.send(Resized(4, 1))
    assert (last_frame(probe).x, last_frame(probe).y) == (0, 0)


@pytest.mark.parametrize("size", list(AvatarSize))
def test_size_changes_the_sprite_and_keeps_it_anchored(size: AvatarSize) -> None:
    probe, _ = start_avatar()
    probe.send(SetSize(AvatarSize.SMALL if size is AvatarSize.MEDIUM else AvatarSize.MEDIUM))
    probe.send(SetSize(size))
    sheet = default_sprites().sheet(size)
    frame = last_frame(probe)
    assert (frame.size, frame.x, frame.y) == (size, 80 - sheet.width, 24 - sheet.height)
    assert len(frame.rows) == sheet.height
    assert last_state(probe).size is size


def test_hide_publishes_an_invisible_frame_and_show_a_visible_one() -> None:
    probe, _ = start_avatar()
    probe.send(SetVisible(False))
    assert last_frame(probe).visible is False
    assert last_state(probe).visible is False
    probe.send(SetVisible(True))
    assert last_frame(probe).visible is True


def test_repeated_commands_publish_nothing_new() -> None:
    probe, _ = start_avatar()
    probe.send(SetMood(Mood.CALM))
    probe.send(MoveTo(Anchor.TOP_LEFT))
    probe.clear()
    probe.send(SetMood(Mood.CALM))
    probe.send(MoveTo(Anchor.TOP_LEFT))
    probe.send(SetSize(AvatarSize.MEDIUM))
    probe.send(SetVisible(True))
    probe.send(State(ConversationState.READY))
    assert probe.told == []


def test_state_is_published_only_on_logical_change() -> None:
    probe, _ = start_avatar()
    probe.send(SetMood(Mood.SHY))  # idle
    probe.clear()
    probe.send(SetMood(Mood.CALM))  # also idle: state changes, the frame does not
    assert probe.sent(AvatarFrame) == []
    assert [s.mood for s in probe.sent(AvatarState)] == [Mood.CALM]


def test_a_new_viewer_gets_the_current_frame_again() -> None:
    probe, _ = start_avatar()
    shown = last_frame(probe)
    probe.clear()
    probe.send(AvatarViewers(1))
    assert frames(probe) == [shown]
    assert frames(probe)[0] is shown
    probe.clear()
    probe.send(AvatarViewers(1))
    probe.send(AvatarViewers(0))
    assert frames(probe) == []

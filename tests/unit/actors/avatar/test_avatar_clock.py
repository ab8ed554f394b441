"""The Avatar's clock: frame timing, no timer unless watched, reduce motion, stale timers."""

from __future__ import annotations

from pathlib import Path

from aiway.actors.avatar import default_sprites, load_sprites
from aiway.actors.protocol import (
    Anchor,
    Animation,
    AvatarSize,
    AvatarViewers,
    ConversationState,
    Gesture,
    Mood,
    MoveTo,
    PlayGesture,
    PlayReaction,
    Reaction,
    Resized,
    SetMood,
    SetSize,
    SetVisible,
    SetWander,
    State,
)
from aiway.actors.runtime.testing import Probe
from tests.unit.actors.avatar.support import frames, last_frame, last_state, start_avatar


def pending(probe: Probe, kind: str) -> list[object]:
    """Pending timer messages of one private kind (``_Tick`` or ``_EffectEnds``)."""
    return [msg for _, msg in probe.timers.values() if type(msg).__name__ == kind]


def watched_idle(fps: float = 10) -> Probe:
    """A watched avatar playing idle in place (calm mood, no wandering)."""
    probe, _ = start_avatar(fps=fps)
    probe.send(SetMood(Mood.CALM))
    probe.send(SetWander(False))
    probe.send(AvatarViewers(1))
    return probe


def test_no_timer_while_nobody_watches() -> None:
    probe, _ = start_avatar()
    probe.send(SetMood(Mood.PLAYFUL))
    probe.send(PlayGesture(Gesture.WAVE))
    assert probe.timers == {}
    assert probe.advance(60.0) == 0


def test_viewers_start_the_clock_and_zero_viewers_stop_it() -> None:
    probe, _ = start_avatar()
    probe.send(AvatarViewers(1))
    assert len(pending(probe, "_Tick")) == 1
    probe.send(AvatarViewers(0))
    assert probe.timers == {}
    shown = len(frames(probe))
    assert probe.advance(30.0) == 0
    assert len(frames(probe)) == shown


def test_hidden_avatar_has_no_timer_at_all() -> None:
    probe, _ = start_avatar()
    probe.send(AvatarViewers(3))
    probe.send(PlayReaction(Reaction.LOVE))
    assert probe.timers
    probe.send(SetVisible(False))
    assert probe.timers == {}
    probe.send(PlayGesture(Gesture.DANCE))
    probe.send(SetMood(Mood.EXCITED))
    assert probe.timers == {}
    probe.send(SetVisible(True))
    assert len(pending(probe, "_Tick")) == 1
    assert len(pending(probe, "_EffectEnds")) == 1


def test_an_effect_that_ends_while_unwatched_is_dropped_when_watching_resumes() -> None:
    probe, _ = start_avatar()
    probe.send(PlayGesture(Gesture.WAVE))
    assert last_state(probe).gesture is Gesture.WAVE
    probe.advance(2.0)
    probe.send(AvatarViewers(1))
    assert last_state(probe).gesture is None
    assert pending(probe, "_EffectEnds") == []


def test_frames_advance_by_their_durations_and_loop() -> None:
    probe = watched_idle()
    idle = default_sprites().sheet(AvatarSize.MEDIUM).frames(Animation.IDLE)
    seen = [last_frame(probe).frame]
    switch_at = 0.0
    for frame in idle:
        switch_at += frame.duration
        probe.advance(switch_at - 0.005 - probe.clock)
        assert last_frame(probe).frame == seen[-1]
        probe.advance(switch_at + 0.005 - probe.clock)
        seen.append(last_frame(probe).frame)
    assert seen == [0, 1, 2, 3, 0]


def test_fps_caps_the_frame_rate() -> None:
    probe = watched_idle(fps=2)  # the 150 ms blink shows for 500 ms
    probe.advance(1.2 + 1.0 + 0.9 + 0.001)
    assert last_frame(probe).frame == 3
    probe.advance(0.49)
    assert last_frame(probe).frame == 3
    probe.advance(0.02)
    assert last_frame(probe).frame == 0


def test_a_new_animation_starts_at_its_first_frame() -> None:
    probe = watched_idle()
    probe.advance(1.3)
    assert last_frame(probe).frame == 1
    probe.send(State(ConversationState.RESPONDING))
    assert (last_frame(probe).animation, last_frame(probe).frame) == (Animation.TALKING, 0)
    assert len(pending(probe, "_Tick")) == 1


def test_exactly_one_clock_timer_whatever_happens() -> None:
    probe = watched_idle()
    probe.send(SetWander(True))
    for command in (
        SetMood(Mood.PLAYFUL),
        PlayGesture(Gesture.SHAKE),
        Resized(120, 40),
        SetSize(AvatarSize.LARGE),
        PlayReaction(Reaction.DIZZY),
        MoveTo(Anchor.CENTER),
    ):
        probe.send(command)
        probe.advance(0.37)
        assert len(pending(probe, "_Tick")) == 1
        assert len(pending(probe, "_EffectEnds")) <= 1


def test_a_stale_tick_or_effect_end_changes_nothing() -> None:
    probe = watched_idle()
    probe.send(PlayGesture(Gesture.STRETCH))
    tick = pending(probe, "_Tick")[0]
    effect_end = pending(probe, "_EffectEnds")[0]
    probe.clear()
    probe.send(tick)  # early: as if a cancelled timer had fired before the cancel
    probe.send(effect_end)
    assert probe.told == []
    assert len(pending(probe, "_Tick")) == 1
    assert len(pending(probe, "_EffectEnds")) == 1
    probe.advance(1.5)
    assert last_state(probe).gesture is None


def test_reduce_motion_shows_one_still_frame_and_arms_no_clock() -> None:
    probe, _ = start_avatar(reduce_motion=True)
    assert last_state(probe).wandering is False
    probe.send(AvatarViewers(1))
    for command in (
        SetWander(True),
        SetMood(Mood.PLAYFUL),
        State(ConversationState.THINKING),
        MoveTo(Anchor.CENTER),
        SetSize(AvatarSize.LARGE),
    ):
        probe.send(command)
        assert probe.timers == {}
        assert last_frame(probe).frame == 0
    assert last_state(probe).wandering is False
    shown = len(frames(probe))
    assert probe.advance(30.0) == 0
    assert len(frames(probe)) == shown


def test_reduce_motion_gesture_arms_only_its_end() -> None:
    probe, _ = start_avatar(reduce_motion=True)
    probe.send(AvatarViewers(1))
    probe.send(PlayGesture(Gesture.WAVE))
    assert pending(probe, "_Tick") == []
    assert len(probe.timers) == 1
    assert (last_frame(probe).animation, last_frame(probe).frame) == (Animation.HAPPY, 0)
    assert probe.advance(2.0) == 1
    assert last_state(probe).gesture is None
    assert probe.timers == {}


def write_still_sprites(folder: Path) -> None:
    for size in AvatarSize:
        (folder / f"{size.value}.txt").write_text(
            f"size {size.value} 2 1\npalette\nB # salmon\nanimation idle\nframe 100\n|BB|\n",
            encoding="utf-8",
        )


def test_a_single_frame_animation_in_place_needs_no_clock(tmp_path: Path) -> None:
    write_still_sprites(tmp_path)
    probe, _ = start_avatar(sprites=load_sprites(tmp_path))
    probe.send(SetWander(False))
    probe.send(AvatarViewers(1))
    assert probe.timers == {}
    assert last_frame(probe).animation is Animation.IDLE  # happy falls back to idle
    probe.send(SetWander(True))
    assert len(pending(probe, "_Tick")) == 1  # wandering still needs steps

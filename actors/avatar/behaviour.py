"""The Avatar actor: Yollayah's state, her animation clock and her wandering.

The Avatar takes the avatar commands (mood, size, move, point, wander, show or
hide, gestures, reactions), the conversation ``State``, ``AvatarViewers`` from
the registry and ``Resized`` for the free area. It tells the registry an
``AvatarFrame`` whenever the frame on screen changes (the same cached object is
never sent twice in a row) and an ``AvatarState`` whenever the logical state
changes. What shows follows the precedence gesture, reaction, conversation
state, mood (see ``repertoire``); a gesture or reaction ends after its default
duration, and a new one replaces the one running.

Time is only ever ``ctx.now()`` and ``ctx.schedule``. The clock (one timer at a
time) runs only while someone watches: at least one viewer, visible, and either
an animation of more than one frame or wandering. Hidden or unwatched, no timer
is armed at all; an effect that ends meanwhile is dropped when watching resumes.
Under ``reduce_motion`` every state shows one still frame, nothing wanders and
the clock never runs; only a gesture or reaction arms a one-shot timer to end it.

``AvatarState.x``/``y`` are the commanded percentages; wandering moves the cells
of the published frames without changing the logical state.
"""

from __future__ import annotations

import math
import random

import attrs

from aiway.actors.avatar.frames import FrameCache, Placements, Strip
from aiway.actors.avatar.placement import (
    ANCHOR_PERCENT,
    cell_at,
    clamp_percent,
    span,
)
from aiway.actors.avatar.repertoire import GESTURES, REACTIONS, shown_animation
from aiway.actors.avatar.sprites import SpriteSet, default_sprites
from aiway.actors.protocol.avatar import (
    Anchor,
    Animation,
    AvatarSize,
    AvatarViewers,
    Gesture,
    Mood,
    MoveTo,
    PlayGesture,
    PlayReaction,
    PointAt,
    Reaction,
    SetMood,
    SetSize,
    SetVisible,
    SetWander,
)
from aiway.actors.protocol.conductor import AvatarState, ConversationState, State
from aiway.actors.protocol.surface import Resized
from aiway.actors.runtime.behaviour import Behaviour, Context, TimerId, handles
from aiway.actors.runtime.ref import ActorRef

_NEVER = math.inf
_NO_TARGET = -1
# A timer may fire a hair early on a real loop; anything this close counts as due.
_EPS = 1e-6


@attrs.frozen(slots=True)
class _Tick:
    """The animation clock: advance the frame and/or take a wandering step if due."""


@attrs.frozen(slots=True)
class _EffectEnds:
    """The running gesture or reaction may have reached its end."""


_TICK = _Tick()
_EFFECT_ENDS = _EffectEnds()


class Avatar(Behaviour):
    """Yollayah. Tells ``registry`` every ``AvatarFrame`` and ``AvatarState`` change.

    ``fps`` caps the frame rate: a sprite frame shorter than ``1 / fps`` shows
    for ``1 / fps``. ``sprites`` defaults to the packaged art. ``area`` is the
    free area until the first ``Resized``; ``rng`` (seedable) picks wandering
    targets; wandering takes a one-cell step every ``wander_step`` seconds and
    rests ``wander_pause`` (a uniform range, seconds) at each target.
    """

    def __init__(
        self,
        registry: ActorRef,
        reduce_motion: bool,
        fps: float = 10,
        sprites: SpriteSet | None = None,
        *,
        area: tuple[int, int] = (80, 24),
        rng: random.Random | None = None,
        wander_step: float = 0.25,
        wander_pause: tuple[float, float] = (3.0, 8.0),
        cache_capacity: int = 4096,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self._registry = registry
        self._reduce_motion = reduce_motion
        self._sprites = sprites if sprites is not None else default_sprites()
        self._cache = FrameCache(self._sprites, cache_capacity)
        self._rng = rng if rng is not None else random.Random()
        self._wander_step = wander_step
        self._pause_low = wander_pause[0]
        self._pause_range = wander_pause[1] - wander_pause[0]
        # No frame shows for less than one clock period at ``fps``.
        min_frame = 1.0 / fps
        self._durations = {
            (sheet.size, animation): tuple(
                max(f.duration, min_frame) for f in sheet.frames(animation)
            )
            for sheet in self._sprites.sheets.values()
            for animation in Animation
        }
        # logical state
        self._mood = Mood.HAPPY
        self._size = AvatarSize.MEDIUM
        self._anchor = Anchor.BOTTOM_RIGHT
        self._percent = ANCHOR_PERCENT[Anchor.BOTTOM_RIGHT]
        self._visible = True
        self._wandering = not reduce_motion
        self._gesture: Gesture | None = None
        self._reaction: Reaction | None = None
        self._effect_until = _NEVER
        self._conversation = ConversationState.INITIALIZING
        self._viewers = 0
        self._area = (max(1, area[0]), max(1, area[1]))
        # what shows
        self._animation = Animation.IDLE
        self._x, self._y = self._anchor_cell()
        self._index = 0
        self._placements: Placements = self._cache.placements(self._size, self._animation, True)
        self._strip: Strip = self._placements.at(self._x, self._y)
        self._frame_durations = self._durations[(self._size, self._animation)]
        self._published: object = None
        self._state: AvatarState | None = None
        # the clock and the wandering
        # the wandering target, two ints (no tuple to unpack on a step); _NO_TARGET when none
        self._target_x = self._target_y = _NO_TARGET
        self._frame_at = _NEVER
        self._step_at = _NEVER
        self._animating = False
        self._roaming = False
        self._clock: TimerId | None = None
        self._wake_at = _NEVER
        self._effect_timer: TimerId | None = None
        self._effect_armed = _NEVER

    # -- lifecycle -----------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        """Publish the starting frame and state."""
        self._published = None
        self._state = None
        self._clock = self._effect_timer = None
        self._wake_at = self._effect_armed = _NEVER
        self._animating = self._roaming = False
        self._refresh(ctx)

    # -- commands ------------------------------------------------------------------

    @handles(SetMood)
    def _on_mood(self, ctx: Context, msg: SetMood) -> None:
        self._mood = msg.mood
        self._refresh(ctx)

    @handles(SetSize)
    def _on_size(self, ctx: Context, msg: SetSize) -> None:
        if msg.size is not self._size:
            self._size = msg.size
            self._replace(ctx)

    @handles(MoveTo)
    def _on_move(self, ctx: Context, msg: MoveTo) -> None:
        self._anchor = msg.anchor
        if msg.anchor is Anchor.PERCENT:
            self._percent = (clamp_percent(msg.x), clamp_percent(msg.y))
        else:
            self._percent = ANCHOR_PERCENT[msg.anchor]
        self._replace(ctx)

    @handles(PointAt)
    def _on_point(self, ctx: Context, msg: PointAt) -> None:
        self._anchor = Anchor.PERCENT
        self._percent = (clamp_percent(msg.x), clamp_percent(msg.y))
        self._wandering = False
        self._replace(ctx)

    @handles(SetWander)
    def _on_wander(self, ctx: Context, msg: SetWander) -> None:
        self._wandering = msg.enabled and not self._reduce_motion
        self._target_x = self._target_y = _NO_TARGET
        self._refresh(ctx)

    @handles(SetVisible)
    def _on_visible(self, ctx: Context, msg: SetVisible) -> None:
        self._visible = msg.visible
        self._refresh(ctx)

    @handles(PlayGesture)
    def _on_gesture(self, ctx: Context, msg: PlayGesture) -> None:
        # Peek's direction is accepted and not drawn: the sprites have no peeking frames.
        self._gesture, self._reaction = msg.gesture, None
        self._effect_until = ctx.now() + GESTURES[msg.gesture][0]
        self._refresh(ctx)

    @handles(PlayReaction)
    def _on_reaction(self, ctx: Context, msg: PlayReaction) -> None:
        self._gesture, self._reaction = None, msg.reaction
        self._effect_until = ctx.now() + REACTIONS[msg.reaction][0]
        self._refresh(ctx)

    # -- from the conductor and the registry ---------------------------------------

    @handles(State)
    def _on_state(self, ctx: Context, msg: State) -> None:
        self._conversation = msg.state
        self._refresh(ctx)

    @handles(AvatarViewers)
    def _on_viewers(self, ctx: Context, msg: AvatarViewers) -> None:
        count = max(0, msg.count)
        if count > self._viewers:
            self._published = None  # a new viewer needs the current frame
        self._viewers = count
        self._refresh(ctx)

    @handles(Resized)
    def _on_resized(self, ctx: Context, msg: Resized) -> None:
        area = (max(1, msg.width), max(1, msg.height))
        if area != self._area:
            self._area = area
            self._replace(ctx)

    # -- timers --------------------------------------------------------------------

    @handles(_Tick)
    def _on_tick(self, ctx: Context, _msg: _Tick) -> None:
        now = ctx.now()
        if now + _EPS < self._wake_at:
            return  # from a timer cancelled after it had fired; the current one is pending
        self._clock = None
        self._wake_at = _NEVER
        if self._animating and now + _EPS >= self._frame_at:
            index = self._index + 1
            if index == len(self._strip):
                index = 0
            self._index = index
            self._frame_at = now + self._frame_durations[index]
        if self._roaming and now + _EPS >= self._step_at and self._wander(now):
            self._restrip()
        self._publish_frame(ctx)
        self._arm(ctx)

    @handles(_EffectEnds)
    def _on_effect_ends(self, ctx: Context, _msg: _EffectEnds) -> None:
        if self._gesture is None and self._reaction is None:
            return
        if ctx.now() + _EPS < self._effect_until:
            return  # a replaced effect's timer; the current one is pending
        self._effect_timer = None
        self._effect_armed = _NEVER
        self._refresh(ctx)

    # -- internals -----------------------------------------------------------------

    def _live(self) -> bool:
        return self._viewers > 0 and self._visible

    def _anchor_cell(self) -> tuple[int, int]:
        """The anchor's cell; also keeps the room (size and area change only through here)."""
        sheet = self._sprites.sheet(self._size)
        room_x = self._room_x = span(self._area[0], sheet.width)
        room_y = self._room_y = span(self._area[1], sheet.height)
        return cell_at(self._percent[0], room_x), cell_at(self._percent[1], room_y)

    def _replace(self, ctx: Context) -> None:
        """Size, anchor or area changed: jump to the anchor; wandering starts over from there."""
        self._x, self._y = self._anchor_cell()
        self._target_x = self._target_y = _NO_TARGET
        self._roaming = False
        self._refresh(ctx)

    def _refresh(self, ctx: Context) -> None:
        """Bring what shows, what is published and the timers in line with the state."""
        now = ctx.now()
        if (self._gesture is not None or self._reaction is not None) and (
            now + _EPS >= self._effect_until
        ):
            self._gesture = self._reaction = None
            self._effect_until = _NEVER
        animation = shown_animation(self._gesture, self._reaction, self._conversation, self._mood)
        if animation is not self._animation:
            self._animation = animation
            self._index = 0
            self._animating = False  # the next _arm restarts the frame clock
        self._frame_durations = self._durations[(self._size, self._animation)]
        self._placements = self._cache.placements(self._size, self._animation, self._visible)
        self._restrip()
        if self._index >= len(self._strip):  # the new size draws fewer frames
            self._index = 0
            self._animating = False
        self._publish_frame(ctx)
        self._publish_state(ctx)
        self._arm(ctx)

    def _restrip(self) -> None:
        # The table was taken when size, animation or visibility last changed, so a
        # step is one lookup by cell: no allocation once the cell has been seen.
        self._strip = self._placements.at(self._x, self._y)

    def _publish_frame(self, ctx: Context) -> None:
        frame = self._strip[self._index]
        if frame is not self._published:
            self._published = frame
            ctx.tell(self._registry, frame)

    def _publish_state(self, ctx: Context) -> None:
        state = AvatarState(
            mood=self._mood,
            size=self._size,
            anchor=self._anchor,
            x=self._percent[0],
            y=self._percent[1],
            visible=self._visible,
            wandering=self._wandering,
            animation=self._animation,
            gesture=self._gesture,
            reaction=self._reaction,
        )
        if state != self._state:
            self._state = state
            ctx.tell(self._registry, state)

    def _arm(self, ctx: Context) -> None:
        """Keep exactly the timers the state needs: the clock and the effect's end."""
        now = ctx.now()
        live = self._live()
        animating = live and not self._reduce_motion and len(self._strip) > 1
        if animating and not self._animating:
            self._frame_at = now + self._frame_durations[self._index]
        self._animating = animating
        roaming = live and self._wandering
        if roaming and not self._roaming:
            self._step_at = now + self._pause()
        self._roaming = roaming
        # Conditionals, not min()/max(): those allocate an iterator on every tick.
        wake = self._frame_at if animating else _NEVER
        if roaming and self._step_at < wake:
            wake = self._step_at
        if wake != self._wake_at or self._clock is None:
            if self._clock is not None:
                ctx.cancel(self._clock)
                self._clock = None
            self._wake_at = wake
            if wake != _NEVER:
                self._clock = ctx.schedule(wake - now if wake > now else 0.0, _TICK)
        effect = live and (self._gesture is not None or self._reaction is not None)
        until = self._effect_until if effect else _NEVER
        if until != self._effect_armed:
            if self._effect_timer is not None:
                ctx.cancel(self._effect_timer)
                self._effect_timer = None
            self._effect_armed = until
            if until != _NEVER:
                self._effect_timer = ctx.schedule(until - now if until > now else 0.0, _EFFECT_ENDS)

    def _pause(self) -> float:
        """A rest at a target, uniform in ``wander_pause`` (``uniform(*pause)`` binds a method)."""
        return self._pause_low + self._pause_range * self._rng.random()

    def _wander(self, now: float) -> bool:
        """Take one wandering step (or pick the next target); True when the avatar moved.

        Ints and floats only, no tuples: a steady step allocates nothing (the
        strip at the new cell comes from the placements table).
        """
        target_x = self._target_x
        target_y = self._target_y
        if target_x == _NO_TARGET:
            # random() and int(), not randint(): randint binds methods and makes ints.
            rng = self._rng
            target_x = self._target_x = int(rng.random() * (self._room_x + 1))
            target_y = self._target_y = int(rng.random() * (self._room_y + 1))
        x = self._x
        y = self._y
        moved = False
        if x != target_x:
            x = self._x = x + 1 if target_x > x else x - 1
            moved = True
        if y != target_y:
            y = self._y = y + 1 if target_y > y else y - 1
            moved = True
        if x == target_x and y == target_y:
            self._target_x = self._target_y = _NO_TARGET
            self._step_at = now + self._pause()
        else:
            self._step_at = now + self._wander_step
        return moved

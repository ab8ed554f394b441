"""The SurfaceRegistry: one session's messages fanned out to every surface, none waiting.

Each surface is an actor with its own bounded outbox (its mailbox). Publishing
shares one immutable object with every surface: lifecycle messages are wrapped
once in ``Published`` (one sequence number, one envelope for all surfaces) and
written once into a ring (``Broadcast``) that each surface of this loop reads
with its own cursor: its outbox holds one item for everything it has not read,
so a message costs nothing per surface but a wake-up of an idle one. Surfaces
elsewhere (behind the Thespian host) are told each message. Avatar frames and
metrics are ephemeral state and go out bare, coalescing in the outbox. A surface
that falls its outbox's capacity behind is marked lagging, gets no increments,
and is resynced with a ``StateSnapshot`` once it drains (plus the notices it
missed), so a slow surface never holds back the model or the others.
"""

from __future__ import annotations

import logging
from collections import deque

import attrs

from aiway.actors.mirror import SessionMirror
from aiway.actors.protocol import (
    ActorFailed,
    AvatarFrame,
    AvatarState,
    AvatarViewers,
    Cancel,
    Capability,
    Connected,
    Disconnected,
    Message,
    Metrics,
    Notify,
    NotifyLevel,
    ProtocolError,
    Published,
    Quit,
    QuitRequested,
    Resized,
    SessionInfo,
    State,
    StreamEnd,
    StreamError,
    SurfaceNotice,
    TaskCompleted,
    TaskCreated,
    TaskFailed,
    TaskUpdated,
    Token,
    UserCommand,
    UserMessage,
    UserTyping,
    from_wire,
)
from aiway.actors.protocol.registry import (
    ClearHistory,
    GetStreamingText,
    GetSurfaceStats,
    RegisterSurface,
    RestoreHistory,
    StreamingText,
    SurfaceDrained,
    SurfaceInput,
    SurfaceStats,
    UnregisterSurface,
)
from aiway.actors.runtime import ActorRef, Behaviour, Context, Delivery, handles
from aiway.actors.runtime.mailbox import Broadcast, Cursor

log = logging.getLogger(__name__)

# The registry's messages live in the protocol; importable from here as before.
__all__ = [
    "ClearHistory",
    "GetStreamingText",
    "GetSurfaceStats",
    "RegisterSurface",
    "RestoreHistory",
    "StreamingText",
    "SurfaceDrained",
    "SurfaceInput",
    "SurfaceRegistry",
    "SurfaceStats",
    "UnregisterSurface",
]


class _Surface:
    __slots__ = (
        "capabilities",
        "cursor",
        "lag_events",
        "lag_seq",
        "lagging",
        "missed",
        "ref",
        "resyncs",
        "surface_id",
        "surface_type",
    )

    def __init__(self, msg: RegisterSurface) -> None:
        self.surface_id = msg.surface_id
        self.ref = msg.ref
        self.surface_type = msg.surface_type
        self.capabilities = msg.capabilities
        self.lag_events = 0
        self.resyncs = 0
        self.missed = 0
        self.lagging = False
        self.lag_seq = 0
        #: its place in the registry's ring, for a surface on this loop; None: told each one
        self.cursor: Cursor | None = None

    def stats(self) -> SurfaceStats:
        return SurfaceStats(
            self.surface_id,
            self.surface_type,
            self.lag_events,
            self.resyncs,
            self.missed,
            self.lagging,
        )


# Enum members looked up once: an Enum attribute lookup allocates on Python 3.11.
_REJECTED = Delivery.REJECTED
_DEAD = Delivery.DEAD

# Which surfaces get which message: a capability, or None for every surface.
_ROUTES: dict[type, str | None] = {
    AvatarFrame: Capability.AVATAR,
    Metrics: Capability.METRICS,
    # Streamed text goes to surfaces that show it streaming; the others take the whole
    # answer with StreamEnd (the history's Store actor reads it a few times a second).
    Token: Capability.STREAMING,
}
# Messages a snapshot does not carry: replayed after a resync from the ring.
_REPLAYED = (Notify, ActorFailed, TaskCreated, TaskUpdated, TaskCompleted, TaskFailed)
# Sequenced, kept in the ring, mirrored for snapshots.
_LIFECYCLE = (
    Message,
    Token,
    StreamEnd,
    StreamError,
    State,
    Notify,
    SessionInfo,
    AvatarState,
    TaskCreated,
    TaskUpdated,
    TaskCompleted,
    TaskFailed,
    Quit,
    ActorFailed,
)
SurfaceToConductor = UserMessage | UserCommand | Cancel | UserTyping | Resized | QuitRequested
"""What a surface may send (to the Conductor)."""


def _from_surface(decoded: object, surface_id: str) -> SurfaceToConductor:
    """``decoded`` as a message surface ``surface_id`` may send, stamped with that id.

    Raises ``ProtocolError`` for any other message; a surface cannot speak as another.
    """
    match decoded:
        case UserMessage() | UserCommand() | Cancel() | UserTyping() | Resized() | QuitRequested():
            return attrs.evolve(decoded, surface_id=surface_id)
        case _:
            raise ProtocolError(f"{type(decoded).__name__} is not a message a surface may send")


class SurfaceRegistry(Behaviour):
    """Fans out every published message; keeps the capability index and the resync state."""

    def __init__(
        self,
        *,
        conductor: ActorRef | None = None,
        avatar: ActorRef | None = None,
        ring_size: int = 1024,
        history_limit: int = 200,
    ) -> None:
        self.conductor = conductor
        self.avatar = avatar
        self.seq = 0
        #: recent notices, task events and failures: what a snapshot does not carry
        self.ring: deque[Published] = deque(maxlen=ring_size)
        self.mirror = SessionMirror(history_limit)
        #: every lifecycle message, read by surfaces that show streaming
        self.log = Broadcast()
        #: every lifecycle message but tokens, read by the others
        self.quiet_log = Broadcast()
        self.surfaces: dict[str, _Surface] = {}
        self._all: tuple[_Surface, ...] = ()
        self._by_capability: dict[str, tuple[_Surface, ...]] = {}
        self.bad_input = 0
        #: resyncs that found the ring no longer reaching back to the lag point
        self.replay_gaps = 0
        self._avatar_viewers = 0

    # -- membership ------------------------------------------------------------

    @handles(RegisterSurface)
    def on_register(self, ctx: Context, msg: RegisterSurface) -> None:
        surface = _Surface(msg)
        old = self.surfaces.get(msg.surface_id)
        if old is not None and old.cursor is not None:
            old.cursor.close()
        self.surfaces[msg.surface_id] = surface
        self._reindex(ctx)
        ctx.tell(msg.ref, self.mirror.snapshot(self.seq))
        mailbox = msg.ref.local_mailbox
        if mailbox is not None:  # after the snapshot: it reads from the next message on
            log = self.log if Capability.STREAMING in msg.capabilities else self.quiet_log
            me = ctx.self_ref
            drained = SurfaceDrained(msg.surface_id)
            surface.cursor = log.cursor(mailbox, lambda: me.tell(drained) and None)
        if self.conductor is not None:
            ctx.tell(self.conductor, Connected(msg.surface_id, msg.surface_type, msg.capabilities))

    @handles(UnregisterSurface)
    def on_unregister(self, ctx: Context, msg: UnregisterSurface) -> None:
        surface = self.surfaces.pop(msg.surface_id, None)
        if surface is not None:
            if surface.cursor is not None:
                surface.cursor.close()
            self._reindex(ctx)
            if self.conductor is not None:
                ctx.tell(self.conductor, Disconnected(msg.surface_id, msg.reason))

    def _reindex(self, ctx: Context) -> None:
        """Rebuild the capability index (on membership change only, never per publish)."""
        self._all = tuple(self.surfaces.values())
        index: dict[str, list[_Surface]] = {}
        for surface in self._all:
            for capability in surface.capabilities:
                index.setdefault(capability, []).append(surface)
        self._by_capability = {cap: tuple(found) for cap, found in index.items()}
        viewers = len(self._by_capability.get(Capability.AVATAR, ()))
        if viewers != self._avatar_viewers and self.avatar is not None:
            ctx.tell(self.avatar, AvatarViewers(viewers))
        self._avatar_viewers = viewers

    # -- publishing ---------------------------------------------------------------

    @handles(AvatarFrame, Metrics)
    def on_ephemeral(self, ctx: Context, msg: AvatarFrame | Metrics) -> None:
        # told to each outbox (where it replaces the one queued), not written to the ring
        for surface in self._by_capability.get(_ROUTES[type(msg)] or "", ()):
            if surface.lagging:
                surface.missed += 1
                continue
            result = ctx.tell(surface.ref, msg)
            if result is _REJECTED:
                self._mark_lagging(ctx, surface, self.seq)
            elif result is _DEAD:
                self._drop_dead(ctx, surface)

    @handles(*_LIFECYCLE)
    def on_lifecycle(self, ctx: Context, msg: object) -> None:
        self.seq += 1
        published = Published(self.seq, msg)
        if isinstance(msg, _REPLAYED):
            self.ring.append(published)
        self.mirror.apply(msg)
        route = _ROUTES.get(type(msg))
        self.log.append(published)
        if route is None:
            self.quiet_log.append(published)
            self._fan_out(ctx, published, self._all)
        else:
            self._fan_out(ctx, published, self._by_capability.get(route, ()))

    def _fan_out(self, ctx: Context, out: object, targets: tuple[_Surface, ...]) -> None:
        """``out`` to each of ``targets``: a push of its cursor (``out`` is the newest
        message of its ring) or, without one, a tell. Nothing is allocated per surface."""
        for surface in targets:
            if surface.lagging:
                surface.missed += 1
                continue
            # What each outbox accepted and coalesced is in its own mailbox stats;
            # here only what is rare is counted (no int per message per surface).
            cursor = surface.cursor
            result = ctx.tell(surface.ref, out) if cursor is None else cursor.push()
            if result is _REJECTED:
                # the message just refused (at ``self.seq``) is the first one it missed
                self._mark_lagging(ctx, surface, self.seq - 1)
            elif result is _DEAD:
                self._drop_dead(ctx, surface)

    def _mark_lagging(self, ctx: Context, surface: _Surface, delivered_through: int) -> None:
        """From now on ``surface`` gets nothing until it drains; ``delivered_through`` is
        the last sequence number it surely has, where its replay starts.

        A surface reading the ring surely has only what its cursor read: what it had
        not read yet is dropped (the snapshot carries it) and counted as missed.
        """
        surface.lagging = True
        surface.lag_events += 1
        surface.missed += 1
        cursor = surface.cursor
        if cursor is not None and not cursor.paused:
            surface.missed += cursor.unread
            last = cursor.last_read
            delivered_through = last.seq if isinstance(last, Published) else surface.lag_seq
        surface.lag_seq = max(delivered_through, 0)
        log.info("surface %s is lagging at seq %d", surface.surface_id, self.seq)
        if cursor is not None and cursor.pause():
            return  # its queued cursor tells us when the surface reaches it
        ctx.notify_when_drained(surface.ref, SurfaceDrained(surface.surface_id))

    def _tell_in_order(self, ctx: Context, surface: _Surface, msg: object) -> Delivery:
        """Tell ``surface`` a message of its own, after everything published before it."""
        cursor = surface.cursor
        if cursor is not None and not cursor.flush():
            return _REJECTED
        return ctx.tell(surface.ref, msg)

    def _drop_dead(self, ctx: Context, surface: _Surface) -> None:
        log.info("surface %s is gone; unregistering it", surface.surface_id)
        self.on_unregister(ctx, UnregisterSurface(surface.surface_id, "stopped"))

    @handles(SurfaceDrained)
    def on_drained(self, ctx: Context, msg: SurfaceDrained) -> None:
        """Resync: a snapshot, then the notices and task events it missed, in order.

        A replay that fills the outbox again marks the surface lagging from that
        point on, so the next drain continues where this one stopped.
        """
        surface = self.surfaces.get(msg.surface_id)
        if surface is None or not surface.lagging:
            return
        surface.lagging = False
        surface.resyncs += 1
        if surface.cursor is not None:  # it reads on after the snapshot, from the next message
            surface.cursor.resume()
        if not ctx.tell(surface.ref, self.mirror.snapshot(self.seq)).ok:
            # nothing of the replay went out: it still starts where the surface lagged
            self._mark_lagging(ctx, surface, surface.lag_seq)
            return
        if len(self.ring) == self.ring.maxlen and self.ring[0].seq > surface.lag_seq + 1:
            self.replay_gaps += 1
            log.warning(
                "surface %s lagged past the ring (%d notices): older notices are lost",
                surface.surface_id,
                len(self.ring),
            )
        for published in self.ring:
            if published.seq <= surface.lag_seq:
                continue
            if not ctx.tell(surface.ref, published).ok:
                surface.lagging = True
                surface.lag_events += 1
                surface.lag_seq = published.seq - 1
                if surface.cursor is None or not surface.cursor.pause():
                    ctx.notify_when_drained(surface.ref, SurfaceDrained(surface.surface_id))
                return

    @handles(SurfaceNotice)
    def on_surface_notice(self, ctx: Context, msg: SurfaceNotice) -> None:
        """A notice for one surface (its message was refused); with no sender named, for all.

        Not sequenced, mirrored or replayed: a surface too far behind to take it now
        has lost the moment it was about.
        """
        if msg.surface_id:
            surface = self.surfaces.get(msg.surface_id)
            targets: tuple[_Surface, ...] = () if surface is None else (surface,)
        else:
            targets = self._all
        out = Published(self.seq, msg.notice)
        for surface in targets:
            if not surface.lagging and self._tell_in_order(ctx, surface, out) is _DEAD:
                self._drop_dead(ctx, surface)

    @handles(GetStreamingText)
    def on_get_streaming(self, ctx: Context, msg: GetStreamingText) -> None:
        entry = self.mirror.streaming()
        reply = StreamingText(None) if entry is None else StreamingText(entry.id, entry.content)
        ctx.tell(msg.reply_to, reply)

    @handles(ClearHistory)
    def on_clear(self, ctx: Context, msg: ClearHistory) -> None:
        self.mirror.clear_history()

    @handles(RestoreHistory)
    def on_restore(self, ctx: Context, msg: RestoreHistory) -> None:
        self.mirror.restore(msg.history, msg.tasks)
        snapshot = self.mirror.snapshot(self.seq)
        for surface in self._all:
            if not surface.lagging and not self._tell_in_order(ctx, surface, snapshot).ok:
                # it had everything up to now; only the snapshot itself is missing
                self._mark_lagging(ctx, surface, self.seq)

    # -- input from remote surfaces --------------------------------------------------

    @handles(SurfaceInput)
    def on_input(self, ctx: Context, msg: SurfaceInput) -> None:
        """Decode one wire message from a surface; bad input is named, counted, and answered."""
        try:
            decoded = _from_surface(from_wire(msg.data), msg.surface_id)
        except ProtocolError as exc:
            self.bad_input += 1
            log.warning("bad input from surface %s: %s", msg.surface_id, exc)
            surface = self.surfaces.get(msg.surface_id)
            if surface is not None:
                self._tell_in_order(
                    ctx,
                    surface,
                    Published(
                        self.seq,
                        Notify(
                            NotifyLevel.ERROR,
                            "bad input",
                            f"from surface {msg.surface_id}: {exc}",
                        ),
                    ),
                )
            return
        if self.conductor is not None:
            ctx.tell(self.conductor, decoded)

    @handles(GetSurfaceStats)
    def on_get_stats(self, ctx: Context, msg: GetSurfaceStats) -> None:
        ctx.tell(msg.reply_to, tuple(s.stats() for s in self._all))

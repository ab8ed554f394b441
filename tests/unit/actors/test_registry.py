"""The SurfaceRegistry on the asyncio host: fan-out, order, lagging surfaces, bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiway.actors.protocol import (
    AnswerStatus,
    AvatarFrame,
    AvatarViewers,
    Capability,
    Message,
    Notify,
    NotifyLevel,
    Published,
    ResponseMetadata,
    Role,
    StateSnapshot,
    StreamEnd,
    SurfaceNotice,
    Token,
    UserMessage,
)
from aiway.actors.protocol.avatar import Animation, AvatarSize
from aiway.actors.registry import (
    GetSurfaceStats,
    RegisterSurface,
    SurfaceInput,
    SurfaceRegistry,
    SurfaceStats,
)
from aiway.actors.runtime import ActorSystem, Behaviour, Context, EdgeActor, MailboxConfig, handles
from aiway.actors.runtime.testing import Probe
from tests.waiting import wait_until


class Collector(Behaviour):
    """A surface that keeps every message it takes."""

    def __init__(self) -> None:
        self.got: list[object] = []

    @handles(object)
    def on_any(self, ctx: Context, msg: object) -> None:
        self.got.append(msg)

    def text_of(self, message_id: str) -> str:
        """The answer's text as this surface would show it (snapshot + later tokens)."""
        text = ""
        for msg in self.got:
            if isinstance(msg, StateSnapshot):
                text = msg.streaming.content if msg.streaming else ""
                for entry in msg.history:
                    if entry.id == message_id:
                        text = entry.content
            elif isinstance(msg, Published):
                inner = msg.message
                if isinstance(inner, Token) and inner.message_id == message_id:
                    text += inner.text
                elif isinstance(inner, StreamEnd) and inner.message_id == message_id:
                    text = inner.content
        return text


class Stuck(EdgeActor):
    """A surface that takes one message and then never drains until released."""

    def __init__(self, release: asyncio.Event, collector: Collector) -> None:
        self.release = release
        self.collector = collector

    @handles(Published, StateSnapshot)
    async def on_any(self, ctx: Any, msg: object) -> None:
        await self.release.wait()
        self.collector.got.append(msg)


def lifecycle(n: int) -> list[object]:
    out: list[object] = [Message("u1", Role.USER, "hi"), Message("a1", Role.ASSISTANT, "")]
    out += [Token("a1", f"t{i} ") for i in range(n)]
    out.append(StreamEnd("a1", "".join(f"t{i} " for i in range(n)), ResponseMetadata()))
    return out


async def start(
    system: ActorSystem, surfaces: int, capacity: int = 4096
) -> tuple[Any, list[Collector]]:
    registry = system.spawn("registry", SurfaceRegistry, mailbox=MailboxConfig(capacity=100_000))
    collectors = []
    for i in range(surfaces):
        collector = Collector()
        ref = system.spawn(f"s{i}", lambda c=collector: c, mailbox=MailboxConfig(capacity=capacity))
        registry.tell(RegisterSurface(f"s{i}", ref, "test", frozenset({Capability.STREAMING})))
        collectors.append(collector)
    return registry, collectors


@pytest.mark.asyncio
@pytest.mark.parametrize("surfaces", [1, 10, 100])
async def test_every_surface_gets_every_lifecycle_message_once_in_order(surfaces: int) -> None:
    system = ActorSystem()
    registry, collectors = await start(system, surfaces)
    sent = [Message("u1", Role.USER, "hi"), Message("a1", Role.ASSISTANT, "")]
    sent += [Notify(NotifyLevel.INFO, "n", str(i)) for i in range(50)]
    sent.append(StreamEnd("a1", "done", ResponseMetadata()))
    for msg in sent:
        registry.tell(msg)
    await wait_until(lambda: all(len(c.got) == len(sent) + 1 for c in collectors))
    for collector in collectors:
        assert isinstance(collector.got[0], StateSnapshot)
        published = collector.got[1:]
        assert [p.message for p in published] == sent  # type: ignore[attr-defined]
        assert [p.seq for p in published] == list(range(1, len(sent) + 1))  # type: ignore[attr-defined]
    await system.stop()


@pytest.mark.asyncio
async def test_fan_out_shares_one_object_with_every_surface() -> None:
    system = ActorSystem()
    registry, collectors = await start(system, 10)
    token = Token("a1", "shared")
    registry.tell(token)
    await wait_until(lambda: all(len(c.got) == 2 for c in collectors))
    envelopes = {id(c.got[1]) for c in collectors}
    assert len(envelopes) == 1
    assert collectors[0].got[1].message is token  # type: ignore[attr-defined]
    await system.stop()


@pytest.mark.asyncio
async def test_a_stuck_surface_does_not_slow_the_others_and_resyncs_to_the_same_text() -> None:
    system = ActorSystem()
    registry, collectors = await start(system, 3)
    release = asyncio.Event()
    stuck_view = Collector()
    stuck = system.spawn(
        "stuck", lambda: Stuck(release, stuck_view), mailbox=MailboxConfig(capacity=8)
    )
    registry.tell(RegisterSurface("stuck", stuck, "test", frozenset({Capability.STREAMING})))
    # Tokens of one answer merge in a full outbox, so notices are what overflow it.
    messages = lifecycle(2000)
    notices = [Notify(NotifyLevel.INFO, "note", str(i)) for i in range(40)]
    for i, msg in enumerate(messages):
        registry.tell(msg)
        if i % 50 == 0 and i // 50 < len(notices):
            registry.tell(notices[i // 50])
        await asyncio.sleep(0)  # let the healthy surfaces run, as a live stream would
    final = messages[-1]
    assert isinstance(final, StreamEnd)
    await wait_until(lambda: all(c.text_of("a1") == final.content for c in collectors))
    stats: tuple[SurfaceStats, ...] = await system.ask(registry, GetSurfaceStats, timeout=1)
    by_id = {s.surface_id: s for s in stats}
    assert by_id["stuck"].lagging
    assert by_id["stuck"].lag_events == 1
    assert all(not by_id[f"s{i}"].lagging for i in range(3))
    release.set()
    expected = sorted(n.text for n in notices)

    def notices_seen() -> list[str]:
        return sorted(
            m.message.text
            for m in stuck_view.got
            if isinstance(m, Published) and isinstance(m.message, Notify)
        )

    # The resync snapshot arrives first; the missed notices are replayed after it, over
    # several drains of an outbox of 8: wait for the replay, not just for the text.
    await wait_until(
        lambda: stuck_view.text_of("a1") == final.content and notices_seen() == expected,
        timeout=10,
        what="the stuck surface to resync and receive every notice",
    )
    stats = await system.ask(registry, GetSurfaceStats, timeout=1)
    assert {s.surface_id: s for s in stats}["stuck"].resyncs >= 1
    # the resync snapshot carries the finished answer, marked complete
    snapshots = [m for m in stuck_view.got if isinstance(m, StateSnapshot)]
    assert snapshots[-1].history[-1].status is AnswerStatus.COMPLETE
    # no notice was lost and none came twice: each arrived directly or was replayed
    assert notices_seen() == expected
    await system.stop()


@pytest.mark.asyncio
async def test_publisher_is_not_held_back_by_a_stuck_surface() -> None:
    """Every publish is accepted at once and reaches the healthy surfaces while one is stuck.

    No timing: with a fan-out that waited on the stuck outbox the healthy surfaces
    would never get all the notices (wait_until fails), and the publisher's tells
    would be refused once the registry's own mailbox filled behind it.
    """
    system = ActorSystem()
    registry, collectors = await start(system, 2)
    release = asyncio.Event()
    stuck_view = Collector()
    stuck = system.spawn(
        "stuck", lambda: Stuck(release, stuck_view), mailbox=MailboxConfig(capacity=8)
    )
    registry.tell(RegisterSurface("stuck", stuck, "t", frozenset({Capability.STREAMING})))
    messages = [Notify(NotifyLevel.INFO, "n", str(i)) for i in range(3000)]
    deliveries = [registry.tell(msg) for msg in messages]
    assert all(d.ok for d in deliveries)
    await wait_until(lambda: all(len(c.got) == len(messages) + 1 for c in collectors))
    # the stuck surface still holds its first message and took nothing else
    assert stuck_view.got == []
    stats: tuple[SurfaceStats, ...] = await system.ask(registry, GetSurfaceStats, timeout=1)
    stuck_stats = {s.surface_id: s for s in stats}["stuck"]
    assert stuck_stats.lagging
    # its outbox is bounded: whatever did not fit was counted as missed, not queued
    assert stuck_stats.missed >= len(messages) - 8
    release.set()
    await system.stop(timeout=0.5)


@pytest.mark.asyncio
async def test_frames_reach_only_avatar_surfaces_and_viewers_are_counted() -> None:
    system = ActorSystem()
    avatar = Probe(Collector())
    registry = system.spawn("registry", lambda: SurfaceRegistry(avatar=avatar.ref("avatar")))
    plain, shows = Collector(), Collector()
    registry.tell(RegisterSurface("plain", system.spawn("plain", lambda: plain), "t", frozenset()))
    registry.tell(
        RegisterSurface(
            "shows", system.spawn("shows", lambda: shows), "t", frozenset({Capability.AVATAR})
        )
    )
    frame = AvatarFrame(AvatarSize.MEDIUM, Animation.IDLE, 0, 1, 1, True, ())
    registry.tell(frame)
    await wait_until(lambda: frame in shows.got)
    assert frame not in plain.got
    assert avatar.inbox("avatar") == [AvatarViewers(1)]
    await system.stop()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"{oops", "malformed JSON"),
        (b'{"type": "Teleport"}', "unknown message type 'Teleport'"),
        (b'{"type": "Token", "message_id": "a", "text": "x"}', "not a message a surface may send"),
    ],
)
async def test_bad_surface_input_is_named_counted_and_the_registry_keeps_running(
    data: bytes, error: str
) -> None:
    system = ActorSystem()
    conductor = Collector()
    conductor_ref = system.spawn("conductor", lambda: conductor)
    registry = system.spawn("registry", lambda: SurfaceRegistry(conductor=conductor_ref))
    surface = Collector()
    registry.tell(RegisterSurface("r1", system.spawn("r1", lambda: surface), "remote", frozenset()))
    registry.tell(SurfaceInput("r1", data))
    registry.tell(SurfaceInput("r1", b'{"type": "UserMessage", "text": "still here"}'))
    await wait_until(lambda: any(isinstance(m, UserMessage) for m in conductor.got), timeout=2)
    notices = [m.message for m in surface.got if isinstance(m, Published)]
    assert any(isinstance(n, Notify) and error in n.text and "r1" in n.text for n in notices)
    behaviour = system._cells["registry"].behaviour
    assert isinstance(behaviour, SurfaceRegistry)
    assert behaviour.bad_input == 1
    await system.stop()


@pytest.mark.asyncio
async def test_a_surface_notice_reaches_its_surface_only_and_is_not_replayed() -> None:
    system = ActorSystem()
    registry, (sender, other) = await start(system, 2)
    notice = Notify(NotifyLevel.WARNING, "message too long", "not sent")
    registry.tell(SurfaceNotice("s0", notice))
    registry.tell(Notify(NotifyLevel.INFO, "for all", "x"))
    await wait_until(lambda: len(other.got) == 2 and len(sender.got) == 3)
    assert [m.message for m in sender.got[1:]] == [notice, Notify(NotifyLevel.INFO, "for all", "x")]  # type: ignore[attr-defined]
    assert notice not in [m.message for m in other.got[1:]]  # type: ignore[attr-defined]
    behaviour = system._cells["registry"].behaviour
    assert isinstance(behaviour, SurfaceRegistry)
    assert all(p.message is not notice for p in behaviour.ring)
    await system.stop()


@pytest.mark.asyncio
async def test_surface_input_is_stamped_with_the_surface_it_came_from() -> None:
    """A surface cannot speak as another (refusal notices are addressed by this id)."""
    system = ActorSystem()
    conductor = Collector()
    conductor_ref = system.spawn("conductor", lambda: conductor)
    registry = system.spawn("registry", lambda: SurfaceRegistry(conductor=conductor_ref))
    registry.tell(SurfaceInput("r1", b'{"type": "UserMessage", "text": "x", "surface_id": "tui"}'))
    await wait_until(lambda: any(isinstance(m, UserMessage) for m in conductor.got))
    assert [m for m in conductor.got if isinstance(m, UserMessage)] == [UserMessage("x", "r1")]
    await system.stop()

"""The bridge's side of backpressure: what a full mailbox of this process refuses is held."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from aiway.actors.runtime import ActorRef, Mailbox, MailboxConfig
from aiway.actors.runtime.thespian import control as c
from aiway.actors.runtime.thespian.bridge import Bridge


class FakeHost:
    """What the bridge needs of its host, recording dead letters."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.dead: list[tuple[str, object]] = []
        self.late_replies = 0

    def _dead_letter(self, name: str, msg: object) -> None:
        self.dead.append((name, msg))


class Recorder:
    """A Thespian system as the driver would call it: records tells."""

    def __init__(self) -> None:
        self.told: list[tuple[object, object]] = []

    def tell(self, address: object, msg: object) -> None:
        self.told.append((address, msg))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


def pressure_told(bridge: Bridge) -> list[tuple[object, str, bool]]:
    """Run the driver operations the bridge queued; the Pressure messages they tell."""
    system = Recorder()
    while not bridge.ops.empty():
        _, fn, _ = bridge.ops.get_nowait()
        fn(system)
    return [(a, m.name, m.full) for a, m in system.told if isinstance(m, c.Pressure)]


def drain(mailbox: Mailbox, into: list[Any]) -> None:
    mailbox.process({}, None, None, lambda ctx, msg: into.append(msg))


def test_refused_messages_are_held_in_order_and_the_sender_told_until_the_outbox_drains(
    loop: asyncio.AbstractEventLoop,
) -> None:
    host = FakeHost(loop)
    bridge = Bridge(host, lambda: None, in_process=True, call_timeout=1.0)  # type: ignore[arg-type]
    mailbox = Mailbox("surface:slow", MailboxConfig(capacity=1))
    bridge.exports["surface:slow"] = ActorRef("surface:slow", mailbox, host._dead_letter)
    registry = object()
    for text in ("one", "two", "three"):
        bridge._inbound.add("surface:slow", registry, text)
    bridge._deliver()
    assert pressure_told(bridge) == [(registry, "surface:slow", True)]
    assert mailbox.stats().rejected == 1
    got: list[Any] = []
    drain(mailbox, got)  # "one" out: "two" goes in, "three" is refused again and kept
    assert pressure_told(bridge) == []
    drain(mailbox, got)  # "two" out: "three" goes in, nothing is held any more
    assert pressure_told(bridge) == [(registry, "surface:slow", False)]
    drain(mailbox, got)
    assert got == ["one", "two", "three"]
    assert host.dead == [] and bridge.stats().held == 1


def test_what_arrives_while_messages_are_held_queues_behind_them(
    loop: asyncio.AbstractEventLoop,
) -> None:
    host = FakeHost(loop)
    bridge = Bridge(host, lambda: None, in_process=True, call_timeout=1.0)  # type: ignore[arg-type]
    mailbox = Mailbox("surface:slow", MailboxConfig(capacity=1))
    bridge.exports["surface:slow"] = ActorRef("surface:slow", mailbox, host._dead_letter)
    bridge._inbound.add("surface:slow", None, "one")
    bridge._inbound.add("surface:slow", None, "two")
    bridge._deliver()
    bridge._inbound.add("surface:slow", None, "three")
    bridge._deliver()
    got: list[Any] = []
    for _ in range(3):
        drain(mailbox, got)
    assert got == ["one", "two", "three"]

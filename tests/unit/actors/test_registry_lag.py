"""The registry's lag and resync as a property: slow surfaces end where the fast ones do.

Surfaces read the registry's ring with their own cursors; one that falls its
outbox's capacity behind is lagging and is resynced (a snapshot, then the
notices it missed). Whatever the outbox sizes (from 4: a resync needs room for
a snapshot and a replayed notice above the low watermark, or it starts over)
and however the surfaces stall and resume between publishes, once they all
drain every surface holds the same text of the answer in flight and has seen
every notice exactly once.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiway.actors.protocol import (
    Capability,
    Message,
    Notify,
    NotifyLevel,
    Published,
    Role,
    StateSnapshot,
    Token,
)
from aiway.actors.registry import GetSurfaceStats, RegisterSurface, SurfaceRegistry, SurfaceStats
from aiway.actors.runtime import ActorSystem, EdgeActor, MailboxConfig, handles
from tests.waiting import wait_until


class View:
    """What one surface shows: the answer's text and the notices, rebuilt as a UI would."""

    def __init__(self) -> None:
        self.text = ""
        self.notices: list[str] = []
        self.last_seq = 0

    def apply(self, msg: object) -> None:
        if isinstance(msg, StateSnapshot):
            self.text = msg.streaming.content if msg.streaming else ""
            self.last_seq = msg.last_seq
        elif isinstance(msg, Published):
            inner = msg.message
            if isinstance(inner, Token) and inner.message_id == "a1":
                self.text += inner.text
            elif isinstance(inner, Notify):
                self.notices.append(inner.text)


class GatedSurface(EdgeActor):
    """A surface that, while its gate is shut, stalls in the middle of a message."""

    def __init__(self, gate: asyncio.Event, view: View) -> None:
        self.gate = gate
        self.view = view

    @handles(StateSnapshot, Published)
    async def on_any(self, ctx: Any, msg: object) -> None:
        if not self.gate.is_set():
            await self.gate.wait()
        self.view.apply(msg)


STEPS = st.lists(
    st.one_of(
        st.just(("token", 0)),
        st.just(("notice", 0)),
        st.just(("run", 0)),
        st.tuples(st.just("toggle"), st.integers(0, 3)),
    ),
    max_size=120,
)


async def _scenario(capacities: list[int], steps: list[tuple[str, int]]) -> None:
    system = ActorSystem()
    registry = system.spawn("registry", SurfaceRegistry, mailbox=MailboxConfig(capacity=100_000))
    gates = [asyncio.Event() for _ in capacities]
    views = [View() for _ in capacities]
    for index, capacity in enumerate(capacities):
        gates[index].set()
        ref = system.spawn(
            f"s{index}",
            functools.partial(GatedSurface, gates[index], views[index]),
            mailbox=MailboxConfig(capacity=capacity),
        )
        caps = frozenset({Capability.STREAMING})
        registry.tell(RegisterSurface(f"s{index}", ref, "test", caps))
    registry.tell(Message("a1", Role.ASSISTANT, ""))
    text: list[str] = []
    notices: list[str] = []
    for kind, arg in steps:
        if kind == "token":
            piece = f"t{len(text)} "
            text.append(piece)
            registry.tell(Token("a1", piece))
        elif kind == "notice":
            notices.append(f"n{len(notices)}")
            registry.tell(Notify(NotifyLevel.INFO, "note", notices[-1]))
        elif kind == "toggle":
            gate = gates[arg % len(gates)]
            if gate.is_set():
                gate.clear()
            else:
                gate.set()
        else:
            await asyncio.sleep(0)
    for gate in gates:
        gate.set()
    expected = "".join(text)

    async def lagging() -> bool:
        stats: tuple[SurfaceStats, ...] = await system.ask(registry, GetSurfaceStats, timeout=1)  # type: ignore[assignment]
        return any(s.lagging for s in stats)

    await wait_until(
        lambda: all(v.text == expected and sorted(v.notices) == sorted(notices) for v in views),
        what="every surface to hold the whole text and every notice",
    )
    assert not await lagging()
    for view in views:
        assert view.text == expected
        assert sorted(view.notices) == sorted(notices)  # none lost, none twice
    await system.stop(timeout=1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacities=st.lists(st.sampled_from([4, 5, 8, 64]), min_size=1, max_size=4), steps=STEPS)
def test_any_interleaving_of_slow_surfaces_ends_with_the_same_text_and_every_notice(
    capacities: list[int], steps: list[tuple[str, int]]
) -> None:
    asyncio.run(_scenario(capacities, steps))

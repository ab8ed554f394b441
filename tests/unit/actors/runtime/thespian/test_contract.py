"""The runtime contract, tested on every host: the asyncio host and Thespian's simpleSystemBase.

Each test runs once per host (the ``system`` fixture). Behaviours are given as
``BehaviourSpec``s, which the asyncio host calls as plain factories and the
Thespian host starts as Thespian cells; they report to a ``Reporter``, a plain
actor of this process on both. So every message of these tests crosses the
Thespian boundary in the wire form, and what is asserted is the contract, not
an implementation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest
import pytest_asyncio

from aiway.actors.app import Assistant
from aiway.actors.protocol import (
    AvatarState,
    Capability,
    Gesture,
    StreamEnd,
    TaskCreated,
    Token,
    UserMessage,
)
from aiway.actors.registry import GetSurfaceStats
from aiway.actors.runtime import (
    ActorRef,
    ActorSystem,
    AskTimeout,
    Directive,
    SupervisorPolicy,
)
from aiway.actors.runtime.thespian import BehaviourSpec, ThespianConfig, ThespianHost
from aiway.config import load_settings
from tests.integration.test_pipeline import Screen
from tests.unit.actors.runtime.thespian.support import (
    Arm,
    Boom,
    Look,
    Note,
    Parent,
    Ping,
    Recorder,
    Reporter,
    ScriptedBackend,
    SpawnChild,
    StopYourself,
    Timed,
    ToChild,
    Tracker,
    Watch,
)
from tests.waiting import wait_until

HOSTS = ("asyncio", "thespian")


@pytest_asyncio.fixture(params=HOSTS)
async def system(request: pytest.FixtureRequest) -> AsyncIterator[ActorSystem]:
    if request.param == "asyncio":
        host = ActorSystem()
    else:
        host = ThespianHost(ThespianConfig(base="simpleSystemBase"))
        await host.start()
    try:
        yield host
    finally:
        await host.stop()


@pytest_asyncio.fixture
async def reporter(system: ActorSystem) -> tuple[Reporter, ActorRef]:
    behaviour = Reporter()
    ref = system.spawn("reporter", lambda: behaviour)
    system.failure_listeners.append(ref)
    return behaviour, ref


def recorder(system: ActorSystem, reporter: ActorRef, name: str, **policy: object) -> ActorRef:
    return system.spawn(
        name,
        BehaviourSpec.of(Recorder, reporter=reporter, name=name),
        policy=SupervisorPolicy(**policy) if policy else None,  # type: ignore[arg-type]
    )


@pytest.mark.asyncio
async def test_messages_from_one_sender_are_handled_in_order(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    got, ref = reporter
    rec = recorder(system, ref, "rec")
    for n in range(300):
        rec.tell(Note(str(n)))
    await wait_until(lambda: len(got.of("rec")) == 301, what="every note")
    assert got.of("rec") == ["started", *(f"{n}#{n + 1}" for n in range(300))]


@pytest.mark.asyncio
async def test_ask_returns_the_reply_and_a_timeout_raises(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    _, ref = reporter
    rec = recorder(system, ref, "rec")
    assert await system.ask(rec, lambda reply: Ping(reply, 41), timeout=5) == 42
    silent = system.spawn("silent", BehaviourSpec.of(Timed, reporter=ref))
    with pytest.raises(AskTimeout, match="no reply from 'silent'"):
        await system.ask(silent, lambda reply: Ping(reply, 1), timeout=0.05)


@pytest.mark.asyncio
async def test_timers_fire_in_time_order_and_cancelled_ones_never(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    got, ref = reporter
    timed = system.spawn("timed", BehaviourSpec.of(Timed, reporter=ref))
    timed.tell(Arm(delays=(0.06, 0.01, 0.03, 0.02), cancel=(2,)))
    await wait_until(lambda: len(got.of("timed")) == 3, what="three timers")
    assert got.of("timed") == ["1", "3", "0"]


@pytest.mark.asyncio
async def test_a_spawned_child_takes_messages_and_stops_with_its_parent(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    got, ref = reporter
    parent = system.spawn("parent", BehaviourSpec.of(Parent, reporter=ref, name="parent"))
    parent.tell(SpawnChild("kid"))
    parent.tell(ToChild("kid", Note("hello")))
    parent.tell(Look("kid"))
    parent.tell(Look("nobody"))
    await wait_until(lambda: "hello#1" in got.of("kid"), what="the child's note")
    await wait_until(lambda: len(got.of("parent")) == 3, what="the lookups")
    assert got.of("parent")[1:] == ["kid:True", "nobody:False"]
    parent.tell(StopYourself())
    await wait_until(lambda: "stopped" in got.of("kid"), what="the child to stop")
    assert got.of("kid") == ["started", "hello#1", "stopped"]
    assert "stopped" in got.of("parent")


@pytest.mark.asyncio
async def test_a_stopped_actor_calls_on_stop_once_and_later_tells_are_dead_letters(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    got, ref = reporter
    rec = recorder(system, ref, "rec")
    rec.tell(StopYourself())
    await wait_until(lambda: system.lookup("rec") is None, what="the actor to stop")
    before = system.dead_letters
    delivery = rec.tell(Note("late"))
    assert not delivery.ok
    assert system.dead_letters == before + 1
    assert got.of("rec") == ["started", "stopped"]


@pytest.mark.asyncio
async def test_a_failing_handler_is_restarted_with_fresh_state_and_reported(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    got, ref = reporter
    rec = recorder(system, ref, "rec", backoff_initial=0.01)
    rec.tell(Note("a"))
    rec.tell(Boom())
    rec.tell(Note("b"))
    await wait_until(lambda: "b#1" in got.of("rec"), what="the note after the restart")
    assert got.of("rec") == ["started", "a#1", "started", "b#1"]
    (failure,) = got.failures
    assert (failure.actor, failure.action, failure.restarts) == ("rec", "restart", 1)
    assert failure.error == "ValueError: boom"
    assert "raise ValueError" in failure.traceback


@pytest.mark.asyncio
async def test_restarts_beyond_the_window_cap_stop_the_actor(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    got, ref = reporter
    rec = recorder(system, ref, "rec", max_restarts=1, backoff_initial=0.01)
    rec.tell(Boom())
    await wait_until(lambda: got.of("rec").count("started") == 2, what="the restart")
    rec.tell(Boom())
    await wait_until(lambda: len(got.failures) == 2, what="the second failure")
    assert [f.action for f in got.failures] == ["restart", "stop"]
    await wait_until(lambda: system.lookup("rec") is None, what="the actor to stop")
    assert got.of("rec")[-1] == "stopped"


@pytest.mark.asyncio
async def test_an_escalated_failure_stops_the_child_and_fails_the_parent(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    got, ref = reporter
    parent = system.spawn(
        "parent",
        BehaviourSpec.of(Parent, reporter=ref, name="parent"),
        policy=SupervisorPolicy(backoff_initial=0.01),
    )
    parent.tell(SpawnChild("kid", escalate=True))
    parent.tell(ToChild("kid", Boom()))
    await wait_until(lambda: len(got.failures) == 2, what="both failures")
    assert [(f.actor, f.action) for f in got.failures] == [
        ("kid", Directive.ESCALATE.value),
        ("parent", Directive.RESTART.value),
    ]
    await wait_until(lambda: got.of("parent").count("started") == 2, what="the parent restart")


@pytest.mark.asyncio
async def test_notify_when_drained_tells_the_watcher(
    system: ActorSystem, reporter: tuple[Reporter, ActorRef]
) -> None:
    got, ref = reporter
    watcher = recorder(system, ref, "watcher")
    watched = recorder(system, ref, "watched")
    watcher.tell(Watch(watched))
    watcher.tell(Watch(ref))
    await wait_until(lambda: got.of("watcher").count("drained") == 2, what="both notices")


@pytest.mark.asyncio
async def test_the_conductor_and_registry_answer_with_tags_stripped_and_commands_applied(
    system: ActorSystem,
) -> None:
    base = load_settings(env={}, config_path=None, overrides={}).settings
    settings = attrs.evolve(base, avatar=attrs.evolve(base.avatar, reduce_motion=True))
    backend = ScriptedBackend(
        [
            "Hola",
            " amigo [yolla:wa",
            "ve] ",
            '[yolla:task start backend-engineer "Draft the API"]',
            "ñandú 🦎",
        ]
    )
    assistant = Assistant.start(settings, backend, model="tiny", system=system)
    screen = Screen()
    assistant.attach(
        "screen",
        lambda: screen,
        surface_type="test",
        capabilities=frozenset({Capability.STREAMING, Capability.TASKS}),
    )
    assistant.conductor.tell(UserMessage("hi"))
    await wait_until(lambda: screen.of(StreamEnd), what="the answer to end")
    (end,) = screen.of(StreamEnd)
    assert end.content == "Hola amigo  ñandú 🦎"
    assert screen.visible_text() == end.content
    assert all("[yolla" not in t.text for t in screen.of(Token))
    (task,) = screen.of(TaskCreated)
    assert task.description == "Draft the API"
    await wait_until(
        lambda: any(s.gesture is Gesture.WAVE for s in screen.of(AvatarState)),
        what="the wave to reach the avatar",
    )
    assert backend.requests[0][-1].content == "hi"


@pytest.mark.asyncio
async def test_a_surface_with_a_one_message_outbox_still_shows_the_whole_answer(
    system: ActorSystem,
) -> None:
    """Whatever its outbox refuses is made good: on asyncio the registry sees the rejection
    and resyncs the surface; on Thespian the bridge also holds what the outbox refused and
    hands it over as it drains (``test_bridge`` pins that path down step by step)."""
    base = load_settings(env={}, config_path=None, overrides={}).settings
    settings = attrs.evolve(base, avatar=attrs.evolve(base.avatar, enabled=False))
    pieces = [f"w{n} " if n % 5 else f"[yolla:mood happy]w{n} " for n in range(60)]
    assistant = Assistant.start(settings, ScriptedBackend(pieces), model="tiny", system=system)
    tracker = Tracker()
    assistant.attach(
        "slow",
        lambda: tracker,
        surface_type="test",
        capabilities=frozenset({Capability.STREAMING}),
        capacity=1,
    )
    assistant.conductor.tell(UserMessage("hi"))
    whole = "".join(f"w{n} " for n in range(60))
    await wait_until(lambda: tracker.ended and tracker.text == whole, what="the whole answer")
    # (on Thespian the session's own watcher of the answer in flight is a surface too)
    every = await system.ask(assistant.registry, GetSurfaceStats, timeout=5)
    (stats,) = [s for s in every if s.surface_id == "slow"]
    assert stats.resyncs == stats.lag_events and not stats.lagging

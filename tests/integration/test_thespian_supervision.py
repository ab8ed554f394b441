"""Supervision on a multiprocess Thespian system: the asyncio host's policy, failures on surfaces.

Cells run in processes of their own (multiprocQueueBase). A handler that
raises is restarted in place with the policy and backoff of the asyncio host,
and its ``ActorFailed`` reaches surfaces through the registry like any
failure. A cell whose process dies is created again (a new process, a new
address), and refs to it follow.
"""

from __future__ import annotations

import os
import signal

import attrs
import pytest

from aiway.actors.app import Assistant
from aiway.actors.protocol import ActorFailed, Capability, StreamEnd, UserMessage
from aiway.actors.runtime import ActorRef, SupervisorPolicy
from aiway.actors.runtime.thespian import BehaviourSpec, ThespianHost
from aiway.config import load_settings
from tests.integration.test_pipeline import Screen
from tests.unit.actors.runtime.thespian.support import (
    Boom,
    Note,
    Recorder,
    Reporter,
    ScriptedBackend,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


def session_on(host: ThespianHost) -> tuple[Assistant, Screen]:
    base = load_settings(env={}, config_path=None, overrides={}).settings
    settings = attrs.evolve(base, avatar=attrs.evolve(base.avatar, reduce_motion=True))
    assistant = Assistant.start(
        settings, ScriptedBackend(["fine ", "thanks"]), model="tiny", system=host
    )
    screen = Screen()
    assistant.attach(
        "screen",
        lambda: screen,
        surface_type="test",
        capabilities=frozenset({Capability.STREAMING}),
    )
    return assistant, screen


def reporter(host: ThespianHost) -> tuple[Reporter, ActorRef]:
    behaviour = Reporter()
    return behaviour, host.spawn("reporter", lambda: behaviour)


async def test_a_raising_behaviour_is_restarted_and_its_failure_reaches_surfaces(
    host: ThespianHost,
) -> None:
    assistant, screen = session_on(host)
    got, ref = reporter(host)
    rec = host.spawn(
        "rec",
        BehaviourSpec.of(Recorder, reporter=ref, name="rec"),
        policy=SupervisorPolicy(backoff_initial=0.01),
    )
    rec.tell(Boom())
    rec.tell(Note("after"))
    await wait_until(lambda: "after#1" in got.of("rec"), what="the note after the restart")
    assert got.of("rec") == ["started", "started", "after#1"]
    await wait_until(lambda: screen.of(ActorFailed), what="the failure on the surface")
    (failure,) = screen.of(ActorFailed)
    assert (failure.actor, failure.error, failure.action) == ("rec", "ValueError: boom", "restart")
    assert host.pids()["rec"] != os.getpid()
    assistant.conductor.tell(UserMessage("still there?"))
    await wait_until(lambda: screen.of(StreamEnd), what="an answer after the failure")
    await assistant.stop()


async def test_a_cell_whose_process_dies_is_created_again_and_refs_follow(
    host: ThespianHost,
) -> None:
    got, ref = reporter(host)
    listener = host.failure_listeners
    listener.append(ref)
    rec = host.spawn(
        "rec",
        BehaviourSpec.of(Recorder, reporter=ref, name="rec"),
        policy=SupervisorPolicy(backoff_initial=0.01),
    )
    rec.tell(Note("before"))
    await wait_until(lambda: "before#1" in got.of("rec"), what="the first note")
    first = host.pids()["rec"]
    os.kill(first, signal.SIGKILL)
    await wait_until(lambda: got.failures, what="the death to be reported")
    (failure,) = got.failures
    assert failure.actor == "rec" and failure.action == "restart"
    assert failure.error.startswith("ActorProcessExited")
    await wait_until(lambda: host.pids().get("rec", first) != first, what="a new process")
    rec.tell(Note("after"))
    await wait_until(lambda: "after#1" in got.of("rec"), what="the note to the new process")
    assert got.of("rec") == ["started", "before#1", "started", "after#1"]

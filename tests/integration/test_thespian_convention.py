"""Two Thespian systems on loopback form a convention; a session is placed by capability.

The leader is this test's ``ThespianHost`` (multiprocTCPBase, its own admin
port); the member is a second system on another admin port that declares the
``model`` capability. The session's core asks for that capability, so
Thespian creates it on the member; the stream manager and the surface stay
in this process, attached to the leader, and see the answer.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import pytest_asyncio

from aiway.actors.app import Assistant
from aiway.actors.backends.selection import select_backend
from aiway.actors.protocol import Capability, StreamEnd, TaskCreated, Token, UserMessage
from aiway.actors.runtime.thespian import ThespianConfig, ThespianHost
from aiway.actors.runtime.thespian.member import start_member
from aiway.config import load_settings
from tests.fakes import FakeOllama
from tests.integration.test_pipeline import Screen
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.asyncio,
    # Thespian's TCP transport leaves a socket unclosed at shutdown (FACTS.md): only that
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama(models=("tiny:latest",)) as server:
        yield server


async def test_the_core_runs_on_the_member_with_the_model_and_the_leader_sees_the_answer(
    fake: FakeOllama,
) -> None:
    fake.configure(
        script=("Hola [yolla:wa", "ve] amigo ", '[yolla:task start backend-engineer "check"]', ".")
    )
    leader_port, member_port = free_port(), free_port()
    host = ThespianHost(
        ThespianConfig(base="multiprocTCPBase", admin_port=leader_port, require={"model": True})
    )
    member: Any = None
    assistant: Assistant | None = None
    sessions: set[int] = set()
    try:
        await host.start(wait_for_placement=False)
        sessions.add(host.session)
        member = await asyncio.to_thread(
            start_member,
            ThespianConfig(
                base="multiprocTCPBase",
                admin_port=member_port,
                convention=f"127.0.0.1:{leader_port}",
                capabilities={"model": True},
            ),
        )
        await host.wait_for_placement()
        base = load_settings(env={}, config_path=None, overrides={"ollama.host": fake.url})
        settings = attrs.evolve(
            base.settings,
            backend="ollama",
            ollama=attrs.evolve(base.settings.ollama, default_model="tiny"),
        )
        selection = await select_backend(settings)
        assistant = Assistant.start(settings, selection.backend, model="tiny", system=host)
        screen = Screen()
        assistant.attach(
            "screen",
            lambda: screen,
            surface_type="test",
            capabilities=frozenset({Capability.STREAMING, Capability.TASKS}),
        )
        assistant.conductor.tell(UserMessage("hi"))
        await wait_until(lambda: screen.of(StreamEnd), timeout=15, what="the answer")
        (end,) = screen.of(StreamEnd)
        assert end.content == "Hola  amigo ."
        assert "".join(t.text for t in screen.of(Token)) == end.content
        assert [t.description for t in screen.of(TaskCreated)] == ["check"]
        core = {name: host.pids()[name] for name in ("conductor", "registry", "avatar")}
        member_sessions = {os.getsid(pid) for pid in core.values()}
        sessions |= member_sessions
        assert len(member_sessions) == 1 and host.session not in member_sessions
    finally:
        if assistant is not None:
            await assistant.stop()
        await host.stop()
        if member is not None:
            await asyncio.to_thread(member.shutdown)
        await wait_until(
            lambda: not any(processes.in_session(s) for s in sessions),
            timeout=10,
            what="both systems' processes to exit",
        )

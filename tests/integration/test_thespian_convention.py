"""Two Thespian systems on loopback form a convention; a session is placed by capability.

Members that share the convention's secret join it; a member, or a client,
holding another secret gets nothing: it cannot join, and it cannot create an
actor (its frames are dropped unread, see docs/SECURITY.md).

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
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
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
from tests.fakes.isolated import isolated_env
from tests.integration.test_pipeline import Screen
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

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


def write_secret(path: Path, key: str) -> str:
    path.write_text(key * 64)
    path.chmod(0o600)
    return str(path)


async def test_the_core_runs_on_the_member_with_the_model_and_the_leader_sees_the_answer(
    fake: FakeOllama, tmp_path: Path
) -> None:
    fake.configure(
        script=("Hola [yolla:wa", "ve] amigo ", '[yolla:task start backend-engineer "check"]', ".")
    )
    leader_port, member_port = free_port(), free_port()
    secret = write_secret(tmp_path / "thespian.secret", "s")
    host = ThespianHost(
        ThespianConfig(
            base="multiprocTCPBase",
            admin_port=leader_port,
            require={"model": True},
            secret_file=secret,
        )
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
                secret_file=secret,
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


def leader(tmp_path: Path, port: int, **extra: Any) -> ThespianHost:
    return ThespianHost(
        ThespianConfig(
            base="multiprocTCPBase",
            admin_port=port,
            secret_file=write_secret(tmp_path / "leader.secret", "s"),
            log_file=str(tmp_path / "leader.log"),
            **extra,
        )
    )


def run(
    output: Path, command: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` to its end, its output in a file (a Thespian admin it starts keeps
    inherited pipes open long after)."""
    with output.open("wb") as sink:
        return subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        )


async def test_a_member_with_another_secret_cannot_join_the_convention(tmp_path: Path) -> None:
    leader_port, member_port = free_port(), free_port()
    host = leader(tmp_path, leader_port, require={"model": True}, call_timeout=3.0)
    marker = f"AIWAY_TEST_ROGUE={tmp_path}"
    env = isolated_env(tmp_path, AIWAY_TEST_ROGUE=str(tmp_path))
    try:
        await host.start(wait_for_placement=False)
        output = tmp_path / "member.txt"
        started = await asyncio.to_thread(
            run,
            output,
            [
                sys.executable,
                "-m",
                "aiway.actors.runtime.thespian.member",
                "--admin-port",
                str(member_port),
                "--convention",
                f"127.0.0.1:{leader_port}",
                "--capability",
                "model",
                "--secret-file",
                write_secret(tmp_path / "member.secret", "m"),
                "--detach",
            ],
            env=env,
        )
        assert started.returncode == 0, output.read_text()
        assert "member: Thespian admin on 127.0.0.1" in output.read_text()
        # the member registers with the leader at once: the leader drops what it sends
        with pytest.raises(TimeoutError, match=r"no system of the convention offers aiway\.model"):
            await host.wait_for_placement()
        assert host.members == {}
    finally:
        await host.stop()
        processes.kill(processes.with_marker(marker))
        await wait_until(
            lambda: not processes.with_marker(marker) and not processes.in_session(host.session),
            timeout=10,
            what="both systems' processes to exit",
        )


async def test_a_client_with_another_secret_cannot_create_an_actor(tmp_path: Path) -> None:
    port = free_port()
    host = leader(tmp_path, port)
    ran = tmp_path / "intruder-ran"
    marker = f"AIWAY_TEST_ROGUE={tmp_path}"
    try:
        await host.start()
        output = tmp_path / "rogue.txt"
        rogue = await asyncio.to_thread(
            run,
            output,
            [
                sys.executable,
                "-m",
                "tests.integration.thespian_rogue",
                str(port),
                str(ran),
                write_secret(tmp_path / "rogue.secret", "r"),
            ],
            env=isolated_env(tmp_path, AIWAY_TEST_ROGUE=str(tmp_path)),
        )
        assert rogue.returncode == 0, output.read_text()
        assert output.read_text().startswith("refused: InvalidActorAddress"), output.read_text()
        assert not ran.exists()
    finally:
        await host.stop()
        processes.kill(processes.with_marker(marker))
        await wait_until(
            lambda: not processes.with_marker(marker) and not processes.in_session(host.session),
            timeout=10,
            what="every process to exit",
        )

"""`aiway headless --engine thespian` as a person runs it: real processes, the fake server.

The core (Conductor, registry, avatar) runs as Thespian actors in processes of
their own; the stream manager and the log surface stay in the aiway process.
Every run gets its own XDG directories, and afterwards no process that
inherited them may be left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.fakes import FakeOllamaProcess
from tests.fakes.isolated import isolated_env
from tests.integration.test_headless_cli import ROOT
from tests.integration.test_headless_cli import run as run_aiway
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until_sync

SCRIPT = [
    "Hola ",
    "[yolla:wa",
    "ve] amigo",
    ' [yolla:task start backend-engineer "build it"]',
    " [yolla:mood happy].",
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllamaProcess]:
    with FakeOllamaProcess(
        "--models", "tiny:latest", "--script", orjson.dumps(SCRIPT).decode()
    ) as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run(tmp_path: Path, *args: str, host: str) -> subprocess.CompletedProcess[str]:
    """Run aiway; then fail (after killing them) if any of its processes are left."""
    try:
        return run_aiway(tmp_path, *args, host=host)
    finally:
        left = processes.with_marker(str(tmp_path))
        processes.kill(left)
        assert not left, f"aiway left processes behind: {left}"


def test_an_answer_on_multiproc_queue_has_tags_stripped_and_commands_applied(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    result = run(
        tmp_path,
        "headless",
        "--backend",
        "ollama",
        "--engine",
        "thespian",
        "--prompt",
        "hi",
        "--metrics",
        host=server.url,
    )
    assert result.returncode == 0, result.stderr
    assert "yollayah> Hola  amigo" in result.stdout
    assert "[yolla:" not in result.stdout
    assert "[task t1 · Uncle Marco (backend-engineer): build it]" in result.stdout
    assert "gesture wave" in result.stdout
    assert "mood happy" in result.stdout
    for actor in ("conductor", "registry", "avatar"):
        assert f"{actor} (thespian)" in result.stdout


def test_json_mode_on_multiproc_tcp_writes_the_same_wire_messages(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    port = str(free_port())
    result = run(
        tmp_path,
        "headless",
        "--backend",
        "ollama",
        "--engine",
        "thespian",
        "--admin-port",
        port,
        "--json",
        "--prompt",
        "hi",
        host=server.url,
    )
    assert result.returncode == 0, result.stderr
    messages = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert messages[0]["type"] == "StateSnapshot"
    inner = [m["message"] for m in messages if m["type"] == "Published"]
    (end,) = [m for m in inner if m["type"] == "StreamEnd"]
    assert end["content"] == "Hola  amigo  ."
    assert any(m["type"] == "TaskCreated" for m in inner)
    assert "".join(m["text"] for m in inner if m["type"] == "Token") == end["content"]


def test_bad_engine_flags_are_named_and_nothing_starts(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    result = run(
        tmp_path,
        "headless",
        "--backend",
        "ollama",
        "--engine",
        "thespian",
        "--convention",
        "nowhere",
        "--prompt",
        "hi",
        host=server.url,
    )
    assert result.returncode == 3
    assert "multiprocTCPBase needs an explicit admin port (--admin-port)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_killed_aiway_process_takes_its_thespian_system_with_it(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    env = isolated_env(tmp_path, OLLAMA_HOST=server.url, AIWAY_OLLAMA_DEFAULT_MODEL="tiny")
    aiway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiway.ui.cli",
            "headless",
            "--backend",
            "ollama",
            "--engine",
            "thespian",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,  # open and silent: it waits for prompts
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # admin, logger, guardian, registry, avatar, conductor, and aiway itself
        wait_until_sync(
            lambda: len(processes.with_marker(str(tmp_path))) >= 7,
            timeout=20,
            what="the Thespian system to start",
        )
        os.kill(aiway.pid, signal.SIGKILL)
        aiway.wait(10)
        wait_until_sync(
            lambda: not processes.with_marker(str(tmp_path)),
            timeout=10,
            what="the orphaned system to end itself",
        )
    finally:
        if aiway.stdin is not None:
            aiway.stdin.close()
        if aiway.poll() is None:
            aiway.kill()
            aiway.wait()
        processes.kill(processes.with_marker(str(tmp_path)))

"""`aiway headless --engine thespian` as a person runs it: real processes, the fake server.

The core (Conductor, registry, avatar) runs as Thespian actors in processes of
their own; the stream manager and the log surface stay in the aiway process.
Every run gets its own XDG directories, and afterwards no process that
inherited them may be left.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.fakes import FakeOllamaProcess
from tests.integration.test_headless_cli import run as run_aiway
from tests.unit.hosts import processes

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

"""`/members` and `aiway status` where there is no convention: one process, or Thespian
on this machine only; each says so plainly. The convention across hosts is in
tests/netns/test_two_hosts.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeOllamaProcess
from tests.integration.test_thespian_headless import free_port, run


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllamaProcess]:
    with FakeOllamaProcess("--models", "tiny:latest") as fake:
        yield fake


def test_members_on_the_asyncio_host_says_there_is_no_convention(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    result = run(
        tmp_path, "headless", "--backend", "ollama", "--prompt", "/members", host=server.url
    )
    assert result.returncode == 0, result.stderr
    assert "no convention: this session runs on the asyncio host" in result.stdout


def test_members_on_thespian_without_a_convention_names_the_core_s_processes(
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
        "/members",
        host=server.url,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "no convention: Thespian on multiprocQueueBase" in out
    for name in ("registry", "avatar", "conductor"):
        assert f"{name}: process " in out, out
    assert "streams (the model, on ollama): in this process" in out


def test_status_without_an_admin_says_there_is_no_convention(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    port = free_port()
    result = run(tmp_path, "status", "--admin-port", str(port), host=server.url)
    assert result.returncode == 3
    assert f"no Thespian convention here: no admin listens on 127.0.0.1:{port}" in result.stderr

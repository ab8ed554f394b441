"""Fixtures for the daemon's hostile-peer tests: a real ``aiway serve`` against the fake Ollama."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeOllamaProcess
from tests.integration.test_daemon import RATE, TOKENS, Processes


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllamaProcess]:
    with FakeOllamaProcess("--models", "tiny:latest") as server:
        yield server


@pytest.fixture
def procs(tmp_path: Path, fake: FakeOllamaProcess) -> Iterator[Processes]:
    fake.configure(tokens=TOKENS, rate=RATE, script=["x"])
    processes = Processes(tmp_path, fake)
    yield processes
    processes.stop_all()

"""`aiway serve --engine thespian`: the daemon's core on Thespian, surfaces from other processes.

The daemon's Conductor, registry and avatar run as Thespian actors (their own
processes, multiprocQueueBase); the socket server, the remote surfaces and
the stream manager stay on the daemon's loop. Two surfaces attach, one types,
both see the answer; SIGTERM stops it all, and no process is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeOllamaProcess
from tests.fakes.daemons import ANSWER, RATE, TOKENS, Processes
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until_sync


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllamaProcess]:
    with FakeOllamaProcess("--models", "tiny:latest") as server:
        server.configure(tokens=TOKENS, rate=RATE, script=["x"])
        yield server


@pytest.fixture
def procs(tmp_path: Path, fake: FakeOllamaProcess) -> Iterator[Processes]:
    started = Processes(tmp_path, fake)
    try:
        yield started
    finally:
        started.stop_all()
        wait_until_sync(
            lambda: not processes.with_marker(str(tmp_path)),
            timeout=10,
            what="every process of the test to exit",
        )


def test_a_daemon_on_thespian_streams_one_answer_into_every_surface(procs: Processes) -> None:
    daemon = procs.daemon("--engine", "thespian", "--log-level", "INFO")
    typist = procs.surface()
    watcher = procs.surface()
    typist.type("hello everyone")
    assert typist.wait_for_answers(1) == [ANSWER]
    assert watcher.wait_for_answers(1) == [ANSWER]
    assert "you> hello everyone" in watcher.text()
    assert daemon.stop() == 0
    assert "stopped after 2 connections" in daemon.text()
    assert "Thespian host on multiprocQueueBase" in procs.log_text()

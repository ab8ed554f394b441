"""Suite-wide hooks, and the fixtures every daemon test shares.

``fake`` is one fake Ollama server process per test module; ``ollama`` resets
it to a paced reply of ``TOKENS`` tokens for each test; ``procs`` starts real
``aiway`` processes for one test and stops them all by pid afterwards, then
waits until no process started with the test's folder in its environment is
left (a Thespian engine's forks among them). A module that needs something
else defines its own fixture of the same name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.daemons import RATE, TOKENS, Processes
from tests.fakes.process import FakeOllamaProcess
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until_sync


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllamaProcess]:
    with FakeOllamaProcess("--models", "tiny:latest") as server:
        yield server


@pytest.fixture
def ollama(fake: FakeOllamaProcess) -> FakeOllamaProcess:
    """The shared fake server, reset to a paced reply of TOKENS tokens."""
    fake.configure(tokens=TOKENS, rate=RATE, script=["x"])
    return fake


@pytest.fixture
def procs(tmp_path: Path, ollama: FakeOllamaProcess) -> Iterator[Processes]:
    started = Processes(tmp_path, ollama)
    try:
        yield started
    finally:
        started.stop_all()
        wait_until_sync(
            lambda: not processes.with_marker(str(tmp_path)),
            timeout=15,
            what="every process of the test to exit",
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Close the two /dev/null files llama-cpp-python opens at import and never closes.

    Otherwise the interpreter reports them as unclosed (a ResourceWarning) at exit,
    after the suite has finished; nothing loads a model after this point.
    """
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None:
            handle.close()

"""The fake Ollama server for the budgets: its own process, so its allocations are not ours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from profiling.pipeline import ServerProcess, fake_ollama


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """One fake server per module, on 127.0.0.1; each test sets the reply it needs."""
    with fake_ollama(1000) as process:
        yield process

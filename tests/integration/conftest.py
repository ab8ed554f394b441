"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from aiway.actors.runtime.spec import trust_package
from aiway.actors.runtime.thespian import ThespianConfig, ThespianHost
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until

# the behaviours these tests place on Thespian live in tests/ and profiling/
trust_package("tests")
trust_package("profiling")


@pytest_asyncio.fixture
async def host() -> AsyncIterator[ThespianHost]:
    """A Thespian host on multiprocQueueBase; its processes are gone when the test ends."""
    system = ThespianHost(ThespianConfig(base="multiprocQueueBase"))
    await system.start()
    try:
        yield system
    finally:
        await system.stop()
        await wait_until(
            lambda: not processes.in_session(system.session),
            timeout=10,
            what="the system's processes to exit",
        )

"""F2 on the Thespian host: the panel's figures include the cells' mailboxes, fetched
from their processes over the host's control channel before each publish."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from aiway.actors.runtime import ActorSystem, MailboxStats
from aiway.actors.runtime.thespian import BehaviourSpec, ThespianHost
from aiway.ui.tui.remote_metrics import RemoteMetrics
from tests.unit.actors.runtime.thespian.support import Note, Recorder, Reporter
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


@attrs.define
class Assistant:
    """What the panel's data path uses of the session's assistant: its system, and the
    publish (here: what ``Metrics`` would carry, kept)."""

    system: ActorSystem
    published: list[tuple[MailboxStats, ...]] = attrs.field(factory=list)

    def publish_metrics(self) -> None:
        self.published.append(self.system.metrics())


@attrs.define
class Session:
    """The TUI session's side of it: ready, its loop, its assistant, the plain request."""

    assistant: Assistant
    loop: asyncio.AbstractEventLoop
    ready: bool = True
    plain: int = 0

    def request_metrics(self) -> None:
        self.plain += 1
        self.assistant.publish_metrics()


def cell(published: tuple[MailboxStats, ...], name: str) -> MailboxStats:
    (stats,) = [s for s in published if s.name == f"{name} (thespian)"]
    return stats


async def test_f2_shows_the_figures_of_mailboxes_in_other_processes(host: ThespianHost) -> None:
    got = Reporter()
    reporter = host.spawn("reporter", lambda: got)
    rec = host.spawn("rec", BehaviourSpec.of(Recorder, reporter=reporter, name="rec"))
    session = Session(Assistant(host), asyncio.get_running_loop())
    remote = RemoteMetrics()
    for n in range(5):
        rec.tell(Note(str(n)))
    await wait_until(lambda: len(got.of("rec")) == 6, timeout=20, what="the notes handled")

    remote.request(session)
    await wait_until(lambda: session.assistant.published, timeout=10, what="a publish")
    first = cell(session.assistant.published[-1], "rec")
    assert first.processed == 5
    assert session.plain == 0 and remote.fetches == 1
    # the local mailboxes are there as before
    assert any(s.name == "reporter" for s in session.assistant.published[-1])

    # the next request fetches again: the figures follow what the cell did meanwhile
    for n in range(3):
        rec.tell(Note(str(n)))
    await wait_until(lambda: len(got.of("rec")) == 9, timeout=20, what="three more")
    remote.request(session)
    await wait_until(
        lambda: len(session.assistant.published) == 2, timeout=10, what="a second publish"
    )
    assert cell(session.assistant.published[-1], "rec").processed == 8
    assert remote.fetches == 2


async def test_requests_while_a_fetch_is_under_way_add_no_other_fetch(
    host: ThespianHost,
) -> None:
    host.spawn("rec", BehaviourSpec.of(Recorder, reporter=host.spawn("r", Reporter), name="rec"))
    session = Session(Assistant(host), asyncio.get_running_loop())
    remote = RemoteMetrics()
    for _ in range(3):
        remote.request(session)
    await wait_until(lambda: session.assistant.published, timeout=10, what="a publish")
    assert remote.fetches == 1 and len(session.assistant.published) == 1


async def test_on_the_asyncio_host_the_request_is_the_plain_one() -> None:
    system = ActorSystem()
    session = Session(Assistant(system), asyncio.get_running_loop())
    remote = RemoteMetrics()
    remote.request(session)
    assert session.plain == 1 and remote.fetches == 0
    await system.stop()


async def cell_up(host: ThespianHost) -> None:
    """A cell ``rec`` in its own process, up (it handled a note), beside a local ``r``."""
    got = Reporter()
    reporter = host.spawn("r", lambda: got)
    rec = host.spawn("rec", BehaviourSpec.of(Recorder, reporter=reporter, name="rec"))
    rec.tell(Note("up"))
    await wait_until(lambda: len(got.of("rec")) == 2, timeout=20, what="the cell up")


def remote(published: tuple[MailboxStats, ...]) -> list[str]:
    return [s.name for s in published if s.name.endswith(" (thespian)")]


async def test_closing_f2_drops_the_remote_figures_from_the_status_bars(
    host: ThespianHost,
) -> None:
    await cell_up(host)
    session = Session(Assistant(host), asyncio.get_running_loop())
    metrics = RemoteMetrics()
    metrics.request(session)
    published = session.assistant.published
    await wait_until(lambda: published, timeout=10, what="a publish")
    assert remote(published[-1]) == ["rec (thespian)"]
    # F2 closes: published again at once, without the figures nothing fetches any more
    metrics.close(session)
    await wait_until(lambda: len(published) == 2, timeout=10, what="the publish on close")
    assert remote(published[-1]) == [] and any(s.name == "r" for s in published[-1])
    # the status bar's own requests (F2 closed) carry none either
    session.request_metrics()
    assert remote(published[-1]) == [] and session.plain == 1
    # F2 opened again fetches them again
    metrics.request(session)
    await wait_until(lambda: len(published) == 4, timeout=10, what="a publish on open")
    assert remote(published[-1]) == ["rec (thespian)"] and metrics.fetches == 2


async def test_a_fetch_that_ends_after_f2_closed_shows_nothing_it_brought(
    host: ThespianHost,
) -> None:
    await cell_up(host)
    session = Session(Assistant(host), asyncio.get_running_loop())
    metrics = RemoteMetrics()
    metrics.request(session)
    metrics.close(session)  # before the fetch's answer came back from the cells
    published = session.assistant.published
    await wait_until(lambda: len(published) == 2, timeout=10, what="both publishes")
    assert metrics.fetches == 1
    assert [remote(p) for p in published] == [[], []]
    assert remote(host.metrics()) == []


async def test_closing_f2_on_the_asyncio_host_publishes_nothing_more() -> None:
    system = ActorSystem()
    session = Session(Assistant(system), asyncio.get_running_loop())
    metrics = RemoteMetrics()
    metrics.request(session)
    metrics.close(session)
    assert session.plain == 1 and session.assistant.published == [session.assistant.published[0]]
    await system.stop()

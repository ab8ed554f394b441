"""DaemonLink, the client transport: connect, deliver, send, reconnect, heartbeats, refusals."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest

from aiway.actors.daemon.address import Address
from aiway.actors.daemon.errors import DaemonUnavailable, LinkRefused
from aiway.actors.protocol import (
    PROTOCOL_VERSION,
    LinkState,
    LinkStatus,
    Published,
    Quit,
    RefusalCode,
    StateSnapshot,
    Token,
    UserMessage,
    Welcome,
    to_wire,
)
from aiway.actors.protocol.framing import encode_frame
from aiway.ui.link.client import Backoff, DaemonLink, MessageQueue
from tests.unit.actors.daemon.support import CAPS, Daemon
from tests.waiting import wait_until


def make_link(
    address: Address, queue: MessageQueue, statuses: list[LinkStatus], **options: object
) -> DaemonLink:
    return DaemonLink(
        address,
        surface_type="test",
        capabilities=CAPS,
        deliver=queue,
        on_status=statuses.append,
        backoff=Backoff(0.01, 0.05),
        rng=random.Random(1),
        **options,  # type: ignore[arg-type]
    )


async def next_of(queue: MessageQueue, kind: type) -> object:
    async with asyncio.timeout(5):
        while not isinstance(msg := await queue.get(), kind):
            pass
    return msg


def inputs(daemon: Daemon) -> list[object]:
    return [m for m in daemon.conductor.got if isinstance(m, UserMessage)]


@pytest.mark.asyncio
async def test_a_link_delivers_what_is_published_and_sends_what_is_typed(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path).start()
    queue, statuses = MessageQueue(), []
    link = make_link(Address.unix(daemon.path), queue, statuses)
    try:
        await link.connect()
        assert link.state is LinkState.CONNECTED and link.surface_id == "test-1"
        assert isinstance(await queue.get(), StateSnapshot)
        daemon.registry.tell(Token("a1", "hola"))
        assert await queue.get() == Published(1, Token("a1", "hola"))
        assert link.last_seq == 1
        assert link.send(UserMessage("hi"))
        await wait_until(lambda: inputs(daemon), what="the message at the Conductor")
        assert inputs(daemon) == [UserMessage("hi", "test-1")]
    finally:
        await link.close()
        await daemon.stop()
    assert [s.state for s in statuses] == [
        LinkState.CONNECTING,
        LinkState.CONNECTED,
        LinkState.CLOSED,
    ]
    assert not link.send(UserMessage("too late"))
    assert link.stats().dropped_sends == 1


@pytest.mark.asyncio
async def test_no_daemon_is_a_clear_error(tmp_path: Path) -> None:
    link = make_link(Address.unix(tmp_path / "none.sock"), MessageQueue(), [])
    with pytest.raises(DaemonUnavailable, match=r"no aiway daemon at unix:.*aiway serve"):
        await link.connect()
    assert link.closed
    await link.close()


@pytest.mark.asyncio
async def test_a_wrong_token_is_refused_for_good(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path).start(token="right")
    address = await daemon.server.listen_tcp("127.0.0.1", 0)
    statuses: list[LinkStatus] = []
    link = make_link(address, MessageQueue(), statuses, token="wrong")
    try:
        with pytest.raises(LinkRefused, match=r"refused the connection \(token\)") as caught:
            await link.connect()
        assert caught.value.code == RefusalCode.TOKEN
        assert statuses[-1].state is LinkState.CLOSED
    finally:
        await link.close()
        await daemon.stop()


@pytest.mark.asyncio
async def test_the_link_reconnects_to_a_restarted_daemon_and_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiway.actors.daemon.server")
    daemon = await Daemon(tmp_path).start()
    queue, statuses = MessageQueue(), []
    link = make_link(Address.unix(daemon.path), queue, statuses)
    try:
        await link.connect()
        daemon.registry.tell(Token("a1", "x"))
        await next_of(queue, Published)
        await daemon.stop()
        await wait_until(
            lambda: link.state is LinkState.RECONNECTING and statuses[-1].attempt >= 2,
            what="retries while the daemon is away",
        )
        assert link.send(UserMessage("typed while away"))
        daemon = await Daemon(tmp_path).start()
        await wait_until(lambda: link.state is LinkState.CONNECTED, what="the link back up")
        assert statuses[-1].detail == "reconnected as test-1"
        snapshot = await next_of(queue, StateSnapshot)
        assert isinstance(snapshot, StateSnapshot) and snapshot.last_seq == 0
        await wait_until(lambda: inputs(daemon), what="the waiting message sent")
        assert "resuming after seq 2" in caplog.text  # the token, then the Quit
    finally:
        await link.close()
        await daemon.stop()
    retries = [s for s in statuses if s.state is LinkState.RECONNECTING]
    assert [s.attempt for s in retries] == list(range(1, len(retries) + 1))
    assert all(s.retry_in is not None and s.retry_in <= 0.05 for s in retries)


@pytest.mark.asyncio
async def test_a_detached_link_closes_for_good(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path).start()
    link = make_link(Address.unix(daemon.path), MessageQueue(), [])
    try:
        await link.connect()
        link.send(UserMessage("/quit"))
        await asyncio.wait_for(link.wait_closed(), 5)
        assert "the daemon goes on" in link.close_reason
        assert link.state is LinkState.CLOSED
    finally:
        await link.close()
        await daemon.stop()


async def _silent_daemon(path: Path, accepted: list[int]) -> asyncio.Server:
    """Welcomes every surface with a 50 ms heartbeat, then never says anything again."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        writer.write(encode_frame(to_wire(Welcome("mute-1", 0.05, PROTOCOL_VERSION))))
        await reader.read()  # until the link gives up on us
        writer.close()

    return await asyncio.start_unix_server(handle, str(path))


@pytest.mark.asyncio
async def test_a_silent_daemon_is_given_up_on_and_reconnected(tmp_path: Path) -> None:
    accepted: list[int] = []
    server = await _silent_daemon(tmp_path / "mute.sock", accepted)
    statuses: list[LinkStatus] = []
    link = make_link(Address.unix(tmp_path / "mute.sock"), MessageQueue(), statuses)
    try:
        await link.connect()
        await wait_until(lambda: len(accepted) >= 2, what="a second connection")
        lost = next(s for s in statuses if s.state is LinkState.RECONNECTING)
        assert "stopped answering" in lost.detail
    finally:
        await link.close()
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_a_full_queue_stops_the_link_reading_until_it_is_read(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path).start()
    queue = MessageQueue(maxsize=1)
    link = make_link(Address.unix(daemon.path), queue, [])
    try:
        await link.connect()
        for index in range(5):
            daemon.registry.tell(Token(f"a{index}", "x"))
        # Welcome, the snapshot (queued), the first token (waiting for room): then nothing.
        await wait_until(lambda: link.stats().frames_in == 3, what="the first token read")
        for _ in range(50):
            await asyncio.sleep(0)
        assert link.stats().frames_in == 3
        got = [await queue.get() for _ in range(6)]
        assert [m.seq for m in got if isinstance(m, Published)] == [1, 2, 3, 4, 5]
    finally:
        await link.close()
        await daemon.stop()


def test_backoff_doubles_with_jitter_up_to_its_maximum() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0)
    rng = random.Random(3)
    for attempt, step in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (500, 1.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays)
        assert len(set(delays)) > 1


@pytest.mark.asyncio
async def test_the_message_queue_iterates_until_its_end() -> None:
    queue = MessageQueue()
    queue(Quit("a"))
    queue.end()
    assert [msg async for msg in queue] == [Quit("a")]

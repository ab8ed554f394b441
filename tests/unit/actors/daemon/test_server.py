"""The daemon's server in process: real sockets, a real registry, raw peers that misbehave."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from aiway.actors.daemon import connection
from aiway.actors.daemon.auth import PeerCredentials
from aiway.actors.protocol import (
    PROTOCOL_VERSION,
    Connected,
    Disconnected,
    Handshake,
    Ping,
    Pong,
    Published,
    Quit,
    QuitRequested,
    RefusalCode,
    Refused,
    Resized,
    StateSnapshot,
    Token,
    UserCommand,
    UserMessage,
    Welcome,
)
from aiway.actors.protocol.framing import encode_frame
from aiway.actors.runtime import Behaviour, Context, handles
from tests.unit.actors.daemon.support import CAPS, Daemon, Peer
from tests.waiting import wait_until


@pytest_asyncio.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    running = await Daemon(tmp_path).start()
    yield running
    await running.stop()


def inputs(daemon: Daemon) -> list[object]:
    """What surfaces sent to the Conductor (not the registry's Connected/Disconnected)."""
    return [m for m in daemon.conductor.got if not isinstance(m, Connected | Disconnected)]


async def refusal_of(peer: Peer) -> Refused:
    rest = await peer.rest()
    refusals = [msg for msg in rest if isinstance(msg, Refused)]
    assert refusals, f"no Refused frame before the close; got {rest}"
    await peer.close()
    return refusals[0]


@pytest.mark.asyncio
async def test_a_handshake_is_welcomed_then_the_snapshot_and_what_is_published_follow(
    daemon: Daemon,
) -> None:
    peer = await daemon.peer()
    welcome = await peer.handshake()
    assert welcome == Welcome("test-1", daemon.settings.heartbeat_interval, PROTOCOL_VERSION)
    assert isinstance(await peer.next(), StateSnapshot)
    daemon.registry.tell(Token("a1", "hola"))
    published = await peer.next()
    assert published == Published(1, Token("a1", "hola"))
    await peer.close()


@pytest.mark.asyncio
async def test_input_reaches_the_conductor_with_the_surface_id_stamped_on(daemon: Daemon) -> None:
    peer = await daemon.peer()
    await peer.handshake()
    peer.send(UserMessage("hi", surface_id="someone-else"))
    await wait_until(lambda: inputs(daemon), what="the message at the Conductor")
    assert inputs(daemon) == [UserMessage("hi", "test-1")]
    await peer.close()


@pytest.mark.asyncio
async def test_a_ping_is_answered_with_a_pong(daemon: Daemon) -> None:
    peer = await daemon.peer()
    await peer.handshake()
    peer.send(Ping(7))
    assert await peer.until(lambda m: isinstance(m, Pong)) == Pong(7)
    await peer.close()


@pytest.mark.parametrize(
    ("frames", "code", "words"),
    [
        ([b"{not json"], RefusalCode.MALFORMED, "malformed JSON"),
        ([b'{"type": "Nope"}'], RefusalCode.HANDSHAKE, "must be a Handshake, not 'Nope'"),
        ([b'{"type": "UserMessage", "text": "hi"}'], RefusalCode.HANDSHAKE, "must be a Handshake"),
        ([b'{"type": "Handshake", "surface_type": "t"}'], RefusalCode.MALFORMED, "bad fields"),
    ],
)
@pytest.mark.asyncio
async def test_bad_input_before_the_handshake_is_refused_by_name(
    daemon: Daemon, frames: list[bytes], code: str, words: str
) -> None:
    peer = await daemon.peer()
    for frame in frames:
        peer.send_raw(encode_frame(frame))
    refused = await refusal_of(peer)
    assert refused.code == code
    assert words in refused.reason
    assert daemon.server.stats().refusals(code) == 1


@pytest.mark.asyncio
async def test_a_bad_frame_drops_that_peer_only(daemon: Daemon) -> None:
    good = await daemon.peer()
    await good.handshake()
    bad = await daemon.peer()
    await bad.handshake()
    bad.send_raw(encode_frame(b'{"type": "Token", "message_id": "x", "text": "forged"}'))
    refused = await refusal_of(bad)
    assert refused.code == RefusalCode.MALFORMED
    assert "Token is not a message a surface may send" in refused.reason
    daemon.registry.tell(Token("a1", "still here"))
    assert await good.until(lambda m: isinstance(m, Published)) == Published(
        1, Token("a1", "still here")
    )
    await wait_until(lambda: daemon.server.stats().attached == 1, what="the bad peer detached")
    await good.close()


@pytest.mark.asyncio
async def test_an_oversized_frame_is_refused_before_its_body_is_read(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path, max_frame_bytes=1024).start()
    try:
        peer = await daemon.peer()
        await peer.handshake()
        peer.send_raw((10_000_000).to_bytes(4, "big") + b"x" * 100)
        refused = await refusal_of(peer)
        assert refused.code == RefusalCode.OVERSIZE
        assert "10000000 bytes is over the limit of 1024" in refused.reason
    finally:
        await daemon.stop()


@pytest.mark.asyncio
async def test_a_flood_over_the_rate_limit_is_refused(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path, input_rate=10.0, input_burst=20).start()
    try:
        peer = await daemon.peer()
        await peer.handshake()
        peer.send_raw(b"".join(encode_frame(b'{"type": "Ping", "nonce": 1}') for _ in range(500)))
        refused = await refusal_of(peer)
        assert refused.code == RefusalCode.RATE
        assert "more than 10 messages per second" in refused.reason
        pongs = [msg for msg in peer.got if isinstance(msg, Pong)]
        assert len(pongs) <= 20
    finally:
        await daemon.stop()


@pytest.mark.asyncio
async def test_another_protocol_version_is_refused_with_both_versions(daemon: Daemon) -> None:
    peer = await daemon.peer()
    peer.send(Handshake("test", CAPS, protocol_version=PROTOCOL_VERSION + 1))
    refused = await refusal_of(peer)
    assert refused.code == RefusalCode.VERSION
    assert f"version {PROTOCOL_VERSION}, this surface {PROTOCOL_VERSION + 1}" in refused.reason


@pytest.mark.asyncio
async def test_a_peer_without_a_handshake_in_time_is_refused(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path, handshake_timeout=0.05).start()
    try:
        peer = await daemon.peer()
        refused = await refusal_of(peer)
        assert refused == Refused(RefusalCode.HANDSHAKE, "no handshake within 0.05s")
    finally:
        await daemon.stop()


@pytest.mark.asyncio
async def test_a_unix_peer_of_another_user_is_refused(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = PeerCredentials(pid=4242, uid=os.getuid() + 1, gid=0)
    monkeypatch.setattr(connection, "peer_credentials", lambda sock: stranger)
    peer = await daemon.peer()
    refused = await refusal_of(peer)
    assert refused.code == RefusalCode.PEER
    assert f"uid {os.getuid() + 1}" in refused.reason
    assert daemon.server.stats().attached == 0


@pytest.mark.asyncio
async def test_more_connections_than_allowed_are_refused(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path, max_connections=1).start()
    try:
        first = await daemon.peer()
        await first.handshake()
        second = await daemon.peer()
        assert (await refusal_of(second)).code == RefusalCode.BUSY
        await first.close()
    finally:
        await daemon.stop()


@pytest.mark.asyncio
async def test_tcp_peers_answer_the_challenge_and_a_raw_token_is_refused(daemon: Daemon) -> None:
    daemon.server.secret = "the-token"
    address = await daemon.server.listen_tcp("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(address.host, address.port)
    raw = Peer(reader, writer)
    opening = await raw.next()
    assert isinstance(opening, dict) and opening["type"] == "Challenge"
    raw.send(Handshake("test", CAPS, token="the-token"))  # the secret itself: not an answer
    refused = await refusal_of(raw)
    assert refused.code == RefusalCode.TOKEN
    assert "the-token" not in refused.reason
    reader, writer = await asyncio.open_connection(address.host, address.port)
    wrong = Peer(reader, writer)
    with pytest.raises(AssertionError):
        await wrong.tcp_handshake("not-it")
    assert isinstance(wrong.got[-1], Refused) and wrong.got[-1].code == RefusalCode.TOKEN
    await wrong.close()
    reader, writer = await asyncio.open_connection(address.host, address.port)
    right = Peer(reader, writer)
    await right.tcp_handshake("the-token")
    await right.close()


@pytest.mark.parametrize(
    "leaving",
    [UserMessage("/quit"), UserMessage(" /EXIT "), UserCommand("quit"), QuitRequested()],
)
@pytest.mark.asyncio
async def test_quit_from_a_surface_detaches_it_and_the_session_goes_on(
    daemon: Daemon, leaving: object
) -> None:
    stays = await daemon.peer()
    await stays.handshake()
    leaves = await daemon.peer()
    await leaves.handshake()
    leaves.send(leaving)
    rest = await leaves.rest()
    assert any(isinstance(msg, Quit) for msg in rest)
    await leaves.close()
    await wait_until(lambda: daemon.server.stats().attached == 1, what="one surface left")
    assert not inputs(daemon)
    daemon.registry.tell(Token("a1", "on"))
    assert isinstance(await stays.until(lambda m: isinstance(m, Published)), Published)
    await stays.close()


@pytest.mark.asyncio
async def test_a_silent_peer_is_dropped_and_counted_and_a_live_one_stays(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path, heartbeat_interval=0.05, heartbeat_misses=2).start()
    try:
        silent = await daemon.peer()
        await silent.handshake()
        live = await daemon.peer()
        await live.handshake()

        async def answer_pings() -> None:
            while (msg := await live.next()) is not None:
                if isinstance(msg, Ping):
                    live.send(Pong(msg.nonce))

        answering = asyncio.get_running_loop().create_task(answer_pings())
        assert await silent.rest(timeout=5) is not None  # cut: the stream ends
        await wait_until(lambda: daemon.server.stats().dead_peers == 1, what="one dead peer")
        pings = lambda: sum(isinstance(msg, Ping) for msg in live.got)  # noqa: E731
        await wait_until(lambda: pings() >= 6, what="pings past the dead line")
        assert daemon.server.stats().attached == 1
        answering.cancel()
        await asyncio.gather(answering, return_exceptions=True)
        await silent.close()
        await live.close()
    finally:
        await daemon.stop()


@pytest.mark.asyncio
async def test_a_peer_that_stops_reading_lags_without_holding_back_the_others(
    tmp_path: Path,
) -> None:
    daemon = await Daemon(tmp_path, surface_capacity=4, write_buffer_bytes=1024).start()
    try:
        slow = await daemon.peer()
        await slow.handshake()
        assert isinstance(await slow.next(), StateSnapshot)
        fast = await daemon.peer()
        await fast.handshake()
        # Tokens of different answers never merge: each is a frame of ~10 kB. They go
        # out one at a time, as the fast peer takes each, so only the slow one falls behind.
        count = 150
        for index in range(count):
            daemon.registry.tell(Token(f"a{index}", "x" * 10_000))
            msg = await fast.until(lambda m: isinstance(m, Published))
            assert isinstance(msg, Published) and msg.seq == index + 1
        by_id = {s.surface_id: s for s in await daemon.surface_stats()}
        assert by_id["test-1"].lag_events >= 1
        assert by_id["test-2"].lag_events == 0
        # The slow peer reads again: it is resynced up to the last message.
        snapshot = await slow.until(lambda m: isinstance(m, StateSnapshot) and m.last_seq == count)
        assert isinstance(snapshot, StateSnapshot)
        by_id = {s.surface_id: s for s in await daemon.surface_stats()}
        assert by_id["test-1"].resyncs >= 1 and not by_id["test-1"].lagging
        await slow.close()
        await fast.close()
    finally:
        await daemon.stop()


@pytest.mark.asyncio
async def test_stop_tells_every_surface_quit_then_closes(tmp_path: Path) -> None:
    daemon = await Daemon(tmp_path).start()
    peers = [await daemon.peer() for _ in range(3)]
    for peer in peers:
        await peer.handshake()
    await daemon.stop()
    for peer in peers:
        rest = await peer.rest()
        assert any(isinstance(m, Published) and isinstance(m.message, Quit) for m in rest), rest
        await peer.close()
    assert not daemon.path.exists()
    assert daemon.server.stats().active == 0


@pytest.mark.asyncio
async def test_a_resize_reaches_the_conductor_and_the_avatar(daemon: Daemon) -> None:
    seen: list[object] = []

    class Avatar(Behaviour):
        @handles(Resized)
        def on_resized(self, ctx: Context, msg: Resized) -> None:
            seen.append(msg)

    daemon.server.avatar = daemon.system.spawn("avatar", Avatar)
    peer = await daemon.peer()
    await peer.handshake()
    peer.send(Resized(80, 20))
    await wait_until(lambda: seen and inputs(daemon), what="the resize at both")
    assert seen == inputs(daemon) == [Resized(80, 20, "test-1")]
    await peer.close()

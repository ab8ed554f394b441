"""`aiway serve` with surfaces attached from other processes: real processes, loopback only.

Every process here is started by the test and stopped by pid at the end
(SIGCONT first for a stopped one, then SIGTERM, then SIGKILL). Each test has
its own XDG directories under ``tmp_path``, so its socket, token, log and
history are its own. Surfaces write to files, not pipes, so a surface the test
does not read never blocks; the test polls those files with deadlines.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import orjson
import pytest

from aiway.actors.protocol import Handshake, RefusalCode, Refused, Welcome, from_wire, to_wire
from aiway.actors.protocol.framing import FrameDecoder, encode_frame
from tests.fakes import FakeOllamaProcess
from tests.fakes.daemons import ANSWER, RATE, Processes
from tests.waiting import wait_until_sync


def test_a_message_typed_in_one_surface_streams_into_every_surface(procs: Processes) -> None:
    procs.daemon()
    typist = procs.surface()
    watcher = procs.surface()
    recorder = procs.surface("--json")
    typist.type("hello everyone")
    answers = [s.wait_for_answers(1)[0] for s in (typist, watcher)]
    assert answers == [ANSWER, ANSWER]
    assert "you> hello everyone" in watcher.text()
    wait_until_sync(lambda: '"StreamEnd"' in recorder.text(), what="the JSON surface's end")
    lines = [orjson.loads(line) for line in recorder.text().splitlines()]
    published = [line["message"] for line in lines if line["type"] == "Published"]
    tokens = [m["text"] for m in published if m["type"] == "Token"]
    end = next(m for m in published if m["type"] == "StreamEnd")
    assert len(tokens) > 5, "the answer arrived streamed, token by token"
    assert "".join(tokens) == end["content"] == ANSWER


def test_a_killed_surface_leaves_the_others_going_and_reattaches_with_the_full_answer(
    procs: Processes,
) -> None:
    daemon = procs.daemon()
    typist = procs.surface()
    watcher = procs.surface()
    victim = procs.surface()
    typist.type("tell me")
    victim.wait_for(" tok3", what="the answer streaming in the victim")
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    again = procs.surface()  # attaches while the answer still streams
    assert typist.wait_for_answers(1) == [ANSWER]
    assert watcher.wait_for_answers(1) == [ANSWER]
    assert again.wait_for_answers(1) == [ANSWER]
    assert daemon.process.poll() is None
    wait_until_sync(
        lambda: "surface headless-3 detached" in procs.log_text(), what="the daemon noticing"
    )


def test_a_surface_that_stops_reading_lags_then_resyncs_to_the_same_text(
    tmp_path: Path, procs: Processes, ollama: FakeOllamaProcess
) -> None:
    # Big tokens fill the socket's buffers fast. Then the stopped surface's outbox (eight
    # messages: room for any burst a live surface sees) fills with what cannot merge:
    # answer ends, states, the queued questions; tokens merge meanwhile.
    ollama.configure(
        tokens=None, rate=80.0, script=[{"huge": 3000}] * 80
    )  # under conversation.max_answer_bytes
    small = {"AIWAY_MAILBOX_SURFACE_CAPACITY": "8", "AIWAY_DAEMON_WRITE_BUFFER_BYTES": "16KiB"}
    procs.daemon(env=small)
    typist = procs.surface()
    watcher = procs.surface()
    sleeper = procs.surface()
    os.kill(sleeper.process.pid, signal.SIGSTOP)
    try:
        typist.type("something long")
        typist.wait_for("yollayah> x", what="the first answer streaming")
        typist.type("and again")
        typist.type("and once more")
        wait_until_sync(
            lambda: "surface headless-3 is lagging" in procs.log_text(),
            timeout=30,
            what="the stopped surface to lag",
        )
        expected = typist.wait_for_answers(3)
        assert watcher.wait_for_answers(3) == expected  # the others kept going
        assert [len(answer) for answer in expected] == [80 * 3000] * 3
    finally:
        os.kill(sleeper.process.pid, signal.SIGCONT)
    assert sleeper.wait_for_answers(3) == expected
    log = procs.log_text()
    assert "headless-1 is lagging" not in log and "headless-2 is lagging" not in log


def test_surfaces_reconnect_to_a_restarted_daemon_by_themselves(procs: Processes) -> None:
    first = procs.daemon()
    left = procs.surface()
    right = procs.surface()
    assert first.stop() == 0
    assert "stopped after 2 connections" in first.text()
    assert not procs.socket.exists()
    for surface in (left, right):
        surface.wait_for("reconnecting to unix:", what="the surface to say it reconnects")
    procs.daemon()
    for surface in (left, right):
        surface.wait_for("reconnected as", what="the surface back")
    right.type("after the restart")
    assert left.wait_for_answers(1) == [ANSWER]
    assert right.wait_for_answers(1) == [ANSWER]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_mid_answer_cancels_the_stream_and_tells_surfaces_to_quit(
    procs: Processes, ollama: FakeOllamaProcess, stop: signal.Signals
) -> None:
    ollama.configure(tokens=2000, rate=RATE)  # far longer than the test
    daemon = procs.daemon()
    surface = procs.surface()
    before = ollama.stats()
    surface.type("a long one")
    surface.wait_for(" tok3", what="the answer streaming")
    daemon.process.send_signal(stop)
    assert daemon.process.wait(15) == 0
    surface.wait_for("   · bye", what="the surface told to quit")
    surface.wait_for("reconnecting to", what="the surface waiting for a new daemon")
    wait_until_sync(
        lambda: ollama.stats()["disconnects"] > before["disconnects"],
        what="the model's stream cancelled",
    )
    assert ollama.stats()["streams_finished"] == before["streams_finished"]
    assert not procs.socket.exists()
    assert "telling surfaces to quit" in daemon.text()


def test_a_second_daemon_refuses_and_a_stale_socket_is_replaced(procs: Processes) -> None:
    daemon = procs.daemon()
    second = procs.run("serve", "--backend", "ollama")
    assert second.returncode == 3
    assert f"(pid {daemon.process.pid}) is already serving on {procs.socket}" in second.stderr
    os.kill(daemon.process.pid, signal.SIGKILL)
    daemon.process.wait(10)
    assert procs.socket.exists()  # what a killed daemon leaves
    replacement = procs.daemon()
    assert "(replaced a stale socket)" in replacement.text()


def test_a_tcp_surface_needs_the_token(tmp_path: Path, procs: Processes) -> None:
    daemon = procs.daemon("--listen", "127.0.0.1:0")
    address = f"127.0.0.1:{daemon.tcp_port()}"
    token = procs.socket.with_name("token")
    assert token.stat().st_mode & 0o777 == 0o600
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-token\n")
    wrong.chmod(0o600)
    procs.env["AIWAY_DAEMON_TOKEN_FILE"] = str(wrong)
    refused = procs.run("headless", "--connect", address, "--prompt", "hi")
    assert refused.returncode == 3
    assert "refused the connection (token)" in refused.stderr
    procs.env["AIWAY_DAEMON_TOKEN_FILE"] = str(token)
    answered = procs.run("headless", "--connect", address, "--prompt", "hi")
    assert answered.returncode == 0, answered.stderr
    assert f"yollayah> {ANSWER}\n" in answered.stdout


def raw_peer(path: Path) -> socket.socket:
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    peer.settimeout(10)
    peer.connect(str(path))
    return peer


def read_frames(peer: socket.socket, count: int) -> list[object]:
    decoder = FrameDecoder(64 * 1024 * 1024)
    frames: list[bytes] = []
    while len(frames) < count:
        frames += decoder.feed(peer.recv(1))  # one byte at a time: nothing read past them
    return [from_wire(frame) for frame in frames]


def read_until_closed(peer: socket.socket) -> list[object]:
    decoder = FrameDecoder(64 * 1024 * 1024)
    messages: list[object] = []
    while data := peer.recv(65536):
        messages += [from_wire(frame) for frame in decoder.feed(data)]
    return messages


@pytest.mark.parametrize(
    ("garbage", "code"),
    [
        (encode_frame(b'{"type": "Handshake", "surface_type": '), RefusalCode.MALFORMED),
        ((50_000_000).to_bytes(4, "big") + b"{", RefusalCode.OVERSIZE),
    ],
)
def test_a_peer_sending_garbage_is_dropped_alone(
    procs: Processes, garbage: bytes, code: str
) -> None:
    daemon = procs.daemon()
    surface = procs.surface()
    with raw_peer(procs.socket) as peer:
        peer.sendall(encode_frame(to_wire(Handshake("raw", frozenset()))))
        welcome = read_frames(peer, 1)
        peer.sendall(garbage)
        messages = read_until_closed(peer)
    assert isinstance(welcome[0], Welcome)
    refusals = [m for m in messages if isinstance(m, Refused)]
    assert [r.code for r in refusals] == [code]
    surface.type("still there?")
    assert surface.wait_for_answers(1) == [ANSWER]
    assert daemon.process.poll() is None

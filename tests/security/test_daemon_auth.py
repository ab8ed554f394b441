"""Who gets in to ``aiway serve``, and what a squatter learns: real daemon and surface processes.

A "squatter" is a listener of the test's own on the port or socket path a
surface was told to use, standing in for a local user who bound it while the
daemon was down.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from aiway.actors.daemon import challenge
from aiway.actors.protocol import RefusalCode, Refused, Welcome, to_wire
from aiway.actors.protocol.framing import FrameDecoder, encode_frame
from tests.fakes.daemons import Processes
from tests.unit.actors.daemon.support import decode_frame


class Squatter:
    """A TCP or Unix listener that plays the daemon's opening and keeps what a surface sends."""

    def __init__(self, sock: socket.socket, *, challenge_first: bool) -> None:
        self.sock = sock
        self.challenge_first = challenge_first
        self.received = bytearray()
        self.accepted = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(30)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            self.accepted.set()
            conn.settimeout(10)
            if self.challenge_first:
                conn.sendall(encode_frame(challenge.challenge_payload(challenge.new_nonce())))
            try:
                while chunk := conn.recv(65536):
                    self.received += chunk
                    if FrameDecoder(65536).feed(bytes(self.received)):
                        # Accept it, without any proof of the token.
                        conn.sendall(encode_frame(to_wire(Welcome("squatted-1", 5.0, 1))))
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        self._thread.join(10)


def test_a_tcp_surface_never_sends_the_token_and_refuses_a_squatter(procs: Processes) -> None:
    token = procs.tmp / "token"
    token.write_text("the-secret-token-value\n")
    token.chmod(0o600)
    procs.env["AIWAY_DAEMON_TOKEN_FILE"] = str(token)
    listener = socket.create_server(("127.0.0.1", 0))
    squatter = Squatter(listener, challenge_first=True)
    try:
        port = listener.getsockname()[1]
        result = procs.run("headless", "--connect", f"127.0.0.1:{port}", "--prompt", "hi")
    finally:
        squatter.close()
    assert b"the-secret-token-value" not in squatter.received
    assert result.returncode == 3, result.stdout + result.stderr
    assert "not your daemon" in result.stderr


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to own a socket as another user")
def test_a_unix_surface_sends_nothing_to_a_socket_of_another_user(
    tmp_path: Path, procs: Processes
) -> None:
    path = tmp_path / "shared" / "aiway.sock"
    path.parent.mkdir()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chown(path, 65534, 65534)
    listener.listen(4)
    squatter = Squatter(listener, challenge_first=False)
    try:
        result = procs.run("headless", "--connect", str(path), "--prompt", "hi")
    finally:
        squatter.close()
    assert bytes(squatter.received) == b""
    assert result.returncode == 3
    assert "belongs to uid 65534" in result.stderr


def test_idle_tcp_peers_cannot_lock_the_owner_out(procs: Processes) -> None:
    limits = {"AIWAY_DAEMON_MAX_CONNECTIONS": "4", "AIWAY_DAEMON_MAX_UNAUTHENTICATED": "4"}
    daemon = procs.daemon("--listen", "127.0.0.1:0", env=limits)
    port = daemon.tcp_port()
    holders = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    try:
        with socket.create_connection(("127.0.0.1", port)) as extra:
            extra.settimeout(10)
            data = b""
            while chunk := extra.recv(65536):
                data += chunk
        frames = [decode_frame(f) for f in FrameDecoder(65536).feed(data)]
        assert any(isinstance(f, Refused) and f.code == RefusalCode.BUSY for f in frames)
        surface = procs.surface()  # the owner, over the Unix socket, gets in
        surface.type("still yours?")
        assert surface.wait_for_answers(1)
    finally:
        for holder in holders:
            holder.close()

"""One daemon per socket: the lock, the modes, stale sockets replaced, a live one refused."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from aiway.actors.daemon.errors import DaemonError, DaemonRunning
from aiway.actors.daemon.socketfile import claim_socket


def test_the_socket_is_0600_in_a_0700_directory_and_goes_away_on_release(tmp_path: Path) -> None:
    path = tmp_path / "run" / "aiway" / "aiway.sock"
    claim = claim_socket(path)
    try:
        assert stat.S_ISSOCK(path.lstat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert not claim.replaced_stale
    finally:
        claim.release()
    assert not path.exists()
    claim.release()  # idempotent


def test_an_open_directory_is_tightened_to_0700(tmp_path: Path) -> None:
    directory = tmp_path / "open"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    claim = claim_socket(directory / "aiway.sock")
    claim.release()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_second_daemon_is_refused_and_told_the_first_ones_pid(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sock"
    claim = claim_socket(path)
    try:
        with pytest.raises(DaemonRunning, match=rf"pid {os.getpid()}\) is already serving"):
            claim_socket(path)
        assert path.exists()  # the refused one did not touch the live socket
    finally:
        claim.release()


def test_a_stale_socket_of_a_dead_daemon_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a killed daemon leaves behind
    claim = claim_socket(path)
    try:
        assert claim.replaced_stale
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with probe:
            probe.connect(str(path))  # the new socket listens
    finally:
        claim.release()


def test_a_live_listener_without_the_lock_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sock"
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with other:
        other.bind(str(path))
        other.listen(1)
        with pytest.raises(DaemonRunning, match="another process is listening"):
            claim_socket(path)


def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sock"
    path.write_text("precious")
    with pytest.raises(DaemonError, match="is not a socket"):
        claim_socket(path)
    assert path.read_text() == "precious"


def test_after_release_the_next_daemon_claims_at_once(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sock"
    claim_socket(path).release()
    again = claim_socket(path)
    again.release()
    assert not again.replaced_stale

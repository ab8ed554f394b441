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


def test_an_open_directory_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    home = tmp_path / "home"  # `--socket ~/a.sock` in a home directory others may enter
    home.mkdir()
    home.chmod(0o755)
    with pytest.raises(DaemonError, match=r"open to other users \(mode 755\).*chmod 700"):
        claim_socket(home / "a.sock")
    assert stat.S_IMODE(home.stat().st_mode) == 0o755
    assert list(home.iterdir()) == []


def test_a_symlinked_directory_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    target.chmod(0o755)
    (tmp_path / "run").symlink_to(target)
    with pytest.raises(DaemonError, match="is a symbolic link"):
        claim_socket(tmp_path / "run" / "aiway.sock")
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert list(target.iterdir()) == []


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a directory to another user")
def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(DaemonError, match="belongs to uid 65534"):
        claim_socket(theirs / "aiway.sock")


def test_a_missing_directory_is_created_0700_with_its_parents(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "aiway.sock"
    claim = claim_socket(path)
    claim.release()
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700


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

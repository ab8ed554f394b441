"""Who may attach: same-user Unix peers (SO_PEERCRED) and TCP peers with the token."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from aiway.actors.daemon.auth import (
    PeerCredentials,
    check_peer,
    ensure_token,
    peer_credentials,
    read_token,
    token_matches,
)
from aiway.actors.daemon.errors import TokenFileError


def test_a_unix_peer_reports_this_process_and_user() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        credentials = peer_credentials(left)
    assert credentials == PeerCredentials(os.getpid(), os.getuid(), os.getgid())


def test_a_peer_of_the_same_user_may_attach() -> None:
    assert check_peer(PeerCredentials(pid=10, uid=1000, gid=1000), uid=1000) is None


def test_a_peer_of_another_user_is_refused_with_its_pid_and_uid() -> None:
    reason = check_peer(PeerCredentials(pid=4242, uid=1001, gid=1001), uid=1000)
    assert reason is not None
    assert "pid 4242" in reason and "uid 1001" in reason and "uid 1000 only" in reason


def test_without_credentials_the_socket_permissions_are_the_guard() -> None:
    assert check_peer(None, uid=1000) is None


def test_a_socket_that_cannot_tell_gives_no_credentials() -> None:
    class Mute:
        def getsockopt(self, level: int, option: int, buflen: int) -> bytes:
            raise OSError("not a unix socket")

    assert peer_credentials(Mute()) is None


def test_tokens_match_only_exactly() -> None:
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret")
    assert not token_matches("", "s3cret")
    assert not token_matches(None, "s3cret")


def test_the_token_file_is_created_0600_with_a_long_secret(tmp_path: Path) -> None:
    path = tmp_path / "run" / "token"
    token = ensure_token(path)
    assert len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_existing_token_is_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "token"
    assert ensure_token(path) == ensure_token(path)


def test_a_token_file_open_to_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("abc\n")
    path.chmod(0o644)
    with pytest.raises(TokenFileError, match=r"open to other users .*chmod 600"):
        read_token(path)


def test_a_missing_or_empty_token_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match=r"no token file .*`aiway serve --listen` creates it"):
        read_token(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(TokenFileError, match="is empty"):
        read_token(empty)

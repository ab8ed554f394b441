"""Who may attach: Unix peers of the same user (SO_PEERCRED), TCP peers that know the token.

A Unix peer's credentials come from the kernel (``SO_PEERCRED`` on Linux), so
they cannot be forged; the socket's 0600 mode in a 0700 directory already
keeps other users out, and the check is a second lock. The client checks the
other way round too: the socket file's owner (``lstat``) and the listening
process's uid before it sends anything. A TCP peer proves it knows the secret
in the token file (a 0600 file the daemon creates, ``rotate_token`` replaces)
by answering a challenge (``challenge``); the token itself never crosses the
wire.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import socket
import stat
import struct
from pathlib import Path
from typing import Protocol

import attrs

from aiway.actors.daemon.errors import TokenFileError, UntrustedDaemon

log = logging.getLogger(__name__)

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class _HasSockopt(Protocol):
    def getsockopt(self, level: int, option: int, buflen: int) -> bytes: ...


@attrs.frozen(slots=True)
class PeerCredentials:
    """The process at the other end of a Unix socket, as the kernel reports it."""

    pid: int
    uid: int
    gid: int


def peer_credentials(sock: _HasSockopt) -> PeerCredentials | None:
    """The peer of a connected Unix socket; None where the platform cannot tell."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, option, _UCRED.size)
    except OSError:
        return None
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCredentials(pid, uid, gid)


def check_peer(credentials: PeerCredentials | None, uid: int) -> str | None:
    """Why a Unix peer is refused, or None when it may attach.

    Without credentials (a platform with no ``SO_PEERCRED``) the socket's
    permissions are the only guard, and the peer is let in.
    """
    if credentials is None:
        return None
    if credentials.uid != uid:
        return (
            f"the peer (pid {credentials.pid}) runs as uid {credentials.uid}; "
            f"this daemon serves uid {uid} only"
        )
    return None


def check_daemon_socket(path: Path, uid: int) -> None:
    """Before connecting: ``path`` must be a socket (not a link to one) owned by ``uid``.

    Raises ``UntrustedDaemon`` naming the owner otherwise; ``FileNotFoundError``
    passes through (no daemon there).
    """
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISSOCK(info.st_mode):
        raise UntrustedDaemon(
            f"{path} is not a socket; it is not an aiway daemon's, so nothing was sent"
        )
    if info.st_uid != uid:
        raise UntrustedDaemon(
            f"the socket {path} belongs to uid {info.st_uid}, not to you (uid {uid}); it is not "
            "your daemon, so nothing was sent. Remove it, or use another --socket"
        )


def check_daemon_peer(sock: _HasSockopt, uid: int, where: str) -> None:
    """After connecting: the process listening must run as ``uid`` (``SO_PEERCRED``)."""
    credentials = peer_credentials(sock)
    if credentials is not None and credentials.uid != uid:
        raise UntrustedDaemon(
            f"the process at {where} (pid {credentials.pid}) runs as uid {credentials.uid}, "
            f"not as you (uid {uid}); it is not your daemon, so nothing was sent"
        )


def rotate_token(path: Path) -> str:
    """Replace the token in ``path`` with a fresh one (0600, written whole, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
        os.replace(fresh, path)
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    log.info("rotated the token in %s", path)
    return read_token(path)


def token_matches(given: str | None, expected: str) -> bool:
    """True when ``given`` is the token; constant time in the token's content."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def default_token_path(socket_path: Path) -> Path:
    """The token file beside the socket (in the same 0700 directory)."""
    return socket_path.with_name("token")


def ensure_token(path: Path) -> str:
    """The token in ``path``, creating the file (0600, a fresh secret) when it is missing.

    An existing token is kept, so TCP surfaces reconnect after a restart.
    Raises ``TokenFileError`` when the file is open to other users or empty.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token(path)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(32) + "\n")
    log.info("created the token file %s", path)
    return read_token(path)


def read_token(path: Path) -> str:
    """The token in ``path``; raises ``TokenFileError`` if it is missing, empty or too open."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise TokenFileError(
            f"no token file at {path}; `aiway serve --listen` creates it "
            "(copy it here, or set daemon.token_file)"
        ) from None
    except OSError as exc:
        raise TokenFileError(f"cannot read the token file {path}: {exc.strerror}") from None
    with os.fdopen(fd) as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise TokenFileError(f"the token file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise TokenFileError(
                f"the token file {path} is open to other users "
                f"(mode {stat.S_IMODE(info.st_mode):o}); run `chmod 600 {path}`"
            )
        token = file.read().strip()
    if not token:
        raise TokenFileError(f"the token file {path} is empty")
    return token

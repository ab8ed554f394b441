"""Claiming the daemon's Unix socket: one daemon per path, stale sockets replaced.

A daemon holds an exclusive ``flock`` on ``<socket>.lock`` for its whole life
and writes its pid there. The kernel drops the lock when the process dies,
however it dies, so a second daemon that cannot take the lock knows another
one is alive (and names its pid), and a daemon that takes it knows a socket
file already there was left by a dead one and replaces it. The directory must
be the user's own and private (0700; a directory aiway creates is), and the
socket is born 0600, so only the same user reaches it at all.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
from pathlib import Path

from aiway.actors.daemon.errors import DaemonError, DaemonRunning

log = logging.getLogger(__name__)

BACKLOG = 64


def ensure_private_directory(directory: Path) -> None:
    """Create ``directory`` 0700 if it is missing; refuse one that is not private.

    An existing directory is looked at, never changed (``lstat``: a symlink is
    not followed): a link, a directory of another user, or one that group or
    others may enter is refused with ``DaemonError`` saying what to do. Only a
    directory this call creates (with any missing parents) is made, 0700.
    """
    missing = [parent for parent in (directory, *directory.parents) if not _exists(parent)]
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a race: judged below like any other
            path.mkdir(mode=0o700)
    info = directory.lstat()
    uid = os.getuid()
    choose = "choose another socket with --socket or daemon.socket_path"
    if stat.S_ISLNK(info.st_mode):
        raise DaemonError(f"{directory} is a symbolic link; the socket's directory must not be")
    if not stat.S_ISDIR(info.st_mode):
        raise DaemonError(f"{directory} is not a directory; {choose}")
    if info.st_uid != uid:
        raise DaemonError(
            f"{directory} belongs to uid {info.st_uid}, not to you (uid {uid}); {choose}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise DaemonError(
            f"{directory} is open to other users (mode {mode:o}), so they could reach the "
            f"socket; aiway will not change it for you: run `chmod 700 {directory}` if it "
            f"holds nothing others need, or {choose} (in a directory of its own)"
        )


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


class SocketClaim:
    """A bound, listening Unix socket and the lock that makes it this daemon's."""

    def __init__(self, path: Path, sock: socket.socket, lock_fd: int, replaced_stale: bool) -> None:
        self.path = path
        self.socket: socket.socket | None = sock
        self._lock_fd: int | None = lock_fd
        #: True when a socket file left by a dead daemon was removed first
        self.replaced_stale = replaced_stale

    def take_socket(self) -> socket.socket:
        """Hand the listening socket over (to the asyncio server, which closes it)."""
        sock, self.socket = self.socket, None
        if sock is None:
            raise DaemonError("the listening socket was already handed over")
        return sock

    def remove_socket_file(self) -> None:
        """Unlink the socket file. Safe while the lock is held: no other daemon binds there."""
        if self._lock_fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def release(self) -> None:
        """Close the socket (unless handed over), remove its file, drop the lock. Idempotent."""
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        self.remove_socket_file()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


def claim_socket(path: Path) -> SocketClaim:
    """Take ``path`` for this daemon: raises ``DaemonRunning`` when another daemon holds it."""
    ensure_private_directory(path.parent)
    lock_path = path.with_name(path.name + ".lock")
    lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DaemonRunning(_running_message(path, _read_pid(lock_fd))) from None
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
        replaced = _remove_stale(path)
        sock = _bind(path)
    except BaseException:
        os.close(lock_fd)
        raise
    return SocketClaim(path, sock, lock_fd, replaced)


def _remove_stale(path: Path) -> bool:
    """Remove a socket file no live daemon owns (we hold the lock); True if there was one."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(info.st_mode):
        raise DaemonError(
            f"{path} exists and is not a socket; remove it or choose another --socket"
        )
    if _answers(path):
        # Not one of ours (ours hold the lock), but alive: never take its place.
        raise DaemonRunning(
            f"another process is listening on {path}; stop it or choose another --socket"
        )
    path.unlink()
    log.warning("replaced the stale socket %s left by a daemon that is gone", path)
    return True


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(str(path))
    except BlockingIOError:
        return True  # the backlog is full: someone is there
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        raise
    else:
        return True
    finally:
        probe.close()


def _bind(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        previous = os.umask(0o177)  # the file is born 0600: no window where others could connect
        try:
            sock.bind(str(path))
        finally:
            os.umask(previous)
        path.chmod(0o600)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _running_message(path: Path, pid: int | None) -> str:
    who = f"another aiway daemon (pid {pid})" if pid else "another aiway daemon"
    stop = f"stop it first (kill {pid})" if pid else "stop it first"
    return (
        f"{who} is already serving on {path}; {stop}, attach to it with "
        "`aiway headless --connect`, or give this one another socket with --socket PATH"
    )

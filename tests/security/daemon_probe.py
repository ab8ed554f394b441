"""Measuring what one hostile peer costs a real daemon: its peak memory, its log, its replies."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import attrs


def vm_hwm_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for pid {pid}")


@attrs.frozen
class Reply:
    """What came back to one hostile send."""

    data: bytes
    seconds: float
    """From the last byte sent to the daemon closing the connection."""


def send_and_read_all(peer: socket.socket, data: bytes, *, timeout: float = 60.0) -> Reply:
    """Send ``data`` (as far as the daemon reads it) and read until the daemon closes."""
    peer.settimeout(timeout)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        peer.sendall(data)  # refused unread: the daemon may close before it took everything
    start = time.monotonic()
    received = bytearray()
    try:
        while chunk := peer.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return Reply(bytes(received), time.monotonic() - start)


def huge_snapshot_frame(lists: int = 340_000) -> bytes:
    """One ~1 MB frame: a StateSnapshot whose history is ``lists`` empty lists."""
    body = b'{"type":"StateSnapshot","history":[' + b",".join([b"[]"] * lists) + b"]}"
    return len(body).to_bytes(4, "big") + body

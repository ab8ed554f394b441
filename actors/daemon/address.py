"""Where a daemon listens and where a surface connects: a Unix socket path or a TCP host:port.

``--connect`` takes nothing (the configured socket), a path (``/run/...``,
``./x.sock``, ``~/x.sock`` or ``unix:PATH``), or ``HOST:PORT`` (``tcp://`` is
accepted too; IPv6 hosts in brackets). ``--listen`` takes ``HOST:PORT``,
``:PORT`` or ``PORT``; without a host it listens on loopback only.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

import attrs

from aiway.actors.daemon.errors import AddressError

LOOPBACK = "127.0.0.1"


@attrs.frozen(slots=True)
class Address:
    """A daemon's address: ``kind`` "unix" with a ``path``, or "tcp" with ``host`` and ``port``."""

    kind: Literal["unix", "tcp"]
    path: Path | None = None
    host: str = ""
    port: int = 0

    @classmethod
    def unix(cls, path: Path) -> Address:
        return cls("unix", path=path)

    @classmethod
    def tcp(cls, host: str, port: int) -> Address:
        return cls("tcp", host=host, port=port)

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


def parse_connect(text: str | None, default_socket: Path) -> Address:
    """The address ``--connect`` names; None or "" means ``default_socket``."""
    if not text:
        return Address.unix(default_socket)
    if text.startswith("unix:"):
        return Address.unix(Path(text[len("unix:") :]).expanduser())
    if text.startswith(("/", ".", "~")):
        return Address.unix(Path(text).expanduser())
    rest = text.removeprefix("tcp://").removeprefix("tcp:")
    host, port = _host_port(rest, what="--connect", default_host=None)
    return Address.tcp(host, port)


def parse_listen(text: str) -> Address:
    """The TCP address ``--listen`` names; a missing host means loopback."""
    host, port = _host_port(text.removeprefix("tcp://"), what="--listen", default_host=LOOPBACK)
    return Address.tcp(host, port)


def is_loopback(host: str) -> bool:
    """True for a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_port(text: str, *, what: str, default_host: str | None) -> tuple[str, int]:
    host, port_text = "", text
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or not text[close + 1 :].startswith(":"):
            raise AddressError(f"{what} {text!r}: expected [IPV6]:PORT")
        host, port_text = text[1:close], text[close + 2 :]
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    if not host:
        if default_host is None:
            raise AddressError(
                f"{what} {text!r}: expected HOST:PORT or a socket path (/path/to/aiway.sock)"
            )
        host = default_host
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise AddressError(f"{what} {text!r}: the port must be a number from 0 to 65535")
    return host, int(port_text)

"""The daemon's server side: ``aiway serve`` hosts a session and lets surfaces attach.

``serve`` runs the session headless and listens (``server``, ``connection``,
``remote_surface``); ``auth`` and ``socketfile`` decide who may attach and
which daemon owns a socket; ``address`` parses where to listen and connect;
``ratelimit`` bounds what one connection may send. The frames themselves are
``aiway.actors.protocol.framing``; the client is ``aiway.ui.link``.
docs/DAEMON.md describes the wire and the behaviour.
"""

from aiway.actors.daemon.address import Address, parse_connect, parse_listen
from aiway.actors.daemon.errors import (
    AddressError,
    DaemonError,
    DaemonRunning,
    DaemonUnavailable,
    FrameError,
    FrameTooLarge,
    LinkRefused,
    TokenFileError,
    UntrustedDaemon,
)
from aiway.actors.daemon.server import DaemonServer, DaemonStats

__all__ = [
    "Address",
    "AddressError",
    "DaemonError",
    "DaemonRunning",
    "DaemonServer",
    "DaemonStats",
    "DaemonUnavailable",
    "FrameError",
    "FrameTooLarge",
    "LinkRefused",
    "TokenFileError",
    "UntrustedDaemon",
    "parse_connect",
    "parse_listen",
]

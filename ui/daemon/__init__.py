"""Daemon mode: ``aiway serve``, and surfaces that attach to it from other processes.

``serve`` runs the session headless and listens (``server``, ``connection``,
``remote_surface``); ``DaemonLink`` is the client transport any surface uses
to attach (``client``); ``framing`` is the wire's length-prefixed frames;
``auth`` and ``socketfile`` decide who may attach and which daemon owns a
socket. docs/DAEMON.md describes the wire and the behaviour.
"""

from ui.daemon.address import Address, parse_connect, parse_listen
from ui.daemon.client import (
    Backoff,
    DaemonLink,
    Deliver,
    LinkStats,
    MessageQueue,
    actor_sink,
    token_for,
)
from ui.daemon.errors import (
    AddressError,
    DaemonError,
    DaemonRunning,
    DaemonUnavailable,
    FrameError,
    FrameTooLarge,
    LinkRefused,
    TokenFileError,
)
from ui.daemon.framing import FrameDecoder, FrameEncoder, encode_frame
from ui.daemon.server import DaemonServer, DaemonStats

__all__ = [
    "Address",
    "AddressError",
    "Backoff",
    "DaemonError",
    "DaemonLink",
    "DaemonRunning",
    "DaemonServer",
    "DaemonStats",
    "DaemonUnavailable",
    "Deliver",
    "FrameDecoder",
    "FrameEncoder",
    "FrameError",
    "FrameTooLarge",
    "LinkRefused",
    "LinkStats",
    "MessageQueue",
    "TokenFileError",
    "actor_sink",
    "encode_frame",
    "parse_connect",
    "parse_listen",
    "token_for",
]

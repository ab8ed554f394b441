"""The client side of daemon mode: the link a surface attaches through, and the attached surfaces.

``DaemonLink`` (``client``) connects to ``aiway serve`` over a Unix socket or
TCP, authenticates, and feeds what the daemon publishes to a local actor;
``attach`` is ``aiway headless --connect`` and ``tui`` is ``aiway --connect``.
The server side lives in ``aiway.actors.daemon``; docs/DAEMON.md describes the
wire and the behaviour.
"""

from aiway.ui.link.client import (
    Backoff,
    DaemonLink,
    Deliver,
    LinkStats,
    MessageQueue,
    actor_sink,
    token_for,
)

__all__ = [
    "Backoff",
    "DaemonLink",
    "Deliver",
    "LinkStats",
    "MessageQueue",
    "actor_sink",
    "token_for",
]

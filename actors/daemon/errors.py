"""The daemon link's errors: one family under ``AiwayError``, each saying what to do."""

from __future__ import annotations

from aiway.actors.errors import AiwayError
from aiway.actors.protocol.framing import FrameError, FrameTooLarge

__all__ = [
    "AddressError",
    "DaemonError",
    "DaemonRunning",
    "DaemonUnavailable",
    "FrameError",
    "FrameTooLarge",
    "LinkRefused",
    "TokenFileError",
    "UntrustedDaemon",
]


class DaemonError(AiwayError):
    """Something about ``aiway serve`` or a connection to it went wrong."""


class DaemonRunning(DaemonError):
    """Another daemon already serves on this socket."""


class DaemonUnavailable(DaemonError):
    """No daemon answered at the address (nothing listens, or it did not finish the handshake)."""


class LinkRefused(DaemonError):
    """The daemon refused this surface (``code`` is a ``RefusalCode``)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"the daemon refused the connection ({code}): {reason}")
        self.code = code
        self.reason = reason


class AddressError(DaemonError):
    """An address given to ``--listen`` or ``--connect`` could not be read."""


class TokenFileError(DaemonError):
    """The token file is missing, empty, or readable by other users."""


class UntrustedDaemon(DaemonUnavailable):
    """What answered is not provably the daemon: a socket of another user, or no proof of the token.

    A surface sends nothing to it. Reconnecting links keep trying (the real
    daemon may come back); a first connection fails with this.
    """

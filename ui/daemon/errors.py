"""The daemon link's errors: one family under ``AiwayError``, each saying what to do."""

from __future__ import annotations

from actors.errors import AiwayError


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


class FrameError(DaemonError):
    """A frame on the link broke the framing rules; the connection cannot go on."""


class FrameTooLarge(FrameError):
    """A frame's header announced more bytes than the limit allows."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"a frame of {length} bytes is over the limit of {limit} bytes")
        self.length = length
        self.limit = limit

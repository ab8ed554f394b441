"""What every protocol message shares, and the protocol version."""

from __future__ import annotations

PROTOCOL_VERSION = 1
"""Bumped on any incompatible change of the wire form (see docs/PROTOCOL.md)."""


class WireMessage:
    """Base of every message that has a wire form (a tagged JSON object)."""

    __slots__ = ()

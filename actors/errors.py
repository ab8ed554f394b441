"""The root of aiway's exception hierarchy; every package's errors derive from it."""

from __future__ import annotations


class AiwayError(Exception):
    """Base of every error aiway raises on purpose. Messages say what, where, and what to do."""

"""The root of aiway's exception hierarchy; every package's errors derive from it."""

from __future__ import annotations


class AiwayError(Exception):
    """Base of every error aiway raises on purpose. Messages say what, where, and what to do."""


class BackendError(AiwayError):
    """A backend could not produce (or finish) an answer.

    ``str(error)`` says what went wrong and where; ``hint`` says what to do.
    It lives here, at the root, because the settings raise it too (an
    ``OLLAMA_HOST`` the backend could never reach).
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def describe(self) -> str:
        """The message and the hint, in one line for a surface."""
        return f"{self} ({self.hint})" if self.hint else str(self)

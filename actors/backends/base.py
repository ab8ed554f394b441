"""What every backend offers the StreamManager: one streamed answer at a time per call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiway.actors.errors import BackendError
from aiway.actors.protocol.conductor import ResponseMetadata
from aiway.actors.protocol.stream import ChatTurn

OnText = Callable[[str], Awaitable[None]]
"""Receives model text as it arrives (tags still in). Awaiting it is backpressure.

A backend may start it outside a coroutine of its own (the Ollama backend does,
in its transport's callback) but always as the task that called ``stream``, and
that task finishes what it waits on; it must not assume more of its caller."""


class Backend(Protocol):
    """A model server or runtime that streams answers."""

    @property
    def name(self) -> str:
        """Short name shown to the person ("ollama", "embedded")."""
        ...

    async def stream(
        self, model: str, messages: tuple[ChatTurn, ...], on_text: OnText
    ) -> ResponseMetadata:
        """Stream one answer, awaiting ``on_text`` for each piece of text.

        Returns the answer's metadata when the model is done. Raises
        ``BackendError`` with a clear message on any failure. Cancelling the
        calling task stops generation promptly (the HTTP response is closed;
        the model thread stops within one token).
        """
        ...

    async def list_models(self) -> list[str]:
        """Installed model names (raises ``BackendError`` when unreachable)."""
        ...

    async def close(self) -> None:
        """Release connections, threads and models."""
        ...


__all__ = ["Backend", "BackendError", "OnText"]

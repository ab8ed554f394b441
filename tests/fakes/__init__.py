"""Fakes for tests: a fake Ollama server (in process or as a subprocess) and its scripts."""

from __future__ import annotations

from tests.fakes.ollama_script import (
    Drop,
    ErrorLine,
    FakeConfig,
    HugeLine,
    Raw,
    Split,
    Stall,
    Step,
)
from tests.fakes.process import FakeOllamaProcess

__all__ = [
    "Drop",
    "ErrorLine",
    "FakeConfig",
    "FakeOllama",
    "FakeOllamaProcess",
    "HugeLine",
    "Raw",
    "RecordedRequest",
    "Split",
    "Stall",
    "Step",
]


def __getattr__(name: str) -> object:
    # Imported on first use, not here: `python -m tests.fakes.ollama_server`
    # imports this package first, and runpy warns if the module it is about to
    # run as __main__ is already imported.
    if name in ("FakeOllama", "RecordedRequest"):
        from tests.fakes import ollama_server

        return getattr(ollama_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

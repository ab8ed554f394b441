"""Model backends: Ollama over HTTP, the embedded llama.cpp model, and selection.

The package re-exports the interface every backend offers; the backends
themselves (``ollama``, ``embedded``) and ``selection`` are imported from
their modules, so using one does not load the others' dependencies.
"""

from aiway.actors.backends.base import Backend, BackendError, OnText

__all__ = ["Backend", "BackendError", "OnText"]

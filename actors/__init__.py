"""aiway's actors: the runtime, the protocol and every actor of the assistant.

Subpackages hold the rooms (docs/ARCHITECTURE.md); this package re-exports
only the root of the error hierarchy.
"""

from aiway.actors.errors import AiwayError, BackendError

__all__ = ["AiwayError", "BackendError"]

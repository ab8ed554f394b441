"""Messages the runtime itself sends: failures of supervised actors."""

from __future__ import annotations

import attrs


@attrs.frozen(slots=True)
class ActorFailed:
    """A handler raised; the supervisor applied ``action`` (restart, stop, escalate)."""

    actor: str
    error: str
    traceback: str
    action: str
    restarts: int

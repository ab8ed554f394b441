"""When the UI thread asks the actors for ``Metrics``: only while they can change the screen.

Every ``Metrics`` publish runs on the loop thread and wakes the UI thread when
it arrives, so an idle screen that asked once a second would wake once a second
to repaint nothing (the status bar paints only when its text changes). The clock
asks once when the session is ready, every ``every`` seconds while the metrics
are *wanted* (F2 open, or an answer in flight: ``Renderer.wants_metrics``), and
once more when they stop being wanted, so the status bar keeps a last figure
that covers the answer. Nothing here blocks or touches curses.
"""

from __future__ import annotations

import math

METRICS_EVERY = 1.0
"""Seconds between requests while the metrics are wanted."""


class MetricsClock:
    """Says when to request metrics; ``due`` is asked on every pass of the UI loop."""

    def __init__(self, every: float = METRICS_EVERY) -> None:
        self.every = every
        self._next = -math.inf
        self._wanted = True  # so the first pass asks once, wanted or not

    def due(self, now: float, wanted: bool) -> bool:
        """True when a request should go out now (the clock then counts from ``now``)."""
        if not wanted:
            if not self._wanted:
                return False
            self._wanted = False
            self._next = -math.inf  # wanted again later: ask at once
            return True  # a last figure once they stop being wanted
        self._wanted = True
        if now < self._next:
            return False
        self._next = now + self.every
        return True

    def deadline(self) -> float | None:
        """When the next request is due, or None while none is (no timer for the loop)."""
        return self._next if self._wanted and self._next != -math.inf else None

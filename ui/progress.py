"""How a model pull reads on every surface: sizes, rate, percent and a bar in one line.

``PullMeter`` follows the progress lines of one pull (Ollama reports one
layer at a time, each with its own ``total`` and ``completed``) and measures
the download rate over the last few seconds; ``line`` draws the current state
in at most ``width`` cells. Only text that was already made safe
(``PullUpdate.status`` is stripped of control sequences) goes into a line.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

_RATE_WINDOW = 3.0
_BAR_CELLS = 20


def human_size(size: float) -> str:
    """``512 B``, ``4.2 kB``, ``101 MB``, ``4.7 GB``: decimal units, as Ollama shows them."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" or size >= 100 else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


class PullMeter:
    """The state of one pull as its progress lines arrive; not thread-safe."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.status = ""
        self.total = 0
        self.completed = 0
        self._digest = ""
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, status: str, digest: str, total: int, completed: int) -> None:
        """Take one progress line; a new layer restarts the rate measurement."""
        if digest != self._digest:
            self._digest = digest
            self._samples.clear()
        self.status = status
        self.total = total
        self.completed = min(completed, total) if total else completed
        now = self._clock()
        samples = self._samples
        samples.append((now, self.completed))
        while len(samples) > 2 and now - samples[0][0] > _RATE_WINDOW:
            samples.popleft()

    @property
    def percent(self) -> int | None:
        """Percent of the current layer, or None when the line carried no sizes."""
        if not self.total:
            return None
        return self.completed * 100 // self.total

    @property
    def rate(self) -> float:
        """Bytes per second over the last few seconds of this layer (0 until measurable)."""
        samples = self._samples
        if len(samples) < 2:
            return 0.0
        (start, first), (end, last) = samples[0], samples[-1]
        return (last - first) / (end - start) if end > start else 0.0

    def short(self) -> str:
        """For a status bar: ``42% 21.0 MB/50.0 MB 5.2 MB/s``, or the status when sizeless."""
        percent = self.percent
        if percent is None:
            return self.status
        rate = self.rate
        speed = f" {human_size(rate)}/s" if rate > 0 else ""
        return f"{percent}% {human_size(self.completed)}/{human_size(self.total)}{speed}"

    def line(self, width: int = 80) -> str:
        """``pulling 3f1a2b  42% [████████            ] 21 MB/50 MB 5.2 MB/s``, cut to ``width``."""
        percent = self.percent
        if percent is None:
            text = f"{self.name}: {self.status}"
        else:
            filled = percent * _BAR_CELLS // 100
            bar = "█" * filled + " " * (_BAR_CELLS - filled)
            rate = self.rate
            speed = f" {human_size(rate)}/s" if rate > 0 else ""
            text = (
                f"{self.status} {percent:3d}% [{bar}] "
                f"{human_size(self.completed)}/{human_size(self.total)}{speed}"
            )
        return text if len(text) <= width else text[: max(0, width - 1)] + "…"

"""A token bucket: how many messages a connection may send, on average and in a burst."""

from __future__ import annotations


class TokenBucket:
    """``rate`` messages per second on average, up to ``burst`` at once. O(1), no timers.

    The caller passes the time (seconds, any monotonic clock), so the bucket
    is tested without waiting.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, got {rate}, {burst}")
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    def allow(self, now: float) -> bool:
        """Take one token if there is one: True when the message is within the limit."""
        tokens = self._tokens + (now - self._last) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self._last = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False

"""The token bucket that bounds a connection's input rate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiway.actors.daemon.ratelimit import TokenBucket


def test_a_burst_passes_then_the_rate_applies() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.allow(0.05)
    assert bucket.allow(0.1)


def test_idle_time_refills_only_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=100, burst=2, now=0.0)
    bucket.allow(0.0)
    bucket.allow(0.0)
    assert [bucket.allow(1000.0) for _ in range(3)] == [True, True, False]


@settings(deadline=None)
@given(st.lists(st.floats(0, 0.5), max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    bucket = TokenBucket(rate=20, burst=5, now=0.0)
    now = 0.0
    allowed = 0
    for gap in gaps:
        now += gap
        allowed += bucket.allow(now)
    assert allowed <= 5 + 20 * now + 1e-6


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0, burst=1, now=0.0)

"""When the UI asks for metrics: never on an idle screen with F2 closed."""

from __future__ import annotations

from aiway.ui.tui.metrics_clock import MetricsClock


def asked(clock: MetricsClock, times: list[float], wanted: bool) -> list[float]:
    return [now for now in times if clock.due(now, wanted)]


def test_an_idle_screen_with_f2_closed_asks_once_then_never() -> None:
    clock = MetricsClock(every=1.0)
    seconds = [n / 10 for n in range(600)]  # a minute of loop passes
    assert asked(clock, seconds, wanted=False) == [0.0]
    assert clock.deadline() is None  # no timer wakes the loop for metrics


def test_while_wanted_it_asks_every_second_and_once_more_when_no_longer() -> None:
    clock = MetricsClock(every=1.0)
    assert asked(clock, [0.0], wanted=False) == [0.0]
    assert asked(clock, [n / 10 for n in range(100, 135)], wanted=True) == [10.0, 11.0, 12.0, 13.0]
    assert clock.deadline() == 14.0
    assert asked(clock, [13.5, 13.6, 20.0], wanted=False) == [13.5]  # a last figure
    assert clock.deadline() is None
    assert asked(clock, [30.0, 30.5, 31.0], wanted=True) == [30.0, 31.0]  # F2 again: at once

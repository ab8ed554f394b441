"""Benchmarks (``bench_*``), allocation scenarios (``profile_*``) and the one report.

Every ``bench_*`` module exposes ``run(quick: bool = False) -> list[dict]``; each
dict is one row of the report. A row compares a figure of ours with a baseline
measured in the same run and carries at least:

``name``            the figure ("mailbox one-way burst")
``unit``            what ``ours`` and ``baseline_value`` are in ("msgs/s", "us")
``ours``            our value (a median over rounds)
``baseline``        what we compare against, in words
``baseline_value``  its value, measured in the same run
``ratio``           ours / baseline (median of per-round ratios), or None
``target``          the floor this figure must reach, in words
``met``             True, False, or None when the row has no target
``better``          "higher" or "lower": which way a ratio improves
``note``            optional: how it was measured, printed under the table
``tolerance``       optional: the regression ``--check`` allows this row when
                    it is wider than the report's (a p99 on a shared machine)

``row`` below builds one with the keys spelled right.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any, Literal

Better = Literal["higher", "lower"]

NOISE_NOTE = (
    "shared 2-core machine: values are medians of interleaved rounds and only "
    "orient; compare ratios, which are measured side by side in the same run"
)


def row(
    *,
    name: str,
    unit: str,
    ours: float | None,
    baseline: str,
    baseline_value: float | None,
    ratio: float | None,
    target: str,
    met: bool | None,
    better: Better,
    note: str = "",
    tolerance: float | None = None,
) -> dict[str, Any]:
    """One report row (see the module docstring for what each key means)."""
    result: dict[str, Any] = {
        "name": name,
        "unit": unit,
        "ours": ours,
        "baseline": baseline,
        "baseline_value": baseline_value,
        "ratio": ratio,
        "target": target,
        "met": met,
        "better": better,
    }
    if note:
        result["note"] = note
    if tolerance is not None:
        result["tolerance"] = tolerance
    return result


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return float(statistics.median(values))


def median_ratio(ours: Sequence[float], baseline: Sequence[float]) -> float | None:
    """The median of per-round ratios ours/baseline (None when a baseline is zero).

    Rounds are interleaved, so noise that slows one round slows both sides of
    its ratio; the median of ratios is steadier than the ratio of medians.
    """
    if not ours or len(ours) != len(baseline) or any(b == 0 for b in baseline):
        return None
    return median([o / b for o, b in zip(ours, baseline, strict=True)])

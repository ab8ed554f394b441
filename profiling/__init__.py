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
``target``          the floor this figure must reach, in words (written from
                    ``goal`` when the row has one)
``met``             True, False, or None when the row has no target; computed
                    by ``evaluate`` from ``goal`` (one place for every row)
``goal``            optional, the target as data: ``{"on": "ratio"|"ours",
                    "cmp": ">="|">"|"<="|"<", "value": number}`` (``goal()``)
``skipped``         optional: why a side could not run; the row keeps its key
                    and fails ``--check`` unless it is ``optional``
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
Comparison = Literal[">=", ">", "<=", "<"]
_COMPARE = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}


def goal(on: Literal["ratio", "ours"], cmp: Comparison, value: float) -> dict[str, Any]:
    """A row's target as data: ``goal("ratio", ">=", 1.0)`` means ratio >= 1.0x."""
    if cmp not in _COMPARE:
        raise ValueError(f"unknown comparison {cmp!r}; use one of {', '.join(_COMPARE)}")
    return {"on": on, "cmp": cmp, "value": value}


def describe(target: dict[str, Any], unit: str = "") -> str:
    """The words of a goal: ``>= 1x`` for a ratio, ``< 30 us`` for a value."""
    value = f"{target['value']:g}"
    if target["on"] == "ratio":
        return f"{target['cmp']} {value}x"
    return f"{target['cmp']} {value}{' ' + unit if unit else ''}"


def evaluate(one: dict[str, Any]) -> bool | None:
    """Whether a row meets its goal (None: no goal, or a side was skipped or failed).

    Every row's ``met`` comes from here: a module states its target once, as data.
    A row without a ``goal`` has no target (``row`` refuses a ``met`` of its own); only
    the report's own rows (a module that failed) carry a ``met`` without one.
    """
    target = one.get("goal")
    if target is None:
        met = one.get("met")
        return None if met is None else bool(met)
    if one.get("skipped"):
        return None
    value = one.get(target["on"])
    if value is None:
        return False
    return bool(_COMPARE[target["cmp"]](float(value), float(target["value"])))


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
    target: str = "",
    met: bool | None = None,
    better: Better,
    note: str = "",
    tolerance: float | None = None,
    goal: dict[str, Any] | None = None,
    aim: str = "",
    skipped: str = "",
    optional: bool = False,
) -> dict[str, Any]:
    """One report row (see the module docstring for what each key means).

    With ``goal``, ``target`` is written from it (plus ``aim``, in words) and
    ``met`` is evaluated from it; giving ``met`` as well is an error.
    """
    if goal is not None:
        if met is not None:
            raise ValueError(f"row {name!r}: met is computed from goal; do not pass both")
        target = describe(goal, unit) + (f" (aim {aim})" if aim else "")
    elif met is not None:
        raise ValueError(f"row {name!r}: state the target as goal=, which the report evaluates")
    elif not target:
        target = "-"
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
    if goal is not None:
        result["goal"] = goal
    if skipped:
        result["skipped"] = skipped
    if optional:
        result["optional"] = True
    result["met"] = evaluate(result)
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

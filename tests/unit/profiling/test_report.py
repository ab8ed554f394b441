"""The benchmark report's logic, on made-up rows: no benchmark runs here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiling import row
from profiling.report import (
    discover,
    format_table,
    key,
    load_baseline,
    regressions,
    run_bench,
    write_baseline,
)


def rate(ratio: float | None, **extra: Any) -> dict[str, Any]:
    return row(
        name="one-way",
        unit="msgs/s",
        ours=2.0e6,
        baseline="asyncio.Queue",
        baseline_value=1.0e6,
        ratio=ratio,
        target=">= 1.0x",
        met=ratio is not None and ratio >= 1.0,
        better="higher",
        **extra,
    )


def latency(ratio: float) -> dict[str, Any]:
    return row(
        name="ask p50",
        unit="us",
        ours=5.0,
        baseline="Thespian",
        baseline_value=10.0,
        ratio=ratio,
        target="< 30 us",
        met=True,
        better="lower",
    )


def test_a_failing_benchmark_becomes_one_failed_row() -> None:
    def run(quick: bool = False) -> list[dict[str, Any]]:
        raise ValueError("no server")

    (failed,) = run_bench("bench_broken", run, quick=True)

    assert failed["met"] is False
    assert "ValueError: no server" in failed["error"]


def test_run_gets_quick_only_when_it_takes_it() -> None:
    seen: list[bool] = []

    def with_quick(quick: bool = False) -> list[dict[str, Any]]:
        seen.append(quick)
        return [rate(1.0)]

    def without() -> list[dict[str, Any]]:
        return [rate(1.0)]

    run_bench("bench_a", with_quick, quick=True)
    rows = run_bench("bench_b", without, quick=True)

    assert seen == [True]
    assert rows[0]["module"] == "bench_b"


def test_rows_missing_required_keys_fail_the_module() -> None:
    (failed,) = run_bench("bench_bad", lambda: [{"name": "x"}], quick=False)

    assert "lacks" in failed["error"]


def test_a_missing_direction_is_inferred_from_the_unit() -> None:
    given = rate(1.0)
    del given["better"]

    (one,) = run_bench("bench_c", lambda: [given], quick=False)

    assert one["better"] == "higher"
    assert one["better_inferred"] is True


def test_check_flags_a_ratio_that_moved_beyond_tolerance_in_the_bad_direction() -> None:
    baseline = {key(rate(2.0)): rate(2.0), key(latency(0.5)): latency(0.5)}

    found = regressions([rate(1.5), latency(0.65)], baseline, tolerance=0.2)

    assert len(found) == 2


def test_check_accepts_moves_within_tolerance_or_in_the_good_direction() -> None:
    baseline = {key(rate(2.0)): rate(2.0), key(latency(0.5)): latency(0.5)}

    assert regressions([rate(1.7), latency(0.3)], baseline, tolerance=0.2) == []


def test_a_row_may_allow_a_wider_tolerance() -> None:
    baseline = {key(rate(2.0)): rate(2.0)}

    assert regressions([rate(1.5, tolerance=0.5)], baseline, tolerance=0.2) == []


def test_a_row_without_ratio_regresses_when_its_target_is_missed_again() -> None:
    baseline = {key(rate(None)): {**rate(None), "met": True}}

    (found,) = regressions([rate(None)], baseline)

    assert "missed now" in found


def test_table_is_aligned_and_numbers_its_notes() -> None:
    text = format_table([rate(2.0, note="how it was measured"), latency(0.5)])
    lines = text.splitlines()

    ratio_end = lines[0].index("ratio") + len("ratio")

    assert lines[2].startswith("one-way [1]")
    assert lines[2].index("2.00x") + len("2.00x") == ratio_end
    assert lines[3].index("0.50x") + len("0.50x") == ratio_end
    assert lines[-1] == "[1] how it was measured"


def test_update_baseline_merges_rows_and_skips_failed_ones(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"rows": {"old | kept": {"ratio": 1.0}}}))
    failed = run_bench("bench_x", lambda: 1 / 0, quick=False)

    written = write_baseline([rate(2.0), *failed], path, quick=False)

    assert written == 1
    assert set(load_baseline(path)) == {"old | kept", key(rate(2.0))}


def test_only_an_unknown_module_is_an_error() -> None:
    with pytest.raises(SystemExit):
        discover(["no_such_benchmark"])

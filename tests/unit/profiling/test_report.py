"""The benchmark report's logic, on made-up rows: no benchmark runs here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiling import goal, row
from profiling.report import (
    discover,
    format_table,
    key,
    load_baseline,
    regressions,
    run_bench,
    write_baseline,
)


def rate(ratio: float | None, module: str = "", **extra: Any) -> dict[str, Any]:
    made = row(
        name="one-way",
        unit="msgs/s",
        ours=2.0e6,
        baseline="asyncio.Queue",
        baseline_value=1.0e6,
        ratio=ratio,
        better="higher",
        **({"goal": goal("ratio", ">=", 1.0)} | extra),
    )
    if module:
        made["module"] = module
    return made


def latency(ratio: float) -> dict[str, Any]:
    return row(
        name="ask p50",
        unit="us",
        ours=5.0,
        baseline="Thespian",
        baseline_value=10.0,
        ratio=ratio,
        goal=goal("ours", "<", 30.0),
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


def test_update_baseline_skips_failed_rows_and_keeps_modules_that_did_not_run(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"rows": {"other | kept": {"ratio": 1.0, "module": "bench_o"}}}))
    failed = run_bench("bench_x", lambda: 1 / 0, quick=False)

    written = write_baseline(
        [rate(2.0, module="bench_r"), *failed], path, quick=False, modules=["bench_r", "bench_x"]
    )

    assert written == 1
    assert set(load_baseline(path)) == {"other | kept", key(rate(2.0))}


def test_update_baseline_prunes_rows_a_module_that_ran_no_longer_makes(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    stale = {"gone | peer": {"ratio": 1.0, "module": "bench_r"}}
    path.write_text(json.dumps({"rows": stale}))

    write_baseline([rate(2.0, module="bench_r")], path, quick=False, modules=["bench_r"])

    assert set(load_baseline(path)) == {key(rate(2.0))}


def test_a_full_run_rewrites_the_baseline_without_stale_rows(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"rows": {"old | no module": {"ratio": 1.0}}}))

    write_baseline([rate(2.0)], path, quick=False)

    assert set(load_baseline(path)) == {key(rate(2.0))}


def test_a_failed_module_keeps_its_stored_rows(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"rows": {"x | peer": {"ratio": 1.0, "module": "bench_x"}}}))
    failed = run_bench("bench_x", lambda: 1 / 0, quick=False)

    write_baseline(failed, path, quick=False, modules=["bench_x"])

    assert set(load_baseline(path)) == {"x | peer"}


def test_met_is_evaluated_from_the_goal() -> None:
    below = row(
        name="one-way", unit="msgs/s", ours=1.0, baseline="Queue", baseline_value=1.1,
        ratio=0.9, better="higher", goal=goal("ratio", ">=", 1.0), aim="2x",
    )  # fmt: skip

    assert below["met"] is False
    assert below["target"] == ">= 1x (aim 2x)"


def test_the_report_recomputes_met_so_a_module_cannot_claim_it() -> None:
    claimed = {**rate(0.5, goal=goal("ratio", ">=", 1.0)), "met": True}

    (one,) = run_bench("bench_liar", lambda: [claimed], quick=False)

    assert one["met"] is False


def test_a_goal_on_the_value_compares_ours() -> None:
    fast = row(
        name="ask p50", unit="us", ours=5.0, baseline="Thespian", baseline_value=10.0,
        ratio=0.5, better="lower", goal=goal("ours", "<", 30.0),
    )  # fmt: skip

    assert fast["met"] is True
    assert fast["target"] == "< 30 us"


def test_met_and_goal_together_are_refused() -> None:
    with pytest.raises(ValueError, match="computed from goal"):
        rate(1.0, goal=goal("ratio", ">=", 1.0), met=True)


def test_a_met_without_a_goal_is_refused() -> None:
    with pytest.raises(ValueError, match="state the target as goal"):
        row(
            name="one-way", unit="msgs/s", ours=2.0, baseline="Queue", baseline_value=1.0,
            ratio=2.0, better="higher", met=True,
        )  # fmt: skip


def test_check_fails_when_a_row_with_a_ratio_loses_its_target_within_tolerance() -> None:
    then = rate(1.05, goal=goal("ratio", ">=", 1.0))
    now = rate(0.95, goal=goal("ratio", ">=", 1.0))

    (found,) = regressions([now], {key(then): then}, tolerance=0.2)

    assert "missed now" in found


def test_a_skipped_peer_keeps_its_key_and_fails_the_check() -> None:
    ran = rate(1.2, goal=goal("ratio", ">=", 1.0))
    skipped = rate(None, goal=goal("ratio", ">=", 1.0), skipped="oterm is not installed")

    (found,) = regressions([skipped], {key(ran): ran})

    assert key(skipped) == key(ran)
    assert skipped["met"] is None
    assert "skipped (oterm is not installed)" in found


def test_an_optional_row_may_be_skipped() -> None:
    ran = rate(1.2, goal=goal("ratio", ">=", 1.0))
    skipped = rate(None, goal=goal("ratio", ">=", 1.0), skipped="no GPU", optional=True)

    assert regressions([skipped], {key(ran): ran}) == []


def test_check_fails_when_a_baseline_row_of_a_module_that_ran_is_missing() -> None:
    kept = {**rate(1.2), "module": "bench_r"}
    gone = {**latency(0.5), "module": "bench_r"}
    elsewhere = {**latency(0.5), "name": "other", "module": "bench_o"}
    baseline = {key(kept): kept, key(gone): gone, key(elsewhere): elsewhere}

    (found,) = regressions([kept], baseline, modules=["bench_r"])

    assert found.startswith(key(gone)) and "missing" in found


def test_only_an_unknown_module_is_an_error() -> None:
    with pytest.raises(SystemExit):
        discover(["no_such_benchmark"])

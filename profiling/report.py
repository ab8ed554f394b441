"""The one benchmark report: run every ``profiling/bench_*.py``, print one table.

``python -m profiling.report [--quick] [--only NAME ...] [--json PATH|-] [--check]
[--update-baseline]`` (what ``just bench`` runs). Each benchmark module exposes
``run(quick=False) -> list[dict]`` (rows as described in ``profiling``); one
that fails to import or run becomes a failed row and the others still run.

Each row's ``met`` is evaluated in one place (``profiling.evaluate``) from the
target the row declares as data (``goal``).

``--check`` compares the run with the committed ``baseline.json`` and fails when
a row met its target in the baseline and misses it now (ratio or not); when a
ratio moved more than 20% (``--tolerance``; a row may allow more with its own
``tolerance``) in its bad direction; when a row of a module that ran is missing
(its key is its figure and its baseline, which a skipped side keeps); and when
a side was skipped, unless the row says it is ``optional``.
``--update-baseline`` writes this run's rows into ``baseline.json``, replacing
every stored row of the modules that ran, so stale rows leave.

Exit status: 0; 1 when a benchmark module failed or ``--check`` found a
regression; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import json
import os
import platform
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from profiling import NOISE_NOTE, evaluate

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
TOLERANCE = 0.2
REQUIRED = ("name", "unit", "ours", "baseline", "baseline_value", "ratio", "target", "met")

Row = dict[str, Any]


# -- running -----------------------------------------------------------------------------


def discover(only: Sequence[str] = ()) -> list[str]:
    """Names of the benchmark modules (``bench_runtime``), filtered by ``only``.

    ``only`` accepts ``runtime`` or ``bench_runtime``; an unknown name is an error.
    """
    found = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if not only:
        return found
    wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in only}
    unknown = wanted - set(found)
    if unknown:
        raise SystemExit(
            f"no benchmark module {', '.join(sorted(unknown))} in {HERE}; "
            f"there are: {', '.join(found) or 'none'}"
        )
    return [name for name in found if name in wanted]


def failed_row(module: str, error: str) -> Row:
    """The row standing for a benchmark module that could not run."""
    return {
        "name": f"{module} FAILED",
        "unit": "",
        "ours": None,
        "baseline": "",
        "baseline_value": None,
        "ratio": None,
        "target": "runs",
        "met": False,
        "better": None,
        "module": module,
        "error": error,
    }


def run_bench(module: str, run: Callable[..., Any], quick: bool) -> list[Row]:
    """Call one module's ``run`` (with ``quick`` if it takes it) and check its rows.

    Never raises: a failure, or rows without the required keys, come back as a
    failed row. Warnings the benchmark emits (including ones from finalizers,
    such as an unclosed file) are recorded on its rows and printed under the table.
    """
    unraisable: list[str] = []

    def record_unraisable(hook: Any) -> None:
        unraisable.append(f"{type(hook.exc_value).__name__}: {hook.exc_value}")

    try:
        takes_quick = "quick" in inspect.signature(run).parameters
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            previous_hook, sys.unraisablehook = sys.unraisablehook, record_unraisable
            try:
                rows = run(quick=quick) if takes_quick else run()
                # What the benchmark left for the collector (an unclosed file) warns now,
                # while it is still this benchmark's to answer for.
                gc.collect()
            finally:
                sys.unraisablehook = previous_hook
        if not isinstance(rows, list) or not rows:
            raise TypeError(f"run() returned {type(rows).__name__}, not a non-empty list")
        for one in rows:
            missing = [key for key in REQUIRED if key not in one]
            if missing:
                raise TypeError(f"row {one.get('name')!r} lacks {', '.join(missing)}")
    except Exception as exc:
        detail = traceback.format_exc(limit=-3)
        return [failed_row(module, f"{type(exc).__name__}: {exc}\n{detail}")]
    texts = sorted({f"{w.category.__name__}: {w.message}" for w in caught} | set(unraisable))
    result = []
    for given in rows:
        one = dict(given)
        one.setdefault("module", module)
        if "better" not in one:
            one["better"] = infer_better(str(one["unit"]))
            one["better_inferred"] = True
        if texts:
            one["warnings"] = texts
        one["met"] = evaluate(one)
        result.append(one)
    return result


def infer_better(unit: str) -> str:
    """For rows that do not say: a rate is better higher, anything else lower."""
    return "higher" if unit.endswith("/s") or "per second" in unit else "lower"


def run_all(modules: Sequence[str], quick: bool, log: TextIO) -> list[Row]:
    """Import and run each module in turn, reporting progress on ``log``."""
    rows: list[Row] = []
    for module in modules:
        print(f"running {module}{' (quick)' if quick else ''} ...", file=log, flush=True)
        try:
            run = importlib.import_module(f"profiling.{module}").run
        except Exception as exc:
            rows.append(failed_row(module, f"import failed: {type(exc).__name__}: {exc}"))
            continue
        rows.extend(run_bench(module, run, quick))
    return rows


# -- the table ---------------------------------------------------------------------------


def fmt(value: object) -> str:
    """A number short enough for a table cell: 3 significant digits, k/M suffixes."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) and abs(value) < 10_000:
        return str(value)
    number = float(value)
    magnitude = abs(number)
    if magnitude >= 1e6:
        return f"{number / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{number / 1e3:.3g}k"
    if magnitude >= 100:
        return f"{number:.0f}"
    if magnitude == 0:
        return "0"
    return f"{number:.3g}"


def fmt_met(met: object, skipped: object = None) -> str:
    if skipped:
        return "skipped"
    return "-" if met is None else ("yes" if met else "NO")


def format_table(rows: Sequence[Row]) -> str:
    """One aligned table, then numbered notes (how each figure was measured)."""
    notes: list[str] = []
    lines = [["figure", "ours", "baseline", "its value", "ratio", "target", "met"]]
    for one in rows:
        figure = str(one["name"])
        note = one.get("note")
        if note:
            if note not in notes:
                notes.append(note)
            figure += f" [{notes.index(note) + 1}]"
        unit = f" {one['unit']}" if one.get("unit") else ""
        ratio = one.get("ratio")
        lines.append(
            [
                figure,
                fmt(one["ours"]) + (unit if one["ours"] is not None else ""),
                str(one["baseline"]) or "-",
                fmt(one["baseline_value"]),
                "-" if ratio is None else f"{ratio:.2f}x",
                str(one["target"]),
                fmt_met(one["met"], one.get("skipped")),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    numeric = {1, 3, 4}
    out = []
    for index, line in enumerate(lines):
        cells = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append("  ".join("-" * width for width in widths))
    for number, note in enumerate(notes, 1):
        out.append(f"[{number}] {note}")
    for one in rows:
        if one.get("error"):
            out.append(f"{one['name']}: {one['error'].rstrip()}")
        if one.get("warnings"):
            out.append(f"{one['name']}: warnings: {'; '.join(one['warnings'])}")
        if one.get("skipped"):
            optional = " (optional)" if one.get("optional") else ""
            out.append(f"{one['name']}: skipped{optional}: {one['skipped']}")
        if one.get("better_inferred"):
            out.append(f"{one['name']}: no 'better' given; assumed {one['better']}")
    return "\n".join(out)


def header(quick: bool) -> str:
    cores = os.cpu_count() or 0
    return (
        f"aiway benchmarks: Python {platform.python_version()}, {platform.machine()}, "
        f"{cores} cores{', quick' if quick else ''}\n{NOISE_NOTE}\n"
        "ratio = ours / baseline (see the target column for which way is good)"
    )


# -- baseline ----------------------------------------------------------------------------


def key(one: Row) -> str:
    """A row's identity in baseline.json: its figure and what it is compared with."""
    return f"{one['name']} | {one['baseline']}"


def load_baseline(path: Path) -> dict[str, Row]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    rows: dict[str, Row] = data.get("rows", {})
    return rows


def regressions(
    rows: Sequence[Row],
    baseline: dict[str, Row],
    tolerance: float = TOLERANCE,
    modules: Sequence[str] | None = None,
) -> list[str]:
    """Why the run fails against ``baseline`` (empty when it does not).

    ``modules``: the benchmark modules that ran; a baseline row of one of them
    (or of any module, when None) that this run lacks is a regression.
    """
    found = []
    present = {key(one) for one in rows}
    failed_modules = {one.get("module") for one in rows if one.get("error")}
    for one in rows:
        if one.get("error"):
            continue
        if one.get("skipped") and not one.get("optional"):
            found.append(f"{key(one)}: skipped ({one['skipped']}); the row is not optional")
            continue
        then = baseline.get(key(one))
        if then is None:
            continue
        if then.get("met") is True and one.get("met") is False:
            found.append(f"{key(one)}: target {one['target']} met in the baseline, missed now")
            continue
        ratio, before, better = one.get("ratio"), then.get("ratio"), one.get("better")
        allowed = max(tolerance, float(one.get("tolerance") or 0.0))
        if ratio is not None and before is not None:
            if better == "higher" and ratio < before * (1 - allowed):
                found.append(
                    f"{key(one)}: ratio {ratio:.2f}x, was {before:.2f}x (higher is better)"
                )
            elif better == "lower" and ratio > before * (1 + allowed):
                found.append(f"{key(one)}: ratio {ratio:.2f}x, was {before:.2f}x (lower is better)")
    for name, then in baseline.items():
        module = then.get("module")
        if name in present or module in failed_modules:
            continue  # a failed module is reported as such, not row by row
        if modules is None or module in modules:
            found.append(f"{name}: in the baseline, missing from this run")
    return found


def write_baseline(
    rows: Sequence[Row], path: Path, quick: bool, modules: Sequence[str] | None = None
) -> int:
    """Write this run's rows (failed ones excepted) into ``path``; return how many.

    Stored rows of the modules that ran (every module, when ``modules`` is None)
    are replaced, so a row a module no longer makes leaves the file; a module
    that failed keeps its stored rows.
    """
    stored = load_baseline(path)
    failed = {one.get("module") for one in rows if one.get("error")}
    ran = None if modules is None else set(modules) - failed
    stored = {
        name: then
        for name, then in stored.items()
        if then.get("module") in failed or (ran is not None and then.get("module") not in ran)
    }
    kept = ("module", "unit", "ours", "baseline_value", "ratio", "target", "met", "better")
    count = 0
    for one in rows:
        if one.get("error"):
            continue
        entry = {field: one.get(field) for field in kept}
        for extra in ("goal", "optional", "skipped"):
            if one.get(extra):
                entry[extra] = one[extra]
        stored[key(one)] = entry
        count += 1
    data = {
        "about": "rows of the last --update-baseline run; --check compares against them",
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "quick": quick,
        "rows": dict(sorted(stored.items())),
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return count


# -- command line ------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m profiling.report",
        description="Run every profiling/bench_*.py and print one table of ratios.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer messages, rounds, seconds")
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="NAME", help="modules to run (runtime, idle, ...)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON ('-': stdout)")
    parser.add_argument(
        "--check", action="store_true", help="fail when a ratio regressed against the baseline"
    )
    parser.add_argument(
        "--update-baseline", action="store_true", help="merge this run into the baseline file"
    )
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="the baseline file")
    parser.add_argument(
        "--tolerance", type=float, default=TOLERANCE, help="allowed regression (0.2 = 20%%)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    # With JSON on stdout, everything for humans goes to stderr.
    out = sys.stderr if args.json == "-" else sys.stdout
    modules = discover(args.only)
    rows = run_all(modules, args.quick, sys.stderr)
    # With --only, rows of the other modules are neither checked as missing nor pruned.
    ran = modules if args.only else None
    print(header(args.quick), file=out)
    print(format_table(rows), file=out)
    if args.json:
        text = json.dumps(rows, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    status = 1 if any(one.get("error") for one in rows) else 0
    if args.check:
        baseline = load_baseline(args.baseline)
        if not baseline:
            print(f"check: no baseline at {args.baseline}", file=out)
            status = 1
        else:
            found = regressions(rows, baseline, args.tolerance, ran)
            compared = sum(1 for one in rows if key(one) in baseline)
            print(
                f"check: {compared} rows against {args.baseline.name}, "
                f"{len(found)} failed (lost target, missing or skipped row, or a ratio "
                f"worse by more than {args.tolerance:.0%})",
                file=out,
            )
            for line in found:
                print(f"  REGRESSED {line}", file=out)
            if found:
                status = 1
    if args.update_baseline:
        count = write_baseline(rows, args.baseline, args.quick, ran)
        print(f"baseline: {count} rows written to {args.baseline}", file=out)
    return status


if __name__ == "__main__":
    sys.exit(main())

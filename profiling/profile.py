"""Allocation profiling with memray: capture a scenario, count what it allocated, summarise.

``python -m profiling.profile [NAME ...] [--flamegraph] [--out DIR] [--quick]`` (what
``just profile`` runs) runs each ``profiling/profile_NAME.py`` scenario in its own
process under ``memray.Tracker`` and prints its summary, then one table. Every
scenario also runs alone: ``python -m profiling.profile_stream --flamegraph``.

A scenario module defines ``UNIT`` (what one unit of work is: "token", "frame"),
``VARIANTS`` (optional: one capture per variant, such as a number of surfaces)
and ``play(tracking, quick, variant) -> int``: it sets up outside the tracker,
wraps exactly the measured work in ``with tracking():``, and returns the units
of work done inside it. ``Unavailable`` says the scenario cannot run here yet.

How allocations are counted (the rules of FACTS.md and the avatar budget):
Python allocators are traced (``trace_python_allocators=True``), records are
counted one by one, frees (FREE, PYMALLOC_FREE, MUNMAP) are skipped, and so are
the records that only memray's profile hook causes. On Python 3.11 a profile
hook makes the interpreter build a frame object for every Python call and a
method object for every builtin method call (``made_by_profiler``, from the
avatar budget), and it runs every instruction unspecialised, so unpacking an
exact tuple or list (``a, b = pair``) makes an iterator that specialised code
never makes (``made_by_tracing`` adds that rule; a namedtuple, which is
unpacked through an iterator even untraced, is the one real allocation it
would miss). Telling those apart needs native stacks, so captures take
``native_traces=True`` by default; ``--no-native`` makes faster, smaller
captures whose counts include those records (said in the summary).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import memray

from profiling.bench_avatar import made_by_profiler

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = HERE / "out"
OUR_PACKAGES = ("aiway/",)
FREES = frozenset(
    {memray.AllocatorType.FREE, memray.AllocatorType.PYMALLOC_FREE, memray.AllocatorType.MUNMAP}
)


_UNPACK_ITERATORS = ("tuple_iter", "list_iter")


def made_by_tracing(native: list[str]) -> bool:
    """True for a record only the profile hook causes (innermost native frame first).

    ``made_by_profiler``'s frame and method objects, plus the iterator that the
    unspecialised ``UNPACK_SEQUENCE`` makes for an exact tuple or list.
    """
    if made_by_profiler(native):
        return True
    for depth, name in enumerate(native[:4]):
        if name in _UNPACK_ITERATORS:
            return "unpack_iterable" in native[depth + 1 : depth + 3]
    return False


class Unavailable(Exception):
    """The scenario cannot run on this tree yet (for example, the TUI is not built)."""


class Tracking(Protocol):
    def __call__(self) -> memray.Tracker: ...


@dataclasses.dataclass(frozen=True)
class Site:
    """One source line and how much was allocated with it innermost."""

    where: str  # file:line
    function: str
    count: int
    size: int


@dataclasses.dataclass(frozen=True)
class Counts:
    """What one capture allocated (frees and profiler-made records left out)."""

    allocations: int
    size: int
    profiler_made: int | None  # None: no native stacks, so not told apart (counted above)
    peak_memory: int
    top: tuple[Site, ...]  # by innermost Python frame
    top_ours: tuple[Site, ...]  # by innermost frame in actors/, ui/, config/


def tracker(path: Path, *, native: bool = True) -> memray.Tracker:
    """A tracker writing to ``path`` (replaced if it exists), Python allocators traced."""
    path.unlink(missing_ok=True)
    return memray.Tracker(path, trace_python_allocators=True, native_traces=native)


def short_path(filename: str) -> str:
    """A file name relative to the repository, or from its site-packages / stdlib folder."""
    if filename.startswith(str(ROOT) + os.sep):
        return filename[len(str(ROOT)) + 1 :]
    for marker in ("site-packages" + os.sep, "python3.11" + os.sep):
        index = filename.rfind(marker)
        if index >= 0:
            return filename[index + len(marker) :]
    return filename


def _ours(frame: tuple[str, str, int]) -> bool:
    name = short_path(frame[1])
    return name.startswith(OUR_PACKAGES)


def count_allocations(
    path: Path,
    *,
    top: int = 10,
    keep: Callable[[Sequence[tuple[str, str, int]]], bool] | None = None,
) -> Counts:
    """Count the allocation records of a capture (see the module doc for the rules).

    ``keep``, given the Python stack (innermost first), restricts the count to
    records it accepts: a budget may look only at one package's allocations.
    """
    reader = memray.FileReader(path)
    native = reader.metadata.has_native_traces
    seen: dict[tuple[int, int, int, int], tuple[bool, str, str, str, str] | None] = {}
    total = size = profiler_made = 0
    sites: Counter[tuple[str, str]] = Counter()
    site_sizes: Counter[tuple[str, str]] = Counter()
    ours: Counter[tuple[str, str]] = Counter()
    our_sizes: Counter[tuple[str, str]] = Counter()
    for record in reader.get_allocation_records():
        if record.allocator in FREES:
            continue
        key = (
            record.tid,
            record.stack_id,
            record.native_stack_id,
            record.native_segment_generation,
        )
        if key not in seen:
            seen[key] = _classify(record, native, keep)
        found = seen[key]
        if found is None:
            continue
        by_profiler, where, function, our_where, our_function = found
        n = record.n_allocations
        if by_profiler:
            profiler_made += n
            continue
        total += n
        size += record.size
        sites[(where, function)] += n
        site_sizes[(where, function)] += record.size
        if our_where:
            ours[(our_where, our_function)] += n
            our_sizes[(our_where, our_function)] += record.size
    peak = reader.metadata.peak_memory
    reader.close()
    return Counts(
        allocations=total,
        size=size,
        profiler_made=profiler_made if native else None,
        peak_memory=peak,
        top=tuple(Site(w, f, c, site_sizes[(w, f)]) for (w, f), c in sites.most_common(top)),
        top_ours=tuple(Site(w, f, c, our_sizes[(w, f)]) for (w, f), c in ours.most_common(top)),
    )


def _classify(
    record: memray.AllocationRecord,
    native: bool,
    keep: Callable[[Sequence[tuple[str, str, int]]], bool] | None,
) -> tuple[bool, str, str, str, str] | None:
    stack = record.stack_trace()
    if keep is not None and not keep(stack):
        return None
    by_profiler = native and made_by_tracing([frame[0] for frame in record.native_stack_trace()])
    where = function = our_where = our_function = ""
    if stack:
        function, filename, line = stack[0]
        where = f"{short_path(filename)}:{line}"
    for frame in stack:
        if _ours(frame):
            our_function = frame[0]
            our_where = f"{short_path(frame[1])}:{frame[2]}"
            break
    return by_profiler, where, function, our_where, our_function


def format_sites(sites: Iterable[Site], indent: str = "  ") -> str:
    """Top lines as text: count, bytes, file:line, function."""
    return "\n".join(
        f"{indent}{site.count:9,d}  {site.size:12,d} B  {site.where}  ({site.function})"
        for site in sites
    )


# -- one scenario ----------------------------------------------------------------------


def discover() -> list[str]:
    """Scenario names (``stream`` for ``profile_stream.py``)."""
    return sorted(path.stem.removeprefix("profile_") for path in HERE.glob("profile_*.py"))


def summary(name: str, unit: str, units: int, counts: Counts, capture: Path) -> dict[str, Any]:
    """The JSON summary of one capture."""
    per = counts.allocations / units if units else None
    return {
        "scenario": name,
        "unit": unit,
        "units": units,
        "allocations": counts.allocations,
        "bytes": counts.size,
        "peak_memory": counts.peak_memory,
        "per_unit": per,
        "bytes_per_unit": counts.size / units if units else None,
        "profiler_made": counts.profiler_made,
        "capture": str(capture),
        "top": [dataclasses.asdict(site) for site in counts.top],
        "top_ours": [dataclasses.asdict(site) for site in counts.top_ours],
    }


def format_summary(one: dict[str, Any]) -> str:
    """A scenario's summary as text, top lines included."""
    if one.get("unavailable"):
        return f"== {one['scenario']}: not available yet: {one['unavailable']}"
    per = one["per_unit"]
    made = one["profiler_made"]
    lines = [
        f"== {one['scenario']}: {one['units']:,} {one['unit']}s",
        f"allocations {one['allocations']:,}  bytes {one['bytes']:,}  "
        f"peak memory {one['peak_memory']:,} B  per {one['unit']}: "
        + ("-" if per is None else f"{per:.3f} allocations, {one['bytes_per_unit']:,.0f} B"),
        (
            f"(left out: {made:,} records made only by memray's profile hook)"
            if made is not None
            else "(no native stacks: counts include one frame object per Python call)"
        ),
        "top lines (innermost frame):",
        format_sites(Site(**site) for site in one["top"]),
        "top lines in actors/, ui/, config/ (innermost such frame):",
        format_sites(Site(**site) for site in one["top_ours"]) or "  none",
        f"capture: {one['capture']}",
    ]
    for extra in ("flamegraph", "flamegraph_temporary"):
        if one.get(extra):
            lines.append(f"{extra.replace('_', ' ')}: {one[extra]}")
    return "\n".join(lines)


def flamegraphs(capture: Path) -> dict[str, str]:
    """memray's HTML flame graphs of a capture (peak memory, and temporary allocations).

    ``--no-web`` inlines memray's own assets, so the pages open offline.
    """
    made: dict[str, str] = {}
    for key, suffix, extra in (
        ("flamegraph", "", []),
        ("flamegraph_temporary", "-temporary", ["--temporary-allocations"]),
    ):
        out = capture.with_name(f"{capture.stem}{suffix}.html")
        command = [sys.executable, "-m", "memray", "flamegraph", "--no-web", "-f", *extra]
        subprocess.run([*command, "-o", str(out), str(capture)], check=True, capture_output=True)
        made[key] = str(out)
    return made


def run_scenario(
    name: str, out: Path, *, quick: bool, flamegraph: bool, native: bool
) -> list[dict[str, Any]]:
    """Run one scenario in this process (every variant); return its summaries."""
    module = importlib.import_module(f"profiling.profile_{name}")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for variant in getattr(module, "VARIANTS", (None,)):
        label = name if variant is None else f"{name}-{variant}"
        capture = out / f"{label}.bin"
        try:
            units = module.play(
                lambda capture=capture: tracker(capture, native=native), quick, variant
            )
        except Unavailable as exc:
            results.append({"scenario": label, "unavailable": str(exc)})
            continue
        one = summary(label, module.UNIT, units, count_allocations(capture), capture)
        if flamegraph:
            one.update(flamegraphs(capture))
        results.append(one)
    return results


def scenario_main(name: str, argv: Sequence[str] | None = None) -> int:
    """The command line of one ``profile_NAME`` module."""
    parser = argparse.ArgumentParser(prog=f"python -m profiling.profile_{name}")
    _options(parser)
    parser.add_argument("--json", metavar="PATH", help="also write the summaries as JSON")
    args = parser.parse_args(argv)
    results = run_scenario(
        name, args.out, quick=args.quick, flamegraph=args.flamegraph, native=not args.no_native
    )
    for one in results:
        print(format_summary(one), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


# -- all of them -----------------------------------------------------------------------


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where captures go")
    parser.add_argument("--quick", action="store_true", help="less work (a smoke run)")
    parser.add_argument(
        "--flamegraph", action="store_true", help="also write memray's HTML flame graphs"
    )
    parser.add_argument(
        "--no-native",
        action="store_true",
        help="no native stacks: faster, but counts include memray's frame objects",
    )


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """One line per capture: allocations, bytes, peak, per unit, the top line of ours."""
    header = ["scenario", "units", "allocations", "bytes", "peak", "allocs/unit", "top line ours"]
    lines = [header]
    for one in results:
        if one.get("unavailable") or one.get("failed"):
            why = one.get("failed") or "not available yet"
            lines.append([one["scenario"], "-", "-", "-", "-", "-", why])
            continue
        per = one["per_unit"]
        top = one["top_ours"][0] if one["top_ours"] else None
        lines.append(
            [
                one["scenario"],
                f"{one['units']:,} {one['unit']}s",
                f"{one['allocations']:,}",
                f"{one['bytes']:,}",
                f"{one['peak_memory']:,}",
                "-" if per is None else f"{per:.3f}",
                "-" if top is None else f"{top['where']} ({top['count']:,})",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = []
    for index, line in enumerate(lines):
        text.append(
            "  ".join(
                cell.rjust(w) if 1 <= i <= 5 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m profiling.profile",
        description="Profile allocations of scenarios with memray; all of them without a name.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(discover()))
    _options(parser)
    args = parser.parse_args(argv)
    known = discover()
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"no scenario {', '.join(unknown)}; there are: {', '.join(known)}")
    results: list[dict[str, Any]] = []
    status = 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or known:
        # One process per scenario: memray allows one tracker per process, and a
        # scenario's imports and caches must not flatter the next one.
        print(
            f"profiling {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True
        )
        report = args.out / f"{name}.json"
        report.unlink(missing_ok=True)
        command = [sys.executable, "-m", f"profiling.profile_{name}", "--out", str(args.out)]
        command += ["--json", str(report)]
        command += [flag for flag, on in _flags(args) if on]
        done = subprocess.run(command, cwd=ROOT, check=False)
        if done.returncode != 0 or not report.exists():
            status = 1
            results.append({"scenario": name, "failed": f"FAILED (exit {done.returncode})"})
            continue
        results.extend(json.loads(report.read_text()))
    print()
    print(format_table(results))
    return status


def _flags(args: argparse.Namespace) -> list[tuple[str, bool]]:
    return [
        ("--quick", args.quick),
        ("--flamegraph", args.flamegraph),
        ("--no-native", args.no_native),
    ]


if __name__ == "__main__":
    sys.exit(main())

"""Allocation budgets of the conversation pipeline, measured with memray in a child process.

Each test runs ``tests.unit.budgets.measure`` in its own process against the
fake Ollama server (another process), and counts the captures here
(``profiling.profile``: Python allocators traced, frees and what only memray's
profile hook makes left out). A budget that fails names the top allocating
lines. Budgets are counts, never times, so a busy machine does not move them
(a read may hold more or fewer tokens, which the bounds allow for).

Each bound sits just above what was measured (the figures and their history
are beside each constant) and was checked by hand against an injected
regression, not committed. The paced and the scripted per-token budgets are
exact from run to run (every token its own read, or a scripted schedule), so
one allocation more per token fails them; at full speed the tokens a read
holds move the figure a little, so that bound is about 5% over. One object
more per surface per message fails the surface slopes; one object kept alive
per answer fails the leak allowance.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import memray

from profiling.pipeline import ROOT, ServerProcess
from profiling.profile import Counts, Site, count_allocations, format_sites

#: allocations per token of a long reply at full speed, one surface (measured 6.279-6.312
#: since the chat stream is read by its own protocol, 7.51-8.09 through
#: aiohttp, whose read sizes moved it; the official ollama client makes about 33 per
#: chunk). The bound is about 5% over: +1 per token gives about 7.3
PER_TOKEN = 6.6
#: a 10,000-token reply's allocations per token over a 1,000-token reply's (measured
#: 0.884-0.894: the answer's fixed cost spreads over ten times the tokens; it was
#: 0.46-0.68 when aiohttp's request made that fixed cost several times larger). Above 1,
#: the cost of a token would grow with the reply
LONG_OVER_SHORT = 0.94
#: allocations per token paced at 1,000 tokens/s in lockstep (the fake server writes each
#: line once the surface took the one before: every network read holds one line, so
#: nothing is amortised and the count is the same from run to run), one surface, over
#: HTTP (measured 36.254 since the stream manager tells a chunk when the Conductor has
#: room, with no coroutine, and counts chunks without an int past 256; 42.244 since a
#: ready-queue turn also runs the actors its runs make ready, so a token takes two loop
#: turns, not four; 57.245 since an ordinary chunk's
#: content is decoded alone again, with the line's shape checked strictly; 62.24
#: decoding the line whole, 64.24 before the reader had its own receive buffer, 67.45
#: before the runtime's turn Handle, 93.7 when aiohttp read the stream). The bound is
#: under +1 per token: about 18 of it are the two event-loop turns per token (the
#: read, then one ready-queue turn that runs the Conductor, the registry, the surface)
PER_TOKEN_PACED = 37.0
#: what one more surface may add per streamed token, each token its own message
#: (measured -0.001 from 1 to 10 surfaces and 0.0001 from 10 to 50 since surfaces read
#: the registry's ring with cursors; 4.15 with a tell per surface, 11.1 with the
#: runtime of 2026-11-29). Nothing is allocated per surface per message: the bound
#: only leaves room for noise, and +1 per surface per message gives about 1.0
PER_SURFACE_PER_TOKEN = 0.05
#: allocations per token through the actors on a fixed schedule (the scripted backend,
#: 1 surface: every token a message of its own through the stream manager, the
#: Conductor, the registry and the surface, as when paced one token per read; measured
#: 80.069 in every run, the schedule being scripted; 76.851 since a ready-queue turn
#: re-queues one Handle instead of a call_soon each, and mailboxes stamp every 64th
#: message instead of every 8th; 73.851 since a ready-queue turn also runs the actors
#: its runs make ready; 68.851 since the stream manager tells a chunk when there is room
#: and counts chunks in parts below 257). The bound is the measured figure plus 0.5, so
#: +1 allocation per token fails it
PER_TOKEN_SCRIPTED = 69.35
#: how much more a surface may cost from 10 to 50 surfaces than from 1 to 10, in
#: allocations per token (both are about 0)
SURFACE_GROWTH = 0.02
#: live allocations that 900 more answers may add (measured +150, -175, -316: what
#: stays alive moves by a few hundred either way, so the bound is half an allocation
#: per answer: one leaked object per answer is +900)
LEAK_ALLOWANCE = 450


def measure(*args: str) -> None:
    """Run the measuring child; its output goes into the failure message if it fails."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "tests.unit.budgets.measure", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the measuring process failed:\n{done.stdout}\n{done.stderr}"


def not_the_harness(stack: Sequence[tuple[str, str, int]]) -> bool:
    """Leave out what the counting surfaces themselves allocate (their counters)."""
    return not (stack and stack[0][1].endswith("profiling/pipeline.py"))


def where(counts: Counts) -> str:
    """The top allocating lines of a capture, ours first, for a failure message."""
    return (
        "top lines in actors/, ui/, config/:\n"
        + (format_sites(counts.top_ours) or "  none")
        + "\ntop lines overall:\n"
        + format_sites(counts.top)
    )


def test_allocations_per_token_stay_small_and_do_not_grow_with_the_reply(
    server: ServerProcess, tmp_path: Path
) -> None:
    measure("tokens", server.url, "--folder", str(tmp_path), "--replies", "1000", "10000")
    short = count_allocations(tmp_path / "tokens-1-1000.bin", keep=not_the_harness)
    long = count_allocations(tmp_path / "tokens-1-10000.bin", keep=not_the_harness)
    per_short, per_long = short.allocations / 1000, long.allocations / 10000
    assert per_long <= PER_TOKEN, (
        f"{per_long:.2f} allocations per token over a 10,000-token reply "
        f"(budget {PER_TOKEN}); {where(long)}"
    )
    # One answer's fixed cost spreads over more tokens: per token, a long reply is cheaper.
    assert per_long <= per_short * LONG_OVER_SHORT, (
        f"allocations per token grow with the reply: {per_short:.2f} at 1,000 tokens, "
        f"{per_long:.2f} at 10,000; {where(long)}"
    )


def test_allocations_per_token_paced_one_line_per_read_catch_one_more(
    server: ServerProcess, tmp_path: Path
) -> None:
    measure(
        "tokens", server.url, "--folder", str(tmp_path), "--replies", "300", "1300",
        "--rate", "1000", "--lockstep",
    )  # fmt: skip
    short = count_allocations(tmp_path / "tokens-1-300.bin", keep=not_the_harness)
    long = count_allocations(tmp_path / "tokens-1-1300.bin", keep=not_the_harness)
    per_token = (long.allocations - short.allocations) / 1000
    assert per_token <= PER_TOKEN_PACED, (
        f"{per_token:.3f} allocations per token paced, one line per read "
        f"(budget {PER_TOKEN_PACED}); {where(long)}"
    )


def test_allocations_per_token_per_surface_stay_small_and_do_not_grow_with_the_surfaces(
    tmp_path: Path,
) -> None:
    # A scripted backend hands over each token only once the previous one reached
    # every surface: one message per token at every surface (the worst case for the
    # fan-out), and the same schedule in every run, so the counts are exact.
    tokens = 300
    measure(
        "fanout", "-", "--folder", str(tmp_path), "--replies", str(tokens),
        "--surfaces", "1", "10", "50",
    )  # fmt: skip
    counts: dict[int, Counts] = {}
    for n in (1, 10, 50):
        name = f"fanout-{n}-{tokens}"
        counts[n] = count_allocations(tmp_path / f"{name}.bin", keep=not_the_harness)
        delivered = json.loads((tmp_path / f"{name}.json").read_text())["delivered"]
        assert delivered >= n * tokens, f"{n} surfaces took {delivered} messages"
    near = (counts[10].allocations - counts[1].allocations) / 9 / tokens
    far = (counts[50].allocations - counts[10].allocations) / 40 / tokens
    assert max(near, far) <= PER_SURFACE_PER_TOKEN, (
        f"one more surface costs {near:.2f} (1 to 10 surfaces) and {far:.2f} (10 to 50) "
        f"allocations per token (budget {PER_SURFACE_PER_TOKEN}); at 50 surfaces, "
        f"{where(counts[50])}"
    )
    assert far <= max(near, 0.0) + SURFACE_GROWTH, (
        f"the cost of a surface grows with the surfaces: {near:.2f} allocations per token "
        f"from 1 to 10 surfaces, {far:.2f} from 10 to 50; at 50 surfaces, {where(counts[50])}"
    )


def _leaked(path: Path) -> tuple[int, int, list[Site]]:
    """Allocations made during a trace and still alive at its end: count, bytes, top lines."""
    reader = memray.FileReader(path)
    total = size = 0
    sites: Counter[tuple[str, str]] = Counter()
    for record in reader.get_leaked_allocation_records(merge_threads=True):
        total += record.n_allocations
        size += record.size
        stack = record.stack_trace()
        place = (f"{stack[0][1]}:{stack[0][2]}", stack[0][0]) if stack else ("?", "?")
        sites[place] += record.n_allocations
    reader.close()
    top = [Site(w, f, count, 0) for (w, f), count in sites.most_common(10)]
    return total, size, top


def test_a_thousand_answers_leave_no_more_alive_than_a_hundred(
    server: ServerProcess, tmp_path: Path
) -> None:
    server.configure(tokens=None, rate=0, script=["Hello", " there", ",", " friend", "."])
    measure("leak", server.url, "--folder", str(tmp_path), "--cycles", "100", "1000")
    after_100, bytes_100, _ = _leaked(tmp_path / "leak-100.bin")
    after_1000, bytes_1000, top = _leaked(tmp_path / "leak-1000.bin")
    assert after_1000 - after_100 <= LEAK_ALLOWANCE, (
        f"still alive after 1,000 answers: {after_1000} allocations ({bytes_1000:,} B); "
        f"after 100: {after_100} ({bytes_100:,} B); top lines of what stayed:\n" + format_sites(top)
    )


def test_allocations_per_token_on_a_fixed_schedule_catch_one_more(tmp_path: Path) -> None:
    # Over HTTP the tokens per read move the per-token figure; here every token is
    # handed over alone and the loop turns are scripted, so the count is exact and a
    # single extra allocation per token shows.
    measure("fanout", "-", "--folder", str(tmp_path), "--replies", "300", "1300", "--surfaces", "1")
    short = count_allocations(tmp_path / "fanout-1-300.bin", keep=not_the_harness)
    long = count_allocations(tmp_path / "fanout-1-1300.bin", keep=not_the_harness)
    per_token = (long.allocations - short.allocations) / 1000
    assert per_token <= PER_TOKEN_SCRIPTED, (
        f"{per_token:.3f} allocations per token through the actors on a fixed schedule "
        f"(budget {PER_TOKEN_SCRIPTED}); {where(long)}"
    )

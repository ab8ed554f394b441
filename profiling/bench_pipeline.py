"""The conversation pipeline benchmark: a long reply from a fake server to 1 and 100 surfaces.

The whole session (``Assistant.start``: a real ``OllamaBackend`` -> StreamManager
-> Conductor -> SurfaceRegistry -> surfaces) reads a reply from the fake Ollama
server, which runs in its own process so it does not share our core's event
loop. Surfaces are minimal behaviours that count what they take. The avatar is
disabled so only the pipeline is measured. Side by side, in the same run, the
official ``ollama`` client (``AsyncClient.chat(stream=True)``, no actors) reads
the same reply. Figures:

* tokens/s from sending the question to the last surface taking ``StreamEnd``
  (official client: to its final chunk), medians of interleaved rounds;
* allocations per token: each measurement in its own process under
  ``memray.Tracker`` (records counted as ``profiling.profile`` does), the
  marginal cost between a short and a long reply, so set-up is left out;
* latency from a token leaving the server to a surface taking it, at 200
  tokens/s: a small stamping server (same NDJSON as Ollama's ``/api/chat``)
  writes each token's ``time.monotonic_ns()`` as its text at the moment it
  sends it; the surface subtracts that from its own ``monotonic_ns`` (one
  clock for every process on the machine).

``python -m profiling.bench_pipeline`` prints the rows with the report's table.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import ollama
import orjson

from profiling import NOISE_NOTE, goal, median, median_ratio, row
from profiling.pipeline import (
    MODEL,
    QUESTION,
    ROOT,
    Pipeline,
    StampSurface,
    fake_ollama,
    official_answer,
    reply_chars,
    stamping_server,
)

MANY = 100
LATENCY_RATE = 200.0
#: the paced regime: one token per line, one line per network read
PACED_RATE = 1000.0


# -- measurements ------------------------------------------------------------------------


async def _throughput(url: str, tokens: int, rounds: int) -> dict[str, list[float]]:
    expected = reply_chars(tokens)
    one = await Pipeline.open(url, 1)
    many = await Pipeline.open(url, MANY)
    client = ollama.AsyncClient(host=url)

    async def official() -> float:
        started = time.perf_counter()
        chars = await official_answer(client)
        elapsed = time.perf_counter() - started
        assert chars == expected, (chars, expected)
        return elapsed

    async def ours(pipeline: Pipeline) -> float:
        elapsed = await pipeline.answer()
        for surface in pipeline.surfaces:
            assert surface.chars == expected, (surface.chars, expected)
            surface.chars = 0
        return elapsed

    sides: dict[str, Callable[[], Any]] = {
        "official": official,
        "one": lambda: ours(one),
        "many": lambda: ours(many),
    }
    results: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for side in sides.values():  # warm up: connections, the server's reply cache
            await side()
        names = list(sides)
        for index in range(rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                results[name].append(tokens / await sides[name]())
    finally:
        await client.close()  # type: ignore[no-untyped-call]
        await one.close()
        await many.close()
    return results


def _percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e6


async def _stamped_pipeline(url: str, surfaces: int, tokens: int) -> list[int]:
    pipeline = await Pipeline.open(url, surfaces, stamped=True)
    samples: list[int] = []
    try:
        await pipeline.answer()
        for surface in pipeline.surfaces:
            assert isinstance(surface, StampSurface)
            assert len(surface.latencies_ns) == tokens, len(surface.latencies_ns)
            samples += surface.latencies_ns
    finally:
        await pipeline.close()
    return samples


async def _stamped_official(url: str) -> list[int]:
    client = ollama.AsyncClient(host=url)
    samples: list[int] = []
    try:
        messages = [{"role": "user", "content": QUESTION}]
        async for part in await client.chat(model=MODEL, messages=messages, stream=True):
            now = time.monotonic_ns()
            samples += [now - int(stamp) for stamp in (part.message.content or "").split()]
    finally:
        await client.close()  # type: ignore[no-untyped-call]
    return samples


async def _latency(url: str, tokens: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Per round, p50 and p99 (ms) of stamp to receive: 1 and 100 surfaces, official client."""
    sides: dict[str, Callable[[], Awaitable[list[int]]]] = {
        "one": lambda: _stamped_pipeline(url, 1, tokens),
        "many": lambda: _stamped_pipeline(url, MANY, tokens),
        "official": lambda: _stamped_official(url),
    }
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    names = list(sides)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            samples = await sides[name]()
            found[name].append((_percentile(samples, 0.5), _percentile(samples, 0.99)))
    return found


async def _configure(url: str, **changes: Any) -> None:
    body = orjson.dumps(changes)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/_fake/config", data=body) as response,
    ):
        response.raise_for_status()


async def _allocations_child(
    side: str,
    url: str,
    surfaces: int,
    replies: list[int],
    folder: Path,
    rate: float = 0.0,
    lockstep: bool = False,
) -> None:
    """Warm up, then one answer per reply length under memray: ``folder/<i>.bin``.

    ``lockstep`` (ours only): the fake server writes each line once every surface
    took the one before, so every read holds one line whatever the machine's load.
    """
    from profiling.profile import tracker

    if side == "official":
        client = ollama.AsyncClient(host=url)
        try:
            await official_answer(client)
            for index, tokens in enumerate(replies):
                await _configure(url, tokens=tokens, rate=rate)
                with tracker(folder / f"{index}.bin"):
                    await official_answer(client)
        finally:
            await client.close()  # type: ignore[no-untyped-call]
        return
    pipeline = await Pipeline.open(url, surfaces, lockstep=lockstep, counting=False)
    try:
        await pipeline.answer()
        for index, tokens in enumerate(replies):
            await _configure(url, tokens=tokens, rate=rate, lockstep=lockstep)
            with tracker(folder / f"{index}.bin"):
                await pipeline.answer()
    finally:
        await pipeline.close()


def allocations(
    url: str,
    side: str,
    surfaces: int,
    replies: list[int],
    rate: float = 0.0,
    lockstep: bool = False,
) -> list[int]:
    """Allocations of one answer per reply length (tokens), measured in a fresh process."""
    from profiling.profile import count_allocations

    with tempfile.TemporaryDirectory() as folder:
        command = ["profiling.bench_pipeline", "allocations", side, url, "--folder", folder]
        command += ["--surfaces", str(surfaces), "--rate", str(rate), *map(str, replies)]
        command += ["--lockstep"] if lockstep else []
        subprocess.run([sys.executable, "-m", *command], cwd=ROOT, check=True)
        return [
            count_allocations(Path(folder) / f"{index}.bin").allocations
            for index in range(len(replies))
        ]


def allocations_per_token(
    url: str,
    side: str,
    surfaces: int,
    short: int,
    long: int,
    repeats: int,
    rate: float = 0.0,
    lockstep: bool = False,
) -> float:
    """The marginal allocations of one more token: (long - short reply) / extra tokens.

    The median over ``repeats`` pairs: the last read of a reply (its size
    depends on timing) is decoded line by line, which moves a single figure.
    """
    counts = allocations(url, side, surfaces, [short, long] * repeats, rate, lockstep)
    extra = [max(b - a, 0) / (long - short) for a, b in zip(counts[::2], counts[1::2], strict=True)]
    return median(extra)


# -- the rows ---------------------------------------------------------------------------


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Throughput, allocations and latency rows, ours beside the official client."""
    tokens, rounds = (20_000, 3) if quick else (100_000, 5)
    short, long, repeats = (2_000, 10_000, 1) if quick else (5_000, 40_000, 3)
    latency_tokens, latency_rounds = (200, 1) if quick else (600, 3)
    paced_short, paced_long = (200, 1000) if quick else (500, 2500)
    with fake_ollama(tokens) as server:
        speed = asyncio.run(_throughput(server.url, tokens, rounds))
        allocs = {
            name: allocations_per_token(server.url, side, surfaces, short, long, repeats)
            for name, side, surfaces in (
                ("official", "official", 0),
                ("one", "ours", 1),
                ("many", "ours", MANY),
            )
        }
        paced = {
            name: allocations_per_token(
                server.url, side, surfaces, paced_short, paced_long, 1, PACED_RATE, side == "ours"
            )
            for name, side, surfaces in (
                ("official", "official", 0),
                ("one", "ours", 1),
                ("many", "ours", MANY),
            )
        }
    with stamping_server(latency_tokens, LATENCY_RATE) as server:
        latency = asyncio.run(_latency(server.url, latency_tokens, latency_rounds))
    speed_note = (
        f"a {tokens}-token reply from the fake server (another process) at full speed, "
        f"question to the last surface's StreamEnd, avatar off; medians of {rounds} "
        f"interleaved rounds. {NOISE_NOTE}"
    )
    alloc_note = (
        "memray in a fresh process per side (Python allocators traced; frees and "
        f"memray's own frame objects left out); the marginal cost between a {short}- and "
        f"a {long}-token reply, so set-up is not counted; median of {repeats}"
    )
    latency_note = (
        f"{latency_tokens} tokens at {LATENCY_RATE:g} tokens/s from a stamping server "
        "(another process): each token's text is its monotonic_ns at send; receive time "
        f"minus stamp over every token at every surface; medians of {latency_rounds} rounds"
    )
    one_vs_client = median_ratio(speed["one"], speed["official"])
    many_vs_client = median_ratio(speed["many"], speed["official"])
    alloc_ratio = allocs["one"] / allocs["official"] if allocs["official"] else None
    flat = allocs["many"] / allocs["one"] if allocs["one"] else None
    rows = [
        row(
            name="pipeline to 1 surface",
            unit="tokens/s",
            ours=median(speed["one"]),
            baseline="official ollama client",
            baseline_value=median(speed["official"]),
            ratio=one_vs_client,
            goal=goal("ratio", ">=", 1.0),
            aim="2x",
            better="higher",
            note=speed_note,
        ),
        row(
            name=f"pipeline to {MANY} surfaces",
            unit="tokens/s",
            ours=median(speed["many"]),
            baseline="official ollama client",
            baseline_value=median(speed["official"]),
            ratio=many_vs_client,
            target="-",
            met=None,
            better="higher",
            note=speed_note,
        ),
        row(
            name="pipeline allocations per token, 1 surface",
            unit="allocs/token",
            ours=allocs["one"],
            baseline="official ollama client per chunk",
            baseline_value=allocs["official"],
            ratio=alloc_ratio,
            target="(aim 0.33x)",
            met=None,
            better="lower",
            note=alloc_note,
        ),
        row(
            name=f"pipeline allocations per token, {MANY} surfaces",
            unit="allocs/token",
            ours=allocs["many"],
            baseline="1 surface, same run",
            baseline_value=allocs["one"],
            ratio=flat,
            goal=goal("ratio", "<=", 1.25),
            aim="1.1x: flat",
            better="lower",
            note=alloc_note,
        ),
    ]
    paced_note = (
        f"paced at {PACED_RATE:g} tokens/s by the fake server; ours in lockstep (the server "
        "writes each line once every surface took the one before, so each read holds one "
        "line and nothing is amortised over a read, whatever the machine's load); the "
        "official client at the bare pace (on a busy machine its reads may hold more than "
        "one line, which only flatters it); memray as above, the marginal cost between "
        f"a {paced_short}- and a {paced_long}-token reply, one pair per side"
    )
    paced_ratio = paced["one"] / paced["official"] if paced["official"] else None
    paced_flat = paced["many"] / paced["one"] if paced["one"] else None
    rows += [
        row(
            name=f"pipeline allocations per token, paced {PACED_RATE:g} tok/s, 1 surface",
            unit="allocs/token",
            ours=paced["one"],
            baseline="official ollama client per chunk",
            baseline_value=paced["official"],
            ratio=paced_ratio,
            goal=goal("ratio", "<=", 0.33),
            better="lower",
            note=paced_note,
        ),
        row(
            name=f"pipeline allocations per token, paced {PACED_RATE:g} tok/s, {MANY} surfaces",
            unit="allocs/token",
            ours=paced["many"],
            baseline="1 surface, same run",
            baseline_value=paced["one"],
            ratio=paced_flat,
            goal=goal("ratio", "<=", 1.1),
            better="lower",
            note=paced_note,
        ),
    ]
    official_p50 = median([p50 for p50, _ in latency["official"]])
    official_p99 = median([p99 for _, p99 in latency["official"]])
    for name, label in (("one", "1 surface"), ("many", f"{MANY} surfaces")):
        p50 = median([p50 for p50, _ in latency[name]])
        p99 = median([p99 for _, p99 in latency[name]])
        rows += [
            row(
                name=f"latency server to surface p50, {label}",
                unit="ms",
                ours=p50,
                baseline="official client, same stream",
                baseline_value=official_p50,
                ratio=None,
                target="-",
                met=None,
                better="lower",
                note=latency_note,
            ),
            row(
                name=f"latency server to surface p99, {label}",
                unit="ms",
                ours=p99,
                baseline="official client, same stream",
                baseline_value=official_p99,
                ratio=None,
                goal=goal("ours", "<", 2.0) if name == "one" else None,
                aim="0.5 ms" if name == "one" else "",
                better="lower",
                note=latency_note,
                tolerance=1.0,
            ),
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    """The report's table for this module (``allocations ...`` is the measuring child)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["allocations"]:
        parser = argparse.ArgumentParser(prog="python -m profiling.bench_pipeline allocations")
        parser.add_argument("side", choices=("ours", "official"))
        parser.add_argument("url")
        parser.add_argument("replies", type=int, nargs="+", help="reply lengths in tokens")
        parser.add_argument("--surfaces", type=int, default=1)
        parser.add_argument("--rate", type=float, default=0.0, help="tokens/s; 0: full speed")
        parser.add_argument("--folder", type=Path, required=True)
        parser.add_argument("--lockstep", action="store_true", help="ours: one line per read")
        options = parser.parse_args(args[1:])
        asyncio.run(
            _allocations_child(
                options.side,
                options.url,
                options.surfaces,
                options.replies,
                options.folder,
                options.rate,
                options.lockstep,
            )
        )
        return 0
    from profiling.report import main as report_main

    return report_main(["--only", "pipeline", *args])


if __name__ == "__main__":
    sys.exit(main())

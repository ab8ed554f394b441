"""The NDJSON read benchmark: one long reply from the fake Ollama server, read three ways.

The fake server runs in its own process (so it has the other core) and writes
an N-token reply as fast as it can (pre-built lines, 64 KiB writes). In one
run, in rounds whose order rotates so machine noise hits every side alike, the
reply is read by:

* the official ``ollama.AsyncClient.chat(stream=True)`` loop (the floor);
* a bare aiohttp + orjson reader: split each read on ``b"\\n"``, decode each
  line, take its content (the most a reader can hope for);
* ``OllamaBackend.stream`` with a no-op ``on_text`` (ours).

Each figure is tokens per second of wall time from sending the request to the
final line; rows report medians over rounds and the median of per-round
ratios.

A second measure is the cost of a line that never seems to end (a broken or
hostile server): one line of N bytes and one of 4N bytes, fed to
``NdjsonSplitter.split`` in 4 KiB reads, CPU time each, in interleaved rounds
beside the splitter it replaced (which joined the held part to every read and
split it all again: quadratic). The row is the CPU ratio of the 4N line to the
N line: linear splitting gives about 4. ``python -m profiling.bench_ndjson``
prints the table.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import ollama
import orjson

from aiway.actors.backends.ndjson import NdjsonSplitter
from aiway.actors.backends.ollama import OllamaBackend
from aiway.actors.protocol.stream import ChatTurn
from profiling import goal, median, median_ratio, row
from tests.fakes import FakeOllamaProcess

MODEL = "smollm2:135m"
PROMPT = (ChatTurn("user", "Count for me."),)
QUICK_TOKENS = 20_000
QUICK_REPEATS = 3

Reader = Callable[[str, int], Awaitable[None]]

LONG_LINE_BYTES = 1024 * 1024
QUICK_LONG_LINE_BYTES = LONG_LINE_BYTES  # smaller lines measure noise, not growth
LONG_LINE_READ = 4096
#: the endless-line rows time well under a millisecond of CPU: in full runs of the table
#: the same code measured 0.39-0.55 ms and growth 2.4-3.1x (1.7x once), so --check
#: allows them to double before it calls it a regression (their targets still bind)
NOISY = 1.0


class RejoiningSplitter:
    """The splitter before the fix: the held part is joined to every read and split again."""

    def __init__(self, max_line_bytes: int) -> None:
        self._max_line_bytes = max_line_bytes
        self._pending = b""

    def split(self, data: bytes) -> list[bytes]:
        if self._pending:
            data = self._pending + data
        lines = data.split(b"\n")
        self._pending = lines.pop()
        if len(self._pending) > self._max_line_bytes:
            raise ValueError("line too long")
        return lines


def _long_line_cpu(make: Callable[[int], Any], size: int) -> float:
    """CPU seconds to split one ``size``-byte line arriving in 4 KiB reads."""
    splitter = make(size + 1)
    read = b"x" * LONG_LINE_READ
    started = time.process_time()
    for _ in range(size // LONG_LINE_READ):
        splitter.split(read)
    lines = splitter.split(b"\n")
    spent = time.process_time() - started
    assert len(lines) == 1
    return spent


def long_line_rows(size: int, repeats: int) -> list[dict[str, Any]]:
    """CPU of a line of ``size`` and ``4 * size`` bytes, ours beside the rejoining splitter."""
    makers: dict[str, Callable[[int], Any]] = {"ours": NdjsonSplitter, "old": RejoiningSplitter}
    cpu: dict[tuple[str, int], list[float]] = {
        (name, n): [] for name in makers for n in (size, 4 * size)
    }
    keys = list(cpu)
    for index in range(repeats):
        shift = index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            cpu[key].append(_long_line_cpu(makers[key[0]], key[1]))
    growth = {
        name: [
            long / short
            for short, long in zip(cpu[(name, size)], cpu[(name, 4 * size)], strict=True)
        ]
        for name in makers
    }
    note = (
        f"one line of {size // 1024} KiB and of {4 * size // 1024} KiB in 4 KiB reads, "
        f"CPU time of NdjsonSplitter.split; medians of {repeats} interleaved rounds; "
        "the baseline joins the held part to every read and splits it again"
    )
    ours_growth = median(growth["ours"])
    rows = [
        row(
            name="NDJSON endless line: CPU growth for 4x the length",
            unit="x",
            ours=ours_growth,
            baseline="the rejoining splitter it replaced",
            baseline_value=median(growth["old"]),
            ratio=median_ratio(growth["ours"], growth["old"]),
            goal=goal("ours", "<=", 5.0),
            aim="linear, 4x",
            tolerance=NOISY,
            better="lower",
            note=note,
        ),
        row(
            name=f"NDJSON endless line: CPU for {4 * size // 1024} KiB",
            unit="ms",
            ours=median(cpu[("ours", 4 * size)]) * 1000,
            baseline="the rejoining splitter it replaced",
            baseline_value=median(cpu[("old", 4 * size)]) * 1000,
            ratio=median_ratio(cpu[("ours", 4 * size)], cpu[("old", 4 * size)]),
            goal=goal("ratio", "<", 1.0),
            tolerance=NOISY,
            better="lower",
            note=note,
        ),
    ]
    return rows


async def _no_op(text: str) -> None:
    return None


async def _measure(read: Reader, url: str, tokens: int) -> float:
    started = time.perf_counter()
    await read(url, tokens)
    return tokens / (time.perf_counter() - started)


async def _rounds(url: str, tokens: int, repeats: int) -> dict[str, list[float]]:
    client = ollama.AsyncClient(host=url)
    backend = OllamaBackend(url)
    session = aiohttp.ClientSession()
    messages = [{"role": turn.role, "content": turn.content} for turn in PROMPT]

    async def official(url: str, tokens: int) -> None:
        seen = 0
        async for part in await client.chat(model=MODEL, messages=messages, stream=True):
            seen += 1 if part.message.content else 0
        assert seen == tokens, seen

    async def bare(url: str, tokens: int) -> None:
        body = orjson.dumps({"model": MODEL, "messages": messages, "stream": True})
        seen = 0
        pending = b""
        loads = orjson.loads
        async with session.post(url + "/api/chat", data=body) as response:
            async for data in response.content.iter_any():
                lines = (pending + data).split(b"\n") if pending else data.split(b"\n")
                pending = lines.pop()
                texts = [loads(line)["message"]["content"] for line in lines if line]
                seen += sum(1 for text in texts if text)
        assert seen == tokens, seen

    async def ours(url: str, tokens: int) -> None:
        metadata = await backend.stream(MODEL, PROMPT, _no_op)
        assert metadata.tokens == tokens, metadata

    readers: dict[str, Reader] = {"official": official, "bare": bare, "ours": ours}
    results: dict[str, list[float]] = {name: [] for name in readers}
    try:
        for read in readers.values():  # warm up: the server builds the reply once
            await read(url, tokens)
        names = list(readers)
        for index in range(repeats):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                results[name].append(await _measure(readers[name], url, tokens))
    finally:
        await client.close()
        await backend.close()
        await session.close()
    return results


def run(tokens: int = 100_000, repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    """Read a ``tokens``-token reply ``repeats`` times each way; return the report rows."""
    if quick:
        tokens, repeats = min(tokens, QUICK_TOKENS), min(repeats, QUICK_REPEATS)
    with FakeOllamaProcess("--tokens", str(tokens), "--rate", "0") as server:
        results = asyncio.run(_rounds(server.url, tokens, repeats))
    ours = results["ours"]
    note = (
        f"a {tokens}-token reply from the fake server in another process, at full speed; "
        f"tokens/s from request to final line, medians of {repeats} interleaved rounds"
    )
    long_line = QUICK_LONG_LINE_BYTES if quick else LONG_LINE_BYTES
    official_ratio = median_ratio(ours, results["official"])
    bare_ratio = median_ratio(ours, results["bare"])
    return [
        row(
            name="Ollama stream read: OllamaBackend.stream",
            unit="tokens/s",
            ours=median(ours),
            baseline="official ollama client",
            baseline_value=median(results["official"]),
            ratio=official_ratio,
            goal=goal("ratio", ">=", 1.0),
            aim="2x",
            better="higher",
            note=note,
        ),
        row(
            name="Ollama stream read: OllamaBackend.stream",
            unit="tokens/s",
            ours=median(ours),
            baseline="bare aiohttp + orjson",
            baseline_value=median(results["bare"]),
            ratio=bare_ratio,
            goal=goal("ratio", ">=", 0.8),
            aim="0.95x",
            better="higher",
            note=note,
        ),
        *long_line_rows(long_line, repeats),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print this module's rows with the report's table."""
    from profiling.report import main as report_main

    args = sys.argv[1:] if argv is None else argv
    return report_main(["--only", "ndjson", *args])


if __name__ == "__main__":
    sys.exit(main())

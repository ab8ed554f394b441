"""The measuring side of the allocation budgets: run in its own process, one tracker at a time.

``python -m tests.unit.budgets.measure tokens URL --folder DIR --surfaces 1 10 --replies 1000``
opens one session per number of surfaces against the fake Ollama server at
``URL``, answers once to warm up, then traces one answer per reply length:
``DIR/tokens-<surfaces>-<tokens>.bin``, and beside it ``.json`` with the
messages the surfaces took during that answer (from their mailbox counters;
merged tokens make one message). The server's reply (length, pace) is set by
this process through ``POST /_fake/config``; ``--rate R --lockstep`` paces it
and has the server write each line only once every surface took the one
before, so each network read holds one line.

``python -m tests.unit.budgets.measure fanout - --folder DIR --surfaces 1 10 --replies 1000``
does the same with a scripted backend in this process instead of the HTTP
server: it hands over one token, then lets the loop turn until the token has
reached every surface, so each token is a message of its own at every surface
and the schedule, hence every count, is the same from run to run. Only the
surfaces differ between two runs: the difference is what they cost.

``python -m tests.unit.budgets.measure leak URL --folder DIR --cycles 100 1000``
opens one session, runs warm-up cycles (question, answer, ``StreamEnd``), then
traces each number of cycles in turn: ``DIR/leak-<cycles>.bin``. Only what is
still alive at the end of a trace matters there, so it takes no native stacks.

The parent counts the captures (``profiling.profile``): memray allows one
tracker per process, and the test process may hold one (``pytest --memray``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import sys
from collections.abc import Generator, Sequence
from pathlib import Path

import aiohttp
import orjson

from aiway.actors.backends.base import OnText
from aiway.actors.protocol import ChatTurn, ResponseMetadata
from profiling.pipeline import MODEL, Pipeline, pipeline_settings
from profiling.profile import tracker

WARM_UP_CYCLES = 50
#: bounded history, so that a long run reaches its steady state during the warm-up
HISTORY = 20


async def configure(url: str, **changes: object) -> None:
    """Reconfigure the fake Ollama server (``POST /_fake/config``)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/_fake/config", data=orjson.dumps(changes)) as response,
    ):
        response.raise_for_status()


#: loop turns after each token: the Conductor, the registry, the surfaces run in turn
TURNS_PER_TOKEN = 4


class _Turn:
    """Awaiting it yields the loop one turn (the task reschedules itself)."""

    __slots__ = ("_yielded",)

    def __init__(self) -> None:
        self._yielded = False

    def __await__(self) -> Generator[None, None, None]:
        self._yielded = False
        # An iterator that yields once stands in for a generator: making one allocates.
        return self  # type: ignore[return-value]

    def __iter__(self) -> _Turn:
        return self

    def __next__(self) -> None:
        if self._yielded:
            raise StopIteration
        self._yielded = True


class ScriptedBackend:
    """A backend that hands over ``tokens`` tokens, one per few loop turns; no I/O."""

    def __init__(self) -> None:
        self.tokens = 0
        self._turn = _Turn()

    @property
    def name(self) -> str:
        return "scripted"

    async def stream(
        self, model: str, messages: tuple[ChatTurn, ...], on_text: OnText
    ) -> ResponseMetadata:
        turn = self._turn
        for piece in itertools.repeat(" tok", self.tokens):  # range() would allocate ints
            await on_text(piece)
            for _ in itertools.repeat(None, TURNS_PER_TOKEN):
                await turn
        return ResponseMetadata(model=model, backend=self.name, tokens=self.tokens)

    async def list_models(self) -> list[str]:
        return [MODEL]

    async def close(self) -> None:
        return None


async def fanout(folder: Path, surfaces: Sequence[int], replies: Sequence[int]) -> None:
    for count in surfaces:
        backend = ScriptedBackend()
        pipeline = await Pipeline.open("-", count, backend=backend)
        try:
            backend.tokens = min(replies)
            await pipeline.answer()
            for reply in replies:
                backend.tokens = reply
                before = taken(pipeline)
                with tracker(folder / f"fanout-{count}-{reply}.bin"):
                    await pipeline.answer()
                delivered = {"delivered": taken(pipeline) - before}
                (folder / f"fanout-{count}-{reply}.json").write_text(json.dumps(delivered))
        finally:
            await pipeline.close()


def taken(pipeline: Pipeline) -> int:
    """Messages every surface actor has handled so far."""
    return sum(
        stats.processed
        for stats in pipeline.assistant.system.metrics()
        if stats.name.startswith("surface:")
    )


async def tokens(
    url: str,
    folder: Path,
    surfaces: Sequence[int],
    replies: Sequence[int],
    rate: float,
    line_per_write: bool = False,
    lockstep: bool = False,
) -> None:
    shape = {"rate": rate, "line_per_write": line_per_write, "lockstep": lockstep}
    for count in surfaces:
        pipeline = await Pipeline.open(url, count, lockstep=lockstep)
        try:
            await configure(url, tokens=min(replies), **shape)
            await pipeline.answer()
            for reply in replies:
                await configure(url, tokens=reply, **shape)
                before = taken(pipeline)
                with tracker(folder / f"tokens-{count}-{reply}.bin"):
                    await pipeline.answer()
                delivered = {"delivered": taken(pipeline) - before}
                (folder / f"tokens-{count}-{reply}.json").write_text(json.dumps(delivered))
        finally:
            await pipeline.close()


async def leak(url: str, folder: Path, cycles: Sequence[int]) -> None:
    settings = pipeline_settings(history_limit=HISTORY, context_messages=4)
    pipeline = await Pipeline.open(url, 1, settings=settings)
    try:
        for _ in range(WARM_UP_CYCLES):
            await pipeline.answer(clear=False)
        for count in cycles:
            gc.collect()
            with tracker(folder / f"leak-{count}.bin", native=False):
                for _ in range(count):
                    await pipeline.answer(clear=False)
                gc.collect()
    finally:
        await pipeline.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.unit.budgets.measure")
    parser.add_argument("what", choices=("tokens", "fanout", "leak"))
    parser.add_argument("url")
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--surfaces", type=int, nargs="+", default=[1])
    parser.add_argument("--replies", type=int, nargs="+", default=[1000])
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--line-per-write", action="store_true")
    parser.add_argument("--lockstep", action="store_true", help="each line once the last is taken")
    parser.add_argument("--cycles", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args(argv)
    if args.what == "tokens":
        asyncio.run(
            tokens(
                args.url,
                args.folder,
                args.surfaces,
                args.replies,
                args.rate,
                args.line_per_write,
                args.lockstep,
            )
        )
    elif args.what == "fanout":
        asyncio.run(fanout(args.folder, args.surfaces, args.replies))
    else:
        asyncio.run(leak(args.url, args.folder, args.cycles))
    return 0


if __name__ == "__main__":
    sys.exit(main())

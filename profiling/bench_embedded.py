"""Benchmark: tokens/s of the embedded backend against a bare llama-cpp-python loop.

Both sides load the same GGUF model with the same context size and threads and
answer the same prompt greedily (temperature 0), so they generate the same
tokens; each side has its own ``Llama`` and is warmed once. The baseline is the
plainest way to stream an answer: ``create_chat_completion(stream=True)``
iterated in the calling thread. Ours is ``EmbeddedBackend.stream`` with an
``on_text`` that only keeps the text (so the two answers can be checked equal):
generation in the worker thread, the hand-over to the event loop, and the
metadata. The baseline keeps its text the same way. The runs alternate
(baseline first on even repeats, ours first on odd ones); the figure is tokens
over the wall time of the whole call; the row gives the medians and the median
of per-round ratios.

A second pair of rows is the first token of a fresh process on the packaged
persona: a new process per round (``python -m profiling.bench_embedded
--first-token CACHE``), the model loaded, then the time from ``stream`` to the
first text. Cold evaluates the persona (no cache directory, as before the
persona state existed); warm loads the persona state that a priming run saved
in a cache directory. Rounds alternate cold and warm; both answers must be the
same text (greedy), and the rows give the medians.

``python -m profiling.bench_embedded`` prints the table (through the report);
``run()`` returns the rows.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from aiway.actors.backends.embedded import (
    DEFAULT_N_CTX,
    DEFAULT_THREADS,
    REPEAT_PENALTY,
    EmbeddedBackend,
    locate_model,
)
from aiway.actors.protocol.conductor import ResponseMetadata
from aiway.actors.protocol.stream import ChatTurn
from profiling import goal, median, median_ratio, row

TARGET_RATIO = 0.95
QUICK_REPEATS = 3
QUICK_TOKENS = 64
PROMPT = (
    ChatTurn("system", "You are a helpful assistant."),
    ChatTurn("user", "Write a long story about an axolotl who lives in a lake and learns to swim."),
)


def _bare_answer(llama: Any, max_tokens: int) -> tuple[str, float]:
    """The baseline: one streamed answer, iterated in this thread. Text and seconds."""
    messages = [{"role": turn.role, "content": turn.content} for turn in PROMPT]
    pieces: list[str] = []
    started = time.perf_counter()
    chunks = cast(
        Iterator[dict[str, Any]],
        llama.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=max_tokens,
            temperature=0.0,
            repeat_penalty=REPEAT_PENALTY,
        ),
    )
    for chunk in chunks:
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            pieces.append(text)
    return "".join(pieces), time.perf_counter() - started


async def _our_answer(backend: EmbeddedBackend) -> tuple[str, float, ResponseMetadata]:
    """Ours: one answer through ``EmbeddedBackend.stream``. Text, seconds, metadata."""
    pieces: list[str] = []

    async def keep(text: str) -> None:
        pieces.append(text)

    started = time.perf_counter()
    metadata = await backend.stream("bench", PROMPT, keep)
    return "".join(pieces), time.perf_counter() - started, metadata


def run(repeats: int = 5, max_tokens: int = 128, quick: bool = False) -> list[dict[str, Any]]:
    """Measure both sides ``repeats`` times, alternating; one report row.

    ``quick`` caps the run at 3 repeats of 64 tokens. Raises RuntimeError if
    the two sides did not generate the same text (their token counts would
    differ and the ratio would mean nothing).
    """
    from llama_cpp import Llama

    if quick:
        repeats, max_tokens = min(repeats, QUICK_REPEATS), min(max_tokens, QUICK_TOKENS)
    if repeats < 1:
        raise ValueError(f"bench_embedded: repeats must be at least 1, not {repeats}")
    path: Path = locate_model()
    bare = Llama(
        model_path=str(path),
        n_ctx=DEFAULT_N_CTX,
        n_threads=DEFAULT_THREADS,
        n_threads_batch=DEFAULT_THREADS,
        verbose=False,
    )
    ours = EmbeddedBackend(
        path, threads=DEFAULT_THREADS, n_ctx=DEFAULT_N_CTX, max_tokens=max_tokens, temperature=0.0
    )
    bare_rates: list[float] = []
    our_rates: list[float] = []
    tokens = 0
    try:
        # Warm both: the first decode after a load is several times slower.
        _bare_answer(bare, max_tokens)
        asyncio.run(_our_answer(ours))
        for repeat in range(repeats):
            if repeat % 2 == 0:
                bare_text, bare_seconds = _bare_answer(bare, max_tokens)
                our_text, our_seconds, metadata = asyncio.run(_our_answer(ours))
            else:
                our_text, our_seconds, metadata = asyncio.run(_our_answer(ours))
                bare_text, bare_seconds = _bare_answer(bare, max_tokens)
            if bare_text != our_text:
                raise RuntimeError(
                    "bench_embedded: the two sides generated different text; "
                    "token counts differ, so tokens/s cannot be compared"
                )
            # Same text, same tokens: the backend's exact count serves both.
            tokens = metadata.tokens
            bare_rates.append(tokens / bare_seconds)
            our_rates.append(tokens / our_seconds)
    finally:
        asyncio.run(ours.close())
        bare.close()
    ratio = median_ratio(our_rates, bare_rates)
    return [
        row(
            name=f"embedded tokens/s: EmbeddedBackend.stream, {DEFAULT_THREADS} thread",
            unit="tokens/s",
            ours=median(our_rates),
            baseline="bare llama-cpp-python stream loop",
            baseline_value=median(bare_rates),
            ratio=ratio,
            goal=goal("ratio", ">=", TARGET_RATIO),
            aim="0.99x",
            better="higher",
            note=(
                f"{tokens} tokens of one greedy answer, same model, context and threads; "
                f"tokens over the wall time of the whole call, medians of {repeats} "
                "alternating rounds after one warm-up each"
            ),
        ),
        *first_token_rows(repeats),
    ]


async def _first_token(cache: Path | None) -> dict[str, Any]:
    """In this process: load, then one persona answer; the seconds to its first text."""
    from aiway.config.persona import packaged_persona

    backend = EmbeddedBackend(max_tokens=16, temperature=0.0, cache_dir=cache)
    await backend.load()
    pieces: list[str] = []
    first: float | None = None
    started = time.perf_counter()

    async def collect(text: str) -> None:
        nonlocal first
        if first is None:
            first = time.perf_counter() - started
        pieces.append(text)

    turns = (ChatTurn("system", packaged_persona()), ChatTurn("user", "Who are you?"))
    try:
        await backend.stream("embedded", turns, collect)
    finally:
        await backend.close()
    return {"first": first, "text": "".join(pieces), "loads": backend.persona_state.loads}


def _first_token_in_a_new_process(cache: Path | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "profiling.bench_embedded", "--first-token", str(cache or "-")]
    result = subprocess.run(command, capture_output=True, timeout=300, check=True)
    document: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return document


def first_token_rows(repeats: int) -> list[dict[str, Any]]:
    """First token of a fresh process, persona evaluated (cold) against loaded (warm)."""
    cold: list[float] = []
    warm: list[float] = []
    with tempfile.TemporaryDirectory(prefix="aiway-bench-state-") as directory:
        cache = Path(directory)
        primed = _first_token_in_a_new_process(cache)  # saves the state
        for index in range(repeats):
            order = (None, cache) if index % 2 == 0 else (cache, None)
            for where in order:
                answer = _first_token_in_a_new_process(where)
                if answer["text"] != primed["text"]:
                    raise RuntimeError("bench_embedded: warm and cold answers differ")
                if where is None:
                    cold.append(answer["first"])
                else:
                    if answer["loads"] != 1:
                        raise RuntimeError("bench_embedded: the warm run did not load the state")
                    warm.append(answer["first"])
    ratio = median_ratio(warm, cold)
    return [
        row(
            name="embedded first token, new process: persona state loaded",
            unit="s",
            ours=median(warm),
            baseline="persona evaluated (no state)",
            baseline_value=median(cold),
            ratio=ratio,
            goal=goal("ratio", "<", 0.2),
            aim="< 0.3 s",
            better="lower",
            note=(
                "a new process per run on the packaged persona, model loaded, stream to first "
                f"text; greedy, same answer both ways; medians of {repeats} alternating rounds"
            ),
        )
    ]


def main(argv: list[str] | None = None) -> int:
    """Print this benchmark's table through the report (its flags apply)."""
    from profiling.report import main as report_main

    args = sys.argv[1:] if argv is None else argv
    return report_main(["--only", "embedded", *args])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--first-token"]:
        where = sys.argv[2]
        print(json.dumps(asyncio.run(_first_token(None if where == "-" else Path(where)))))
        sys.exit(0)
    sys.exit(main())

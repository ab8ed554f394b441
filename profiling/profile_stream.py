"""Profile scenario ``stream``: one long reply through the whole pipeline to one surface.

The fake Ollama server (its own process, so not traced) writes a generated
reply at full speed; the session is the one ``aiway`` assembles
(``Assistant.start`` with a real ``OllamaBackend``; avatar off) with one
counting surface. One answer warms up (connection, caches); the next one is
traced, from the question to ``StreamEnd`` at the surface.

``python -m profiling.profile_stream [--quick] [--flamegraph]``
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from profiling.pipeline import Pipeline, fake_ollama, reply_chars
from profiling.profile import Tracking, scenario_main

UNIT = "token"
TOKENS = 100_000
QUICK_TOKENS = 20_000


async def _answer(url: str, tracking: Tracking, tokens: int) -> None:
    pipeline = await Pipeline.open(url, 1)
    try:
        await pipeline.answer()
        with tracking():
            await pipeline.answer()
        (surface,) = pipeline.surfaces
        assert surface.chars == 2 * reply_chars(tokens), "the surface missed text"
    finally:
        await pipeline.close()


def play(tracking: Tracking, quick: bool, variant: str | None) -> int:
    """Trace one answer of ``TOKENS`` tokens; returns the tokens streamed."""
    tokens = QUICK_TOKENS if quick else TOKENS
    with fake_ollama(tokens) as server:
        asyncio.run(_answer(server.url, tracking, tokens))
    return tokens


def main(argv: Sequence[str] | None = None) -> int:
    return scenario_main("stream", argv)


if __name__ == "__main__":
    sys.exit(main())

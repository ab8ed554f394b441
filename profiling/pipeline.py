"""The pipeline harness: one whole session with counting surfaces, and the servers it reads.

Shared by the pipeline benchmark, the ``stream`` profile and the allocation
budgets. ``Pipeline.open`` starts a session the way ``aiway`` does
(``Assistant.start`` with a real ``OllamaBackend``), avatar off, and attaches
surfaces that only count what they take. ``fake_ollama`` runs the fake Ollama
server in its own process; ``stamping_server`` runs a small server speaking
the same NDJSON whose every token's text is its send time
(``time.monotonic_ns()``, one clock for every process on the machine), for
latency. Both print their port and are stopped by pid with SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import ollama
import orjson

from aiway.actors.app import Assistant
from aiway.actors.backends.base import Backend
from aiway.actors.backends.ollama import OllamaBackend
from aiway.actors.protocol import (
    Capability,
    Published,
    StateSnapshot,
    StreamEnd,
    Token,
    UserCommand,
    UserMessage,
)
from aiway.actors.runtime import Behaviour, Context, handles
from aiway.config import Settings, load_settings

MODEL = "smollm2:135m"
QUESTION = "Count for me."
ROOT = Path(__file__).resolve().parents[1]
_CAPABILITIES = frozenset({Capability.STREAMING})
#: the answer cap for measuring: far above any reply streamed here (100,000 tokens are
#: 888,895 characters), so a benchmark measures the pipeline, never the cap's cut
MAX_ANSWER_BYTES = 1 << 30


def reply_chars(tokens: int) -> int:
    """Characters of the fake server's generated reply (`` tok1`` ... `` tokN``)."""
    return sum(len(f" tok{index}") for index in range(1, tokens + 1))


def pipeline_settings(**conversation: Any) -> Settings:
    """Defaults (no config file or environment read), avatar off: only the pipeline runs.

    ``conversation.max_answer_bytes`` is raised to ``MAX_ANSWER_BYTES`` unless
    given: the default 256 KiB would cut the long replies the benchmarks stream.
    """
    conversation.setdefault("max_answer_bytes", MAX_ANSWER_BYTES)
    base = load_settings(env={}, config_path=None).settings
    return attrs.evolve(
        base,
        avatar=attrs.evolve(base.avatar, enabled=False),
        conversation=attrs.evolve(base.conversation, **conversation),
    )


class Acker:
    """Tells a lockstep fake Ollama server that a token reached every surface.

    Each surface calls it once per ``Token`` it takes; when all of them have,
    one empty datagram goes to the server's ``ack_port`` (a connected UDP
    socket: a send allocates nothing), and the server writes the next line.
    """

    def __init__(self, url: str, surfaces: int) -> None:
        with urllib.request.urlopen(url + "/_fake/stats", timeout=5) as response:
            port = int(orjson.loads(response.read())["ack_port"])
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.connect((urllib.parse.urlsplit(url).hostname or "127.0.0.1", port))
        self._socket.setblocking(False)
        self._send = self._socket.send
        self._count = surfaces
        self._left = surfaces

    def __call__(self) -> None:
        self._left -= 1
        if not self._left:
            self._left = self._count
            self._send(b"")

    def close(self) -> None:
        self._socket.close()


class CountingSurface(Behaviour):
    """A surface that counts what it takes and says when an answer ended."""

    def __init__(self, ended: Callable[[], None], registered: Callable[[], None]) -> None:
        self.ended = ended
        self.registered = registered
        self.chars = 0
        #: count the characters taken (an int past 256 is an allocation per token: an
        #: allocation measurement turns it off, so it counts only the pipeline)
        self.counting = True
        #: called for every Token taken (lockstep), when set
        self.took: Callable[[], None] | None = None

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.registered()

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        message = msg.message
        kind = type(message)
        if kind is Token:
            if self.counting:
                self.chars += len(message.text)  # type: ignore[attr-defined]
            if self.took is not None:
                self.took()
        elif kind is StreamEnd:
            self.ended()


class StampSurface(CountingSurface):
    """A counting surface that also keeps, per token, its receive time minus its send stamp."""

    def __init__(self, ended: Callable[[], None], registered: Callable[[], None]) -> None:
        super().__init__(ended, registered)
        self.latencies_ns: list[int] = []

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        now = time.monotonic_ns()
        message = msg.message
        if type(message) is Token:
            # Merged tokens carry several stamps: each took until now.
            self.latencies_ns.extend(now - int(stamp) for stamp in message.text.split())
        super().on_published(ctx, msg)


class Countdown:
    """Sets ``event`` once ``count`` calls have come in; rearmed for the next answer."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.left = count
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.event.set()

    def rearm(self) -> None:
        self.left = self.count
        self.event.clear()


class Pipeline:
    """One whole session against ``url`` with ``surfaces`` counting surfaces, on this loop."""

    def __init__(
        self,
        assistant: Assistant,
        surfaces: list[CountingSurface],
        ends: Countdown,
        acker: Acker | None = None,
    ) -> None:
        self.assistant = assistant
        self.surfaces = surfaces
        self._ends = ends
        self._acker = acker

    @classmethod
    async def open(
        cls,
        url: str,
        surfaces: int,
        *,
        stamped: bool = False,
        settings: Settings | None = None,
        backend: Backend | None = None,
        lockstep: bool = False,
        counting: bool = True,
    ) -> Pipeline:
        """Start the session and attach the surfaces; returns once every one is registered.

        The backend is an ``OllamaBackend`` for ``url`` unless one is given.
        ``lockstep`` acknowledges every token to the fake server once every
        surface took it (``Acker``; the server's ``lockstep`` config waits for it).
        ``counting=False`` leaves the surfaces' character count at 0 (it allocates per
        token once past 256: an allocation measurement would count the harness).
        """
        settings = settings or pipeline_settings()
        if backend is None:
            backend = OllamaBackend(url, max_line_bytes=settings.conversation.max_line_bytes)
        assistant = Assistant.start(settings, backend, model=MODEL)
        ends, joined = Countdown(surfaces), Countdown(surfaces)
        kind = StampSurface if stamped else CountingSurface
        made = [kind(ends, joined) for _ in range(surfaces)]
        for index, surface in enumerate(made):
            assistant.attach(
                f"bench{index}",
                lambda surface=surface: surface,  # type: ignore[misc]
                surface_type="bench",
                capabilities=_CAPABILITIES,
            )
        await asyncio.wait_for(joined.event.wait(), 10)
        acker = Acker(url, surfaces) if lockstep else None
        for surface in made:
            surface.took = acker
            surface.counting = counting
        return cls(assistant, made, ends, acker)

    async def answer(self, *, clear: bool = True, timeout: float = 120.0) -> float:
        """Ask once; seconds until every surface took ``StreamEnd``.

        ``clear`` forgets the conversation first, so each request is as short
        as the official client's (the Conductor sends history with a question).
        """
        self._ends.rearm()
        conductor = self.assistant.conductor
        if clear:
            conductor.tell(UserCommand("clear"))
        started = time.perf_counter()
        conductor.tell(UserMessage(QUESTION))
        await asyncio.wait_for(self._ends.event.wait(), timeout)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.assistant.stop()
        if self._acker is not None:
            self._acker.close()


async def official_answer(client: ollama.AsyncClient) -> int:
    """One answer through the official client; returns the characters of its text."""
    chars = 0
    messages = [{"role": "user", "content": QUESTION}]
    async for part in await client.chat(model=MODEL, messages=messages, stream=True):
        chars += len(part.message.content or "")
    return chars


# -- the fake servers --------------------------------------------------------------------


class ServerProcess:
    """A server started as ``python -m profiling.bench_pipeline ...`` or the fake Ollama.

    It prints its port; it is stopped by its pid with SIGTERM (killed if it lingers).
    """

    def __init__(self, *command: str) -> None:
        self._command = command
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", *self._command], cwd=ROOT, stdout=subprocess.PIPE
        )
        self._process = process
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(15)
        line = process.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.__exit__(None, None, None)
            raise RuntimeError(f"{' '.join(self._command)} did not start (printed {line!r})")
        self.port = int(line)
        return self

    def configure(self, **changes: Any) -> None:
        """Reconfigure a fake Ollama server (``POST /_fake/config``)."""
        request = urllib.request.Request(
            self.url + "/_fake/config", data=orjson.dumps(changes), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


def fake_ollama(tokens: int, rate: float = 0.0) -> ServerProcess:
    """The fake Ollama server with a generated ``tokens``-token reply."""
    return ServerProcess(
        "tests.fakes.ollama_server", "--port", "0", "--tokens", str(tokens), "--rate", str(rate)
    )


def stamping_server(tokens: int, rate: float) -> ServerProcess:
    """The stamping server: each token's text is its send time, ``rate`` tokens a second."""
    return ServerProcess(
        "profiling.pipeline", "stamp-server", "--tokens", str(tokens), "--rate", str(rate)
    )


async def _serve_stamps(tokens: int, rate: float) -> None:
    from aiohttp import web

    created = "2025-01-01T12:00:00.000000000Z"

    async def chat(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        model = body.get("model", MODEL)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for index in range(tokens):
            delay = started + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # The stamp is taken as the line is built and written: its send time.
            line = {
                "model": model,
                "created_at": created,
                "message": {"role": "assistant", "content": f" {time.monotonic_ns()}"},
                "done": False,
            }
            await response.write(orjson.dumps(line) + b"\n")
        final = {
            "model": model,
            "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done_reason": "stop",
            "done": True,
            "eval_count": tokens,
            "eval_duration": int(tokens / rate * 1e9),
        }
        await response.write(orjson.dumps(final) + b"\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/api/chat", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(runner.addresses[0][1], flush=True)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """``stamp-server --tokens N --rate R``: run the stamping server until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m profiling.pipeline")
    parser.add_argument("command", choices=("stamp-server",))
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    options = parser.parse_args(argv)
    asyncio.run(_serve_stamps(options.tokens, options.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())

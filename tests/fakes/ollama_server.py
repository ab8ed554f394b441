"""A fake Ollama server on aiohttp.web, for tests and benchmarks, on loopback only.

It speaks the parts of Ollama's HTTP API that aiway uses (``/api/chat``
streaming and not, ``/api/tags``, ``/api/ps``, ``/api/version``, ``/api/pull``
with progress lines, an error mode and a pace), with
Ollama's error bodies, and plays a reply *script*: token pieces written as
separate chunks, plus steps that misbehave on purpose (raw bytes, a line split
inside a UTF-8 character, a stall, an error line, a dropped connection, a huge
line). It counts what happened (requests with their bodies, streams started
and finished, clients that left mid-stream) and lets tests await those counts.

In process::

    async with FakeOllama(script=("Hel", "lo"), rate=50) as server:
        backend = OllamaBackend(server.url)
        server.configure(script=("a", Stall(None)))   # between tests

Given a server ``ssl_context`` it serves HTTPS instead (its ``url`` says
``https``), for tests of the client's TLS path.

As a process (later tests run real ``aiway`` processes against it)::

    python -m tests.fakes.ollama_server --port 0 --script '["Hi", {"stall": null}]'

prints its port on stdout and stops cleanly on SIGTERM; ``FakeOllamaProcess``
(``tests.fakes.process``) wraps that. A running server can be reconfigured
with ``POST /_fake/config`` (the JSON form of ``configure``) and inspected
with ``GET /_fake/stats``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import ssl
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.ollama_script import (
    Drop,
    ErrorLine,
    FakeConfig,
    HugeLine,
    Raw,
    Split,
    Stall,
    config_changes_from_json,
    final_line,
    generated_body,
    inside_first_multibyte,
    is_installed,
    model_entry,
    prompt_token_count,
    pull_lines,
    script_text,
    token_line,
)

_WRITE_SLICE = 64 * 1024
#: the longest a lockstep stream waits for the client's acknowledgement of a line
LOCKSTEP_PATIENCE = 5.0


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request the server received; ``body`` is its decoded JSON, if it had one."""

    method: str
    path: str
    body: Any


class FakeOllama:
    """The fake server. Start it with ``async with`` (or ``start``/``stop``); see the module doc."""

    def __init__(
        self,
        config: FakeConfig | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        **changes: Any,
    ) -> None:
        self.config = dataclasses.replace(config or FakeConfig(), **changes)
        #: the one address it listens on (a test's network namespace address, for one)
        self.host = host
        #: a server context: serve HTTPS with it (TLS mode) instead of plain HTTP
        self.ssl_context = ssl_context
        self.requests: list[RecordedRequest] = []
        self.streams_started = 0
        self.streams_finished = 0
        self.disconnects = 0
        """Clients that went away before their stream was over (a cancel, a crash)."""
        self._port = port
        self._runner: web.AppRunner | None = None
        self.acks = 0
        """Datagrams received on ``ack_port`` (lockstep acknowledgements), ever."""
        self.ack_port = 0
        self._acked = asyncio.Event()
        self._ack_transport: asyncio.DatagramTransport | None = None
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """Base URL for a client: ``http://HOST:PORT`` (127.0.0.1 by default; ``https``
        in TLS mode)."""
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{self.host}:{self._port}"

    @property
    def chat_bodies(self) -> list[Any]:
        """The JSON bodies of every ``/api/chat`` request, in order."""
        return [r.body for r in self.requests if r.path == "/api/chat"]

    def configure(self, **changes: Any) -> None:
        """Change the config (fields of ``FakeConfig``); applies to requests that start later."""
        self.config = dataclasses.replace(self.config, **changes)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Return once ``predicate()`` holds; raise ``TimeoutError`` after ``timeout`` s."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_disconnects(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` clients in all have left mid-stream."""
        await self.wait_until(lambda: self.disconnects >= count, timeout)

    async def wait_for_streams(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` chat streams in all have started writing."""
        await self.wait_until(lambda: self.streams_started >= count, timeout)

    async def start(self) -> None:
        """Listen on ``host`` (127.0.0.1 by default; port 0 picks a free one; see ``port``)."""
        app = web.Application()
        app.router.add_post("/api/chat", self._chat)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/ps", self._ps)
        app.router.add_get("/api/version", self._version)
        app.router.add_post("/api/pull", self._pull)
        app.router.add_post("/_fake/config", self._set_config)
        app.router.add_get("/_fake/stats", self._stats)
        # Handler cancellation is how the server learns that a client left
        # while a stream was stalled and nothing was being written.
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=2.0, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, ssl_context=self.ssl_context)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _AckProtocol(self._ack), local_addr=(self.host, 0)
        )
        self._ack_transport = transport
        self.ack_port = transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        """Stop listening and end every stream still open (stalled ones included)."""
        self._stopping.set()
        acks, self._ack_transport = self._ack_transport, None
        if acks is not None:
            acks.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeOllama:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _notify(self) -> None:
        self._changed.set()

    def _ack(self) -> None:
        self.acks += 1
        self._acked.set()

    async def _acknowledged(self, count: int) -> None:
        """Return once ``acks`` reaches ``count``, or after ``LOCKSTEP_PATIENCE`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOCKSTEP_PATIENCE):
                while self.acks < count:
                    self._acked.clear()
                    await self._acked.wait()

    def _client_left(self) -> None:
        if not self._stopping.is_set():
            self.disconnects += 1
            self._notify()

    def _record(self, request: web.Request, body: Any) -> None:
        self.requests.append(RecordedRequest(request.method, request.path, body))
        self._notify()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            self._record(request, None)
            return web.json_response({"error": "invalid JSON in request body"}, status=400)
        self._record(request, body)
        if self.config.redirect_to is not None:
            return _redirect(self.config.redirect_to, request)
        model = body.get("model") if isinstance(body, dict) else None
        if not model:
            return web.json_response({"error": "model is required"}, status=400)
        config = self.config
        if not is_installed(model, config.models):
            return web.json_response(
                {"error": f'model "{model}" not found, try pulling it first'}, status=404
            )
        prompt_tokens = config.prompt_eval_count or prompt_token_count(body)
        if body.get("stream", True) is False:
            return await self._chat_whole(config, model, prompt_tokens)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        self.streams_started += 1
        self._notify()
        try:
            finished = await self._play(request, response, config, model, prompt_tokens)
        except asyncio.CancelledError:
            self._client_left()
            raise
        except ConnectionResetError:
            self._client_left()
            return response
        if finished:
            self.streams_finished += 1
            self._notify()
        return response

    async def _chat_whole(self, config: FakeConfig, model: str, prompt_tokens: int) -> web.Response:
        errors = [step.message for step in config.script if isinstance(step, ErrorLine)]
        if errors and config.tokens is None:
            return web.json_response({"error": errors[0]}, status=500)
        text, count = script_text(config)
        document = orjson.loads(final_line(config, model, count, prompt_tokens, None))
        document["message"]["content"] = text
        return web.json_response(document)

    async def _play(
        self,
        request: web.Request,
        response: web.StreamResponse,
        config: FakeConfig,
        model: str,
        prompt_tokens: int,
    ) -> bool:
        """Write the reply; False when the script dropped the connection on purpose."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        if config.tokens is not None and config.rate <= 0:
            body = generated_body(model, config.tokens)
            for offset in range(0, len(body), _WRITE_SLICE):
                await response.write(body[offset : offset + _WRITE_SLICE])
            count = config.tokens
        else:
            count = 0
            steps = config.script if config.tokens is None else (None,) * config.tokens
            acked = self.acks
            for step in steps:
                if step is None and config.lockstep and count:
                    await self._acknowledged(acked + count)
                if isinstance(step, str | Split | HugeLine) or step is None:
                    if config.rate > 0:
                        await self._pause_until(started + count / config.rate)
                    count += 1
                if not await self._play_step(request, response, step, model, count):
                    return False
        if config.rate > 0:  # what a model generating at that rate reports
            eval_ns = int(count / config.rate * 1e9)
        else:
            eval_ns = max(1, int((loop.time() - started) * 1e9))
        await response.write(final_line(config, model, count, prompt_tokens, eval_ns))
        await response.write_eof()
        return True

    async def _play_step(
        self,
        request: web.Request,
        response: web.StreamResponse,
        step: object,
        model: str,
        count: int,
    ) -> bool:
        """Play one step; False once the connection is gone (a drop, or the server stopping)."""
        if step is None:
            await response.write(token_line(model, f" tok{count}"))
            if self.config.line_per_write:
                await _drained(request)
        elif isinstance(step, str):
            await response.write(token_line(model, step))
        elif isinstance(step, Raw):
            await response.write(step.data)
        elif isinstance(step, Split):
            line = token_line(model, step.text)
            at = step.at if step.at is not None else inside_first_multibyte(line)
            await response.write(line[:at])
            await self._pause(step.pause)
            await response.write(line[at:])
        elif isinstance(step, HugeLine):
            await response.write(token_line(model, "x" * step.size))
        elif isinstance(step, ErrorLine):
            await response.write(orjson.dumps({"error": step.message}) + b"\n")
        elif isinstance(step, Stall):
            if await self._pause(step.seconds):
                _abort(request)
                return False
        elif isinstance(step, Drop):
            if step.abort:
                _abort(request)
            else:
                await response.write_eof()
            return False
        return True

    async def _pause(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (None: for ever); True if the server began stopping meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return self._stopping.is_set()

    async def _pause_until(self, deadline: float) -> None:
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _tags(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        if self.config.redirect_to is not None:
            return _redirect(self.config.redirect_to, request)
        models = [model_entry(name) for name in self.config.models]
        return await self._listing(request, models)

    async def _ps(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        if self.config.redirect_to is not None:
            return _redirect(self.config.redirect_to, request)
        loaded = [
            {**model_entry(name), "expires_at": "2030-01-01T00:00:00Z", "size_vram": 0}
            for name in self.config.loaded
        ]
        return await self._listing(request, loaded)

    async def _listing(
        self, request: web.Request, models: list[dict[str, object]]
    ) -> web.StreamResponse:
        """``{"models": [...]}``; with ``padding``, streamed with that many filler bytes inside."""
        padding = self.config.padding
        if padding <= 0:
            return web.json_response({"models": models})
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)  # chunked: no Content-Length to refuse early on
        head = orjson.dumps({"models": models})[:-1] + b', "padding": "'
        try:
            await response.write(head)
            filler = b"x" * _WRITE_SLICE
            for offset in range(0, padding, _WRITE_SLICE):
                await response.write(filler[: min(_WRITE_SLICE, padding - offset)])
            await response.write(b'"}')
            await response.write_eof()
        except ConnectionResetError:
            self._client_left()
        return response

    async def _pull(self, request: web.Request) -> web.StreamResponse:
        """Ollama's pull: progress lines, then ``success`` (the model is then installed)."""
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            self._record(request, None)
            return web.json_response({"error": "invalid JSON in request body"}, status=400)
        self._record(request, body)
        if self.config.redirect_to is not None:
            return _redirect(self.config.redirect_to, request)
        name = body.get("model") or body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return web.json_response({"error": "model is required"}, status=400)
        config = self.config
        lines = pull_lines(config, name)
        per_layer = config.pull_steps
        if config.pull_error is not None:
            lines = [*lines[: 1 + per_layer], orjson.dumps({"error": config.pull_error}) + b"\n"]
        if config.pull_raw is not None:
            lines.insert(1, config.pull_raw.encode())
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        self.streams_started += 1
        self._notify()
        try:
            for index, line in enumerate(lines):
                if index and config.pull_interval > 0 and await self._pause(config.pull_interval):
                    _abort(request)
                    return response
                await response.write(line)
            await response.write_eof()
        except asyncio.CancelledError:
            self._client_left()
            raise
        except ConnectionResetError:
            self._client_left()
            return response
        if config.pull_error is None and not is_installed(name, self.config.models):
            self.configure(models=(*self.config.models, name))
        self.streams_finished += 1
        self._notify()
        return response

    async def _version(self, request: web.Request) -> web.Response:
        self._record(request, None)
        return web.json_response({"version": self.config.version})

    async def _set_config(self, request: web.Request) -> web.Response:
        try:
            self.configure(**config_changes_from_json(orjson.loads(await request.read())))
        except (orjson.JSONDecodeError, TypeError, ValueError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"ok": True})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": [dataclasses.asdict(r) for r in self.requests],
                "streams_started": self.streams_started,
                "streams_finished": self.streams_finished,
                "disconnects": self.disconnects,
                "ack_port": self.ack_port,
                "acks": self.acks,
            }
        )


def _redirect(base_url: str, request: web.Request) -> web.Response:
    return web.Response(status=307, headers={"Location": base_url + request.path})


class _AckProtocol(asyncio.DatagramProtocol):
    """Counts lockstep acknowledgements: every datagram is one."""

    def __init__(self, ack: Callable[[], None]) -> None:
        self._ack = ack

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._ack()


async def _drained(request: web.Request) -> None:
    """Return once everything written so far has been handed to the socket."""
    transport = request.transport
    # The transport has no event for an empty write buffer: poll it (a test fake).
    while transport is not None and transport.get_write_buffer_size():  # noqa: ASYNC110
        await asyncio.sleep(0.0005)


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


async def _serve(port: int, config: FakeConfig, host: str = "127.0.0.1") -> None:
    server = FakeOllama(config, port=port, host=host)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(server.port, flush=True)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the fake server until SIGTERM or SIGINT; prints the port it listens on."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.ollama_server")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1", help="the one address to listen on")
    parser.add_argument("--script", help="JSON list of steps, or @file holding one")
    parser.add_argument("--models", help="comma-separated installed models")
    parser.add_argument("--loaded", help="comma-separated models reported as loaded")
    parser.add_argument("--tokens", type=int, help="generate N tokens instead of a script")
    parser.add_argument("--rate", type=float, help="tokens per second (0: as fast as possible)")
    parser.add_argument("--pull-interval", type=float, help="seconds between pull progress lines")
    args = parser.parse_args(argv)
    document: dict[str, Any] = {}
    if args.script is not None:
        script = args.script
        if script.startswith("@"):
            with open(script[1:], "rb") as file:
                script = file.read()
        document["script"] = orjson.loads(script)
    for key in ("models", "loaded"):
        value = getattr(args, key)
        if value is not None:
            document[key] = [name for name in value.split(",") if name]
    for key in ("tokens", "rate", "pull_interval"):
        if getattr(args, key) is not None:
            document[key] = getattr(args, key)
    config = dataclasses.replace(FakeConfig(), **config_changes_from_json(document))
    asyncio.run(_serve(args.port, config, args.host))
    sys.exit(0)


if __name__ == "__main__":
    main()

"""Driving a terminal program for the TUI benchmark: tmux, its CPU from /proc, and a front server.

``TmuxApp`` runs one program in a tmux server of its own (``exec``, so the
pane's pid is the program's); ``cpu_percent`` reads that pid's utime + stime
from ``/proc/<pid>/stat`` over a window. ``python -m profiling.tui_harness
front --upstream URL`` is a small HTTP front that answers ``GET /`` as Ollama
does ("Ollama is running", which oterm checks before anything else and the
fake server does not answer) and forwards every other request untouched,
streaming responses chunk by chunk; it prints its port and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from types import TracebackType

from tests.fakes.isolated import isolated_env
from tests.tmux import TmuxScreen

# -- CPU of one process --------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_percent(pid: int, seconds: float) -> float:
    """CPU of ``pid`` over the next ``seconds``, as a percentage of one core."""
    started_cpu, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(pid) - started_cpu) / (time.monotonic() - started)


# -- a program in tmux ----------------------------------------------------------------------


class TmuxApp(TmuxScreen):
    """One program in a tmux server of its own (the tests' driver); ``pid`` is the program's.

    A context manager: the server starts on enter and is killed on exit.
    """

    def __init__(
        self, command: list[str], env: dict[str, str], width: int = 100, height: int = 30
    ) -> None:
        self._command = command
        self._env = env
        self._width = width
        self._height = height

    def __enter__(self) -> TmuxApp:
        assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in self._env.items())
        program = " ".join(shlex.quote(part) for part in self._command)
        # exec: the pane's process becomes the program, so its pid is the one measured
        super().__init__(
            f"exec env {assignments} {program}",
            width=self._width,
            height=self._height,
            prefix="aiway-bench",
        )
        return self

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        return super().wait_for(text, timeout)

    def type_text(self, text: str) -> None:
        self.type(text)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def terminal_env(home: Path, ollama: str) -> dict[str, str]:
    """The shared isolated environment, with a terminal, a UTF-8 locale, the server and a HOME."""
    for name in ("config", "state", "data", "run"):
        (home / name).mkdir(mode=0o700, exist_ok=True)
    return isolated_env(
        home,
        TERM="xterm-256color",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
        OLLAMA_HOST=ollama,
        HOME=str(home),
    )


# -- the front oterm is pointed at ---------------------------------------------------------------


async def serve_front(upstream: str) -> None:
    """Answer ``GET /`` like Ollama ("Ollama is running"); forward everything else untouched."""
    import aiohttp
    from aiohttp import web

    client = aiohttp.ClientSession()

    async def root(request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        response = web.StreamResponse()
        async with client.request(
            request.method, upstream + request.path_qs, data=body, headers=headers
        ) as upstream_response:
            response.set_status(upstream_response.status)
            response.content_type = upstream_response.content_type
            await response.prepare(request)
            try:
                async for chunk in upstream_response.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionError:  # the UI went away mid-stream (it was stopped)
                pass
        return response

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_route("*", "/{tail:.+}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m profiling.tui_harness")
    commands = parser.add_subparsers(dest="command", required=True)
    front = commands.add_parser("front", help="the front oterm is pointed at")
    front.add_argument("--upstream", required=True, help="the fake Ollama server's URL")
    args = parser.parse_args(argv)
    asyncio.run(serve_front(args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())

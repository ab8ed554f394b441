"""The fake Ollama server in its own process, for tests that run real ``aiway`` processes.

``FakeOllamaProcess`` starts ``python -m tests.fakes.ollama_server`` from the
repository root, reads the port it prints, and stops it with SIGTERM.
Reconfigure it between tests with ``configure`` (``POST /_fake/config``) and
read its counters with ``stats`` (``GET /_fake/stats``).
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]


class FakeOllamaProcess:
    """A fake server process. ``args`` are its command-line flags (``--script``, ``--rate``...)."""

    def __init__(self, *args: str, startup_timeout: float = 15.0) -> None:
        self._args = args
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait (up to ``startup_timeout`` s) for the port it prints."""
        command = [sys.executable, "-m", "tests.fakes.ollama_server", "--port", "0", *self._args]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
        self._process = process
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(self._startup_timeout)
        line = process.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the fake Ollama server did not start (printed {line!r})")
        self.port = int(line)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait; kills it after ``timeout`` s. Returns the exit code."""
        process = self._process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._process = None
        return process.returncode

    def configure(self, **changes: Any) -> None:
        """Change its config; steps in their JSON form (see ``tests.fakes.ollama_script``)."""
        request = urllib.request.Request(
            self.url + "/_fake/config", data=orjson.dumps(changes), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    def stats(self) -> dict[str, Any]:
        """Its counters: requests (with bodies), streams started and finished, disconnects."""
        with urllib.request.urlopen(self.url + "/_fake/stats", timeout=5) as response:
            document: dict[str, Any] = orjson.loads(response.read())
        return document

    def __enter__(self) -> FakeOllamaProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

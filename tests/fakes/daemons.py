"""Real `aiway serve` daemons and attached surfaces for tests, stopped by pid at the end.

``Processes`` starts aiway processes with one test's environment (its own XDG
directories under ``tmp_path``, so its socket, token, log and history are its
own) and stops every one by pid at the end (SIGCONT first for a stopped one,
then SIGTERM, then SIGKILL). Surfaces write to files, not pipes, so a surface
the test does not read never blocks; ``Daemon`` and ``Surface`` poll those
files with deadlines. The fixtures that hand these to tests are in
``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from tests.fakes.isolated import isolated_env
from tests.fakes.process import FakeOllamaProcess
from tests.waiting import wait_until_sync

# A finished answer: its last line, right above its figures ("m · 3 tokens · ...").
ANSWER_LINE = re.compile(r"^yollayah> (.*)\n   · [^\n]* \d+ tokens · ", re.MULTILINE)
ROOT = Path(__file__).resolve().parents[2]
AIWAY = [sys.executable, "-m", "aiway.ui.cli"]
TOKENS = 40
RATE = 40.0
ANSWER = "".join(f" tok{index}" for index in range(1, TOKENS + 1))
SERVING = re.compile(r"serving on (\S+)(?: and tcp:(\S+):(\d+))?")


class Processes:
    """Starts aiway processes with one test's environment; stops every one by pid."""

    def __init__(self, tmp_path: Path, ollama: FakeOllamaProcess) -> None:
        self.tmp = tmp_path
        self.env = isolated_env(
            tmp_path,
            OLLAMA_HOST=ollama.url,
            AIWAY_OLLAMA_DEFAULT_MODEL="tiny",
            AIWAY_DAEMON_RECONNECT_INITIAL="0.05",
            AIWAY_DAEMON_RECONNECT_MAX="0.3",
        )
        self.socket = tmp_path / "run" / "aiway" / "aiway.sock"
        self.log = tmp_path / "state" / "aiway" / "aiway.log"
        self.started: list[tuple[subprocess.Popen[bytes], IO[bytes] | None]] = []
        self._count = 0

    def spawn(
        self, *args: str, env: dict[str, str] | None = None, stdin: bool = False
    ) -> tuple[subprocess.Popen[bytes], Path]:
        self._count += 1
        output = self.tmp / f"out-{self._count}.txt"
        sink = output.open("wb")
        process = subprocess.Popen(
            [*AIWAY, *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        sink.close()
        self.started.append((process, process.stdin))
        return process, output

    def daemon(self, *args: str, env: dict[str, str] | None = None) -> Daemon:
        process, output = self.spawn("serve", "--backend", "ollama", *args, env=env)
        daemon = Daemon(process, output)
        wait_until_sync(
            lambda: "serving on" in daemon.text() or process.poll() is not None,
            timeout=30,
            what="the daemon to serve",
        )
        assert process.poll() is None, daemon.text()
        return daemon

    def surface(self, *args: str, env: dict[str, str] | None = None) -> Surface:
        process, output = self.spawn(
            "headless", "--connect", *args, "--follow", env=env, stdin=True
        )
        surface = Surface(process, output)
        surface.wait_for("connected as", what="the surface to attach")
        return surface

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*AIWAY, *args],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop_all(self) -> None:
        for process, stdin in reversed(self.started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)
                    process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if stdin is not None:
                with contextlib.suppress(OSError):
                    stdin.close()


class Daemon:
    def __init__(self, process: subprocess.Popen[bytes], output: Path) -> None:
        self.process = process
        self.output = output

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def tcp_port(self) -> int:
        match = SERVING.search(self.text())
        assert match is not None and match.group(3), self.text()
        return int(match.group(3))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(15)


class Surface:
    def __init__(self, process: subprocess.Popen[bytes], output: Path) -> None:
        self.process = process
        self.output = output

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def wait_for(self, words: str, timeout: float = 20, what: str = "") -> None:
        wait_until_sync(
            lambda: words in self.text() or self.process.poll() is not None,
            timeout=timeout,
            what=what or repr(words),
        )
        assert words in self.text(), self.text()

    def answers(self) -> list[str]:
        """Every finished answer as shown: the last line written for it, before its figures."""
        return ANSWER_LINE.findall(self.text())

    def wait_for_answers(self, count: int, timeout: float = 30) -> list[str]:
        wait_until_sync(
            lambda: len(self.answers()) >= count,
            timeout=timeout,
            what=f"{count} answers in {self.output.name}",
        )
        return self.answers()

"""Two hosts (network namespaces), the secret on each, a fake Ollama on the leader's."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.fakes.isolated import isolated_env
from tests.netns.hosts import Host, hosts
from tests.waiting import wait_until_sync

ROOT = Path(__file__).resolve().parents[2]
AIWAY = [sys.executable, "-m", "aiway"]


@attrs.define
class Pair:
    """The leader's host ``a`` (with the fake server on its loopback), the member's ``b``."""

    a: Host
    b: Host
    tmp: Path
    ollama: str
    #: a second member's host, when the fixture made three (``trio``)
    c: Host | None = None

    def env(self, host: Host, **extra: str) -> dict[str, str]:
        """A host's environment: its own XDG directories (its secret in its config), and
        Thespian's own log in its folder (what its admin did with the convention, kept
        with the test's files for a failure's post-mortem)."""
        return isolated_env(
            self.tmp / host.name,
            OLLAMA_HOST=self.ollama,
            AIWAY_OLLAMA_DEFAULT_MODEL="tiny",
            THESPLOG_FILE=str(self.tmp / host.name / "thespian.log"),
            THESPLOG_THRESHOLD="INFO",
            THESPLOG_FILE_MAXSIZE=str(4 << 20),
            **extra,
        )

    def serve(self, *args: str, name: str = "serve") -> subprocess.Popen[bytes]:
        """``aiway serve --engine thespian --ip A --require model ARGS`` on ``a``, leading
        the convention; its output goes to ``NAME.txt``."""
        return self._on_a("serve", args, name)

    def _on_a(self, command: str, args: tuple[str, ...], name: str) -> subprocess.Popen[bytes]:
        """``aiway COMMAND`` on ``a`` leading the convention, the core where ``model`` is."""
        return self.a.popen(
            [
                *AIWAY,
                command,
                "--backend",
                "ollama",
                "--engine",
                "thespian",
                "--admin-port",
                "1900",
                "--ip",
                self.a.address,
                "--require",
                "model",
                *args,
            ],
            self.env(self.a),
            self.tmp / f"{name}.txt",
            ROOT,
        )

    def member(
        self, *extra: str, name: str = "member", host: Host | None = None
    ) -> subprocess.Popen[bytes]:
        """``aiway member`` on ``host`` (default ``b``), joining ``a``; returns once it says
        it is up."""
        host = host or self.b
        output = self.tmp / f"{name}.txt"
        process = host.popen(
            [
                *AIWAY,
                "member",
                "--ip",
                host.address,
                "--convention",
                f"{self.a.address}:1900",
                "--capability",
                "model",
                *extra,
            ],
            self.env(host),
            output,
            ROOT,
        )
        wait_until_sync(
            lambda: "member: Thespian admin on" in output.read_text() or process.poll() is not None,
            timeout=20,
            what="the member to start",
        )
        return process

    def leader(self, *args: str, name: str = "leader") -> subprocess.Popen[bytes]:
        """``aiway headless --engine thespian --ip A --require model ARGS`` on ``a``."""
        return self._on_a("headless", args, name)

    def output(self, name: str) -> str:
        return (self.tmp / f"{name}.txt").read_text()

    def serving(self, daemon: subprocess.Popen[bytes], name: str) -> None:
        """Wait until ``aiway serve`` (output ``NAME.txt``) serves, with the model on ollama."""
        wait_until_sync(
            lambda: "serving on" in self.output(name) or daemon.poll() is not None,
            timeout=60,
            what="the daemon to serve",
        )
        assert daemon.poll() is None, self.output(name)
        assert "aiway: model tiny on ollama" in self.output(name), self.output(name)


def write_secret(home: Path, key: str) -> None:
    folder = home / "config" / "aiway"
    folder.mkdir(parents=True, mode=0o700)
    folder.parent.chmod(0o700)
    path = folder / "thespian.secret"
    path.write_text(key * 64)
    path.chmod(0o600)


def start_fake(host: Host, tmp: Path, *args: str) -> str:
    output = tmp / "fake.txt"
    host.popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.ollama_server",
            "--port",
            "0",
            "--models",
            "tiny:latest",
            *args,
        ],
        isolated_env(tmp / "fake"),
        output,
        ROOT,
    )
    wait_until_sync(
        lambda: re.match(r"\d+\n", output.read_text()), timeout=15, what="the fake server"
    )
    where = args[args.index("--host") + 1] if "--host" in args else "127.0.0.1"
    return f"http://{where}:{int(output.read_text().split()[0])}"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    with hosts(2) as (a, b):
        for host in (a, b):
            write_secret(tmp_path / host.name, "s")
        url = start_fake(a, tmp_path, "--tokens", "60", "--rate", "30")
        yield Pair(a, b, tmp_path, url)


#: a fake server slow enough that an answer is still streaming seconds after it began
SLOW = ("--tokens", "400", "--rate", "40")


@pytest.fixture
def slow_pair(tmp_path: Path) -> Iterator[Pair]:
    """``pair``, with answers that stream for about 10 s."""
    with hosts(2) as (a, b):
        for host in (a, b):
            write_secret(tmp_path / host.name, "s")
        yield Pair(a, b, tmp_path, start_fake(a, tmp_path, *SLOW))


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[Pair]:
    """A leader's host ``a`` and two members' hosts ``b`` and ``c``; slow answers."""
    with hosts(3) as (a, b, c):
        for host in (a, b, c):
            write_secret(tmp_path / host.name, "s")
        yield Pair(a, b, tmp_path, start_fake(a, tmp_path, *SLOW), c)


#: where the leader looks for Ollama when the model runs on the member: nothing listens
NO_OLLAMA = "http://127.0.0.1:9"


@attrs.define
class ModelPair:
    """``pair`` with the model on the member: the fake server listens on ``b``'s address
    only, and the leader's Ollama address leads nowhere."""

    hosts: Pair
    #: the fake server's URL on the member's host (``--ollama-host`` of the member)
    model_url: str


@pytest.fixture
def model_pair(tmp_path: Path) -> Iterator[ModelPair]:
    with hosts(2) as (a, b):
        for host in (a, b):
            write_secret(tmp_path / host.name, "s")
        url = start_fake(b, tmp_path, "--tokens", "60", "--rate", "30", "--host", b.address)
        yield ModelPair(Pair(a, b, tmp_path, NO_OLLAMA), url)

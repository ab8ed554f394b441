"""SIGTERM and SIGINT end the real terminal UI on the Thespian engine, in every state, in a bound.

``aiway --engine thespian`` runs in tmux against the fake Ollama server; the
test signals its pid while an answer streams, while it waits for a member of
its convention to place the core on (``--require model`` with no member),
while an answer streams from its core on a member (``aiway member`` on this
machine, its own admin port), and after that member died mid-answer (the
answer failed, no other member). The process must exit within ``EXIT_BOUND``,
with the terminal restored, and every process it started (the Thespian admin,
the actor processes: all carry the test's temporary directory in their
environment) must be gone within the same bound; so must its cells on the
member. Deadlines only, never a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_tui import Tui
from tests.fakes import FakeOllamaProcess
from tests.fakes.isolated import isolated_env
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until_sync

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

#: from the signal to the process and everything it started gone (as for serve and member)
EXIT_BOUND = 15.0
SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllamaProcess]:
    server = FakeOllamaProcess()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def aiway_pid(tui: Tui) -> int:
    """The pid of ``aiway`` itself: the child of the pane's shell (``env`` execs it)."""
    children = Path(f"/proc/{tui.pid}/task/{tui.pid}/children")
    found: list[int] = []

    def started() -> bool:
        found[:] = [int(pid) for pid in children.read_text().split()]
        return bool(found)

    wait_until_sync(started, timeout=10, what="aiway to start")
    return found[0]


def started_by(tmp_path: Path) -> list[int]:
    """Every live process with the test's directories in its environment: aiway and the
    Thespian processes it started (not a member's: its directories are beside them)."""
    return processes.with_marker(f"{tmp_path}/")


def member_home(tmp_path: Path) -> Path:
    return tmp_path.with_name(f"{tmp_path.name}-member")


@pytest.fixture
def screens(tmp_path: Path) -> Iterator[list[Tui]]:
    opened: list[Tui] = []
    try:
        yield opened
    finally:
        for tui in opened:
            tui.close()
        processes.kill(started_by(tmp_path))
        processes.kill(processes.with_marker(f"{member_home(tmp_path)}/"))


def write_secret(home: Path) -> None:
    """The convention's secret, the same in the session's and the member's config."""
    folder = home / "config" / "aiway"
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    folder.parent.chmod(0o700)
    path = folder / "thespian.secret"
    path.write_text("5e" * 32)
    path.chmod(0o600)


class Member:
    """``aiway member`` on this machine (its own admin port), its home beside the test's."""

    def __init__(self, tmp_path: Path, leader_port: int) -> None:
        self.home = member_home(tmp_path)
        self.home.mkdir(exist_ok=True)
        write_secret(self.home)
        self.output = self.home / "member.txt"
        with self.output.open("wb") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "aiway",
                    "member",
                    "--admin-port",
                    str(free_port()),
                    "--convention",
                    f"127.0.0.1:{leader_port}",
                    "--capability",
                    "model",
                ],
                env=isolated_env(self.home),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        wait_until_sync(
            lambda: "member: Thespian admin on" in self.output.read_text(),
            timeout=30,
            what="the member to start",
        )

    def processes(self) -> list[int]:
        return processes.with_marker(f"{self.home}/")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(EXIT_BOUND)


def signalled(tui: Tui, tmp_path: Path, pid: int, sig: signal.Signals) -> int:
    """Send ``sig`` to ``pid``; its exit code, once it and what it started are gone."""
    os.kill(pid, sig)
    code = tui.exit_code(timeout=EXIT_BOUND)
    wait_until_sync(
        lambda: not started_by(tmp_path),
        timeout=EXIT_BOUND,
        what=f"every process aiway started to end: {started_by(tmp_path)}",
    )
    modes = tui.stty_file.read_text()
    assert " icanon" in modes and " echo" in modes  # cooked mode is back
    return code


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_the_tui_on_thespian_ends_on_a_signal_while_an_answer_streams(
    tmp_path: Path, ollama: FakeOllamaProcess, screens: list[Tui], sig: signal.Signals
) -> None:
    ollama.configure(script=[f" word{i}" for i in range(400)], tokens=None, rate=20)
    tui = Tui(tmp_path, f"127.0.0.1:{ollama.port}", args=("--engine", "thespian"))
    screens.append(tui)
    tui.wait_for("Ready", timeout=60)
    pid = aiway_pid(tui)
    assert len(started_by(tmp_path)) > 1, "the Thespian engine runs processes of its own"
    tui.say("hi")
    tui.wait_for("word5", timeout=30)
    assert "word399" not in tui.screen()  # still streaming
    assert signalled(tui, tmp_path, pid, sig) == 0


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_the_tui_on_thespian_ends_on_a_signal_while_it_waits_for_a_member(
    tmp_path: Path, ollama: FakeOllamaProcess, screens: list[Tui], sig: signal.Signals
) -> None:
    args = ("--engine", "thespian", "--admin-port", str(free_port()), "--require", "model")
    tui = Tui(tmp_path, f"127.0.0.1:{ollama.port}", args=args)
    screens.append(tui)
    pid = aiway_pid(tui)
    # its Thespian admin is up and it waits for a member that offers the model
    wait_until_sync(
        lambda: len(started_by(tmp_path)) > 1, timeout=20, what="the Thespian admin to start"
    )
    assert not tui.exit_file.exists()
    # stopped as asked (a core that cannot be placed, after 10 s, would exit 3)
    assert signalled(tui, tmp_path, pid, sig) == 0


def core_on_a_member(tmp_path: Path, ollama: FakeOllamaProcess) -> tuple[Tui, Member, int]:
    """A TUI whose core runs on a member of its convention, answering; with the member's
    process count while it hosted nothing."""
    ollama.configure(script=[f" word{i}" for i in range(400)], tokens=None, rate=20)
    write_secret(tmp_path)
    port = free_port()
    args = ("--engine", "thespian", "--admin-port", str(port), "--require", "model")
    tui = Tui(tmp_path, f"127.0.0.1:{ollama.port}", args=args)
    # the leader's admin is up before the member joins it
    wait_until_sync(
        lambda: len(started_by(tmp_path)) > 1, timeout=20, what="the Thespian admin to start"
    )
    member = Member(tmp_path, port)
    idle = len(member.processes())
    tui.wait_for("Ready", timeout=60)
    wait_until_sync(
        lambda: len(member.processes()) >= idle + 3, timeout=30, what="the core on the member"
    )
    tui.say("hi")
    tui.wait_for("word5", timeout=30)
    return tui, member, idle


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_the_tui_ends_on_a_signal_while_its_core_on_a_member_answers(
    tmp_path: Path, ollama: FakeOllamaProcess, screens: list[Tui], sig: signal.Signals
) -> None:
    tui, member, idle = core_on_a_member(tmp_path, ollama)
    screens.append(tui)
    try:
        assert "word399" not in tui.screen()  # still streaming
        assert signalled(tui, tmp_path, aiway_pid(tui), sig) == 0
        # its cells on the member ended with it; the member runs on
        wait_until_sync(
            lambda: len(member.processes()) <= idle, timeout=EXIT_BOUND, what="its cells to end"
        )
        assert member.process.poll() is None
    finally:
        member.stop()


def test_the_tui_ends_on_sigterm_after_its_member_died_mid_answer(
    tmp_path: Path, ollama: FakeOllamaProcess, screens: list[Tui]
) -> None:
    tui, member, _ = core_on_a_member(tmp_path, ollama)
    screens.append(tui)
    processes.kill(member.processes())  # a crash: no goodbye
    member.process.wait(EXIT_BOUND)
    # the answer fails (three missed registrations), and no other member offers the model
    tui.wait_for("went away", timeout=45)
    assert signalled(tui, tmp_path, aiway_pid(tui), signal.SIGTERM) == 0

"""The terminal UI attached to a daemon (`aiway --connect`), in tmux, beside a headless surface.

The TUI runs in a tmux server of its own (``tmux -L <unique>``), started as
``python -m aiway.ui.cli --connect`` from the repository; the daemon and the
headless surface are processes of the test. Everything is stopped by pid (and
the tmux server killed) at the end; the screen is polled, never slept on.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import sys
from pathlib import Path

import pytest

from tests.fakes.daemons import ANSWER, TOKENS, Processes
from tests.tmux import TmuxScreen, exit_code_from

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]


class RemoteTui(TmuxScreen):
    """``aiway --connect`` in its own tmux server."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.exit_file = tmp_path / "tui-exit"
        keep = {key: env[key] for key in env if key.startswith(("XDG_", "AIWAY_", "OLLAMA"))}
        keep |= {"TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in keep.items())
        command = f"{shlex.quote(sys.executable)} -m aiway.ui.cli --connect"
        script = (
            f"cd {shlex.quote(str(ROOT))} && env {assignments} {command}; "
            f"echo EXIT=$? > {shlex.quote(str(self.exit_file))}; exec cat"
        )
        super().__init__(script, prefix="aiway-daemon-test")

    def exit_code(self, timeout: float = 15.0) -> int:
        return exit_code_from(self.exit_file, timeout)


def test_the_tui_attaches_streams_rides_out_a_restart_and_detaches_alone(
    tmp_path: Path, procs: Processes
) -> None:
    daemon = procs.daemon()
    headless = procs.surface()
    tui = RemoteTui(tmp_path, procs.env)
    try:
        tui.wait_for("daemon: connected as tui-2")
        tui.say("hello from the terminal")
        assert headless.wait_for_answers(1) == [ANSWER]
        assert "you> hello from the terminal" in headless.text()
        tui.wait_for(f"{TOKENS} tokens")  # the TUI's own figures line under the answer
        tui.wait_for("tok40")

        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(15) == 0
        tui.wait_for("; reconnecting to")
        procs.daemon()
        tui.wait_for("daemon: reconnected as tui-")
        headless.wait_for("reconnected as")

        tui.tmux("send-keys", "-t", "main", "C-q")
        assert tui.exit_code() == 0
        headless.type("still here?")
        assert headless.wait_for_answers(2)[-1] == ANSWER
    finally:
        tui.close()

"""A program in a tmux server of its own: start it, type, read the screen, wait, stop.

Shared by the terminal UI's end-to-end tests, the daemon's TUI test and the UI
benchmark. Each instance has its own server (``tmux -L <unique>``, no config
file), so nothing leaks between tests; ``close`` kills that server and removes
its socket. Waiting polls the screen with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import uuid
from pathlib import Path

from tests.waiting import wait_until_sync


class TmuxScreen:
    """One tmux server running one shell command in a window of the given size."""

    def __init__(
        self, command: str, *, width: int = 100, height: int = 30, prefix: str = "aiway"
    ) -> None:
        self.socket = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.tmux(
            "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height),
            f"sh -c {shlex.quote(command)}",
        )  # fmt: skip
        self.socket_path = Path(self.tmux("display-message", "-p", "#{socket_path}").strip())
        self.pid = int(self.tmux("display-message", "-p", "-t", "main", "#{pane_pid}").strip())

    def tmux(self, *args: str) -> str:
        """Run one tmux command against this server; its standard output."""
        environment = {key: value for key, value in os.environ.items() if key != "TMUX"}
        environment["LANG"] = environment["LC_ALL"] = "C.UTF-8"  # tmux passes UTF-8 keys through
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=environment,
            timeout=10,
            check=True,
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "main")

    def rows(self) -> list[str]:
        return self.screen().removesuffix("\n").split("\n")

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """Poll the screen until ``text`` shows; return that screen (the last one in the error)."""
        seen: list[str] = [""]

        def shows() -> bool:
            seen[0] = self.screen()
            return text in seen[0]

        try:
            wait_until_sync(shows, timeout=timeout, what=repr(text))
        except AssertionError:
            raise AssertionError(f"{text!r} never showed; the screen:\n{seen[0]}") from None
        return seen[0]

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "main", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "main", "-l", text)

    def say(self, text: str) -> None:
        self.type(text)
        self.keys("Enter")

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-t", "main", "-x", str(width), "-y", str(height))

    def close(self) -> None:
        """Kill this server (and what runs in it) and remove its socket."""
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10, check=False
        )
        self.socket_path.unlink(missing_ok=True)


def exit_code_from(path: Path, timeout: float = 10.0) -> int:
    """The code a wrapper wrote as ``EXIT=<n>`` into ``path`` when the program ended."""
    wait_until_sync(
        lambda: path.exists() and path.read_text().endswith("\n"),
        timeout=timeout,
        what="the program to exit",
    )
    return int(path.read_text().strip().removeprefix("EXIT="))

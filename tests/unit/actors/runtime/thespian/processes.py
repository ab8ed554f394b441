"""Finding and ending the processes a Thespian system leaves, by pid (Linux ``/proc``).

A multiproc Thespian admin detaches into a session of its own (``setsid``),
and every actor process it starts stays in that session, so a system's
processes are the processes of its session. Processes of a command run by a
test are found by a marker in their environment (its temporary directory).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

PROC = Path("/proc")


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def in_session(session: int) -> list[int]:
    """Live processes of session ``session`` (never this test's own session)."""
    if session <= 0 or session == os.getsid(0):
        return []
    found = []
    for pid in _pids():
        try:
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command: state, ppid, pgrp, session, ...; zombies are gone already
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(pid)
    return found


def with_marker(marker: str) -> list[int]:
    """Live processes whose environment mentions ``marker`` (other than this one)."""
    needle = marker.encode()
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            if needle in (PROC / str(pid) / "environ").read_bytes():
                state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(pid)
        except OSError:
            continue
    return found


def kill(pids: list[int]) -> None:
    """SIGKILL each pid that is still there."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

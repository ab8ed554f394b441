"""A hostile peer against `aiway serve --engine thespian`: pickles sent to every listening port.

The daemon runs its core on ``multiprocTCPBase`` (an admin port, a process per
actor, each with its own listener). The test finds every TCP listener of the
daemon's process tree (``/proc/net/tcp`` and the processes' socket inodes),
checks where each is bound, and sends each one a Thespian frame holding a
pickle that would create a marker file when unpickled. Nothing may run, and
the daemon must still answer afterwards.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import pickle
import socket
from pathlib import Path

import pytest

from tests.fakes.daemons import ANSWER, Processes
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until_sync

pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")


class Payload:
    """Unpickling this opens (creates) ``path``: proof that a frame was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return builtins.open, (str(self.path), "a")


def frame(payload: object) -> bytes:
    """A Thespian TCP frame: ``<length>>`` then the pickle."""
    body = pickle.dumps(payload)
    return b"%d>" % len(body) + body


def listeners(pids: list[int]) -> dict[int, str]:
    """Listening TCP ports of ``pids``: port -> bound address (IPv4 dotted, or IPv6 hex)."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A: LISTEN
                    continue
                address, port = local.split(":")
                if len(address) == 8:
                    address = socket.inet_ntoa(bytes.fromhex(address)[::-1])
                found[int(port, 16)] = address
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def drops_logged(log: str) -> int:
    return log.count("dropped a Thespian frame")


def test_a_pickle_sent_to_every_thespian_port_of_serve_runs_nothing(
    procs: Processes, tmp_path: Path
) -> None:
    admin = free_port()
    daemon = procs.daemon("--engine", "thespian", "--admin-port", str(admin))
    tree = processes.with_marker(str(tmp_path))
    ports = listeners(tree)
    assert admin in ports, ports
    assert len(ports) >= 4, f"the admin and the actors' listeners: {ports}"
    assert set(ports.values()) == {"127.0.0.1"}, f"a listener beyond loopback: {ports}"

    markers = {port: tmp_path / f"ran-{port}" for port in ports}
    attacks = []
    try:
        for port, marker in markers.items():
            attack = socket.create_connection(("127.0.0.1", port), timeout=10)
            attacks.append(attack)
            attack.sendall(frame(Payload(marker)))
        # nothing else is lost: the daemon still answers
        surface = procs.surface()
        surface.type("still there?")
        assert surface.wait_for_answers(1) == [ANSWER]
        # The daemon's own Thespian handle (its driver) made its listening socket before
        # the admin was forked, so every process of the system holds it; the driver reads
        # it only while it waits on Thespian (an ask), so a frame sent there waits in the
        # kernel's backlog until the next one. Every other listener reads at once.
        driver = [port for port in ports if all(port in listeners([pid]) for pid in tree)]
        assert len(driver) <= 1, driver
        wait_until_sync(
            lambda: drops_logged(procs.log_text()) >= len(ports) - len(driver),
            timeout=15,
            what=f"each of the {len(ports) - len(driver)} other listeners to drop its frame",
        )
    finally:
        for attack in attacks:
            attack.close()
    # stopping asks the system to stop every actor and waits for the answer: the driver
    # reads its socket then, and drops that frame too
    assert daemon.stop() == 0

    ran = sorted(port for port, marker in markers.items() if marker.exists())
    assert ran == [], f"a pickle ran in the process listening on {ran}"
    assert drops_logged(procs.log_text()) == len(ports)

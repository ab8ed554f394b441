"""Hosts as network namespaces on this machine: what a test needs to run aiway on two.

``hosts(n)`` creates ``n`` namespaces (names unique to this process), joins
them into one segment (a bridge in host 0, a veth pair to each other host),
gives each an address on ``10.231.0.0/24`` (host k: ``10.231.0.<k+1>``), brings up
loopback in each, and on exit kills every process started through ``Host.popen``
(by pid, then by the environment marker) and deletes the namespaces. Traffic
stays between those namespaces and their own loopbacks.

Skips cleanly unless this is root with ``ip`` on the PATH and ``ip netns`` works.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.unit.actors.runtime.thespian import processes

IP = shutil.which("ip")


def _ip(*args: str) -> None:
    assert IP is not None
    subprocess.run([IP, *args], check=True, capture_output=True, timeout=10)


def require_netns() -> None:
    """Skip the test unless namespaces can be made here."""
    if IP is None:
        pytest.skip("the ip command is missing")
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")


@attrs.define
class Host:
    """One namespace: its name, its address, the processes started in it."""

    name: str
    address: str
    marker: str
    started: list[subprocess.Popen[bytes]] = attrs.field(factory=list)

    def command(self, *args: str) -> list[str]:
        """``args`` run inside this namespace."""
        assert IP is not None
        return [IP, "netns", "exec", self.name, *args]

    def popen(
        self, args: list[str], env: dict[str, str], output: Path, cwd: Path
    ) -> subprocess.Popen[bytes]:
        """Start ``args`` in this namespace, output (both streams) to ``output``."""
        with output.open("ab") as sink:
            process = subprocess.Popen(
                self.command(*args),
                cwd=cwd,
                env=env | {"NETNS_TEST_HOST": self.marker},
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def run(
        self, args: list[str], env: dict[str, str], output: Path, cwd: Path, timeout: float = 60
    ) -> int:
        """Run ``args`` here to its end; its exit code."""
        process = self.popen(args, env, output, cwd)
        return process.wait(timeout)

    def unreachable(self, address: str, cut: bool = True) -> None:
        """From here, ``address`` fails at once (an unreachable route: a network that does
        not reach it yet); ``cut=False`` takes the route away again."""
        _ip("-n", self.name, "route", "add" if cut else "del", "unreachable", f"{address}/32")

    def leftovers(self) -> list[int]:
        """Live processes started here (and their descendants, by the marker)."""
        return processes.with_marker(f"NETNS_TEST_HOST={self.marker}")


@contextlib.contextmanager
def hosts(count: int = 2) -> Iterator[list[Host]]:
    """``count`` namespaces joined to the first one by veth pairs; removed afterwards."""
    require_netns()
    tag = f"aw{os.getpid() % 100000}"
    made: list[str] = []
    found: list[Host] = []
    try:
        for k in range(count):
            name = f"{tag}h{k}"
            _ip("netns", "add", name)
            made.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        # one segment: a bridge in host 0, every other host on a veth port of it
        _ip("-n", made[0], "link", "add", "br0", "type", "bridge")
        _ip("-n", made[0], "addr", "add", "10.231.0.1/24", "dev", "br0")
        _ip("-n", made[0], "link", "set", "br0", "up")
        found.append(Host(made[0], "10.231.0.1", f"{tag}-0"))
        for k in range(1, count):
            near, far = f"{tag}a{k}", f"{tag}b{k}"
            _ip("link", "add", near, "type", "veth", "peer", "name", far)
            _ip("link", "set", near, "netns", made[0])
            _ip("link", "set", far, "netns", made[k])
            _ip("-n", made[0], "link", "set", near, "master", "br0")
            _ip("-n", made[0], "link", "set", near, "up")
            _ip("-n", made[k], "addr", "add", f"10.231.0.{k + 1}/24", "dev", far)
            _ip("-n", made[k], "link", "set", far, "up")
            found.append(Host(made[k], f"10.231.0.{k + 1}", f"{tag}-{k}"))
        yield found
    finally:
        for host in found:
            for process in host.started:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
            processes.kill(host.leftovers())
        for name in reversed(made):
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "del", name)

"""aiway on two hosts: network namespaces joined by a veth pair, each its own address.

The leader (``aiway headless --engine thespian --ip A --require model``) runs
on host ``a`` with the fake Ollama server on its loopback; ``aiway member
--ip B --convention A:1900 --capability model`` runs on host ``b``. The
core (Conductor, registry, avatar) is placed on ``b``; the stream manager and
the surface stay on ``a``. Root only (skipped otherwise); every namespace and
process is removed afterwards (``hosts``).
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

from tests.netns.conftest import AIWAY, ROOT, Pair
from tests.waiting import wait_until_sync

#: what a signal gets: a bound, not a timing (the measured times are in docs/TWO_MACHINES.md)
EXIT_BOUND = 15.0


def wait_exit(process: Any, bound: float = EXIT_BOUND) -> int:
    try:
        code: int = process.wait(bound)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {bound}s after the signal") from None
    return code


def grown(pair: Pair, baseline: int, by: int) -> bool:
    return len(pair.b.leftovers()) >= baseline + by


def test_a_member_started_first_hosts_the_core_and_the_leader_answers(pair: Pair) -> None:
    member = pair.member()
    idle = len(pair.b.leftovers())
    started = time.monotonic()
    leader = pair.leader("--prompt", "hi")
    # the core's three cells appear on the member's host while the answer streams
    wait_until_sync(lambda: grown(pair, idle, 3), timeout=30, what="the core on the member")
    assert leader.wait(60) == 0, pair.output("leader")
    assert "yollayah> " in pair.output("leader")
    assert time.monotonic() - started < 60
    # the leader stopped its cells on the member when it ended
    wait_until_sync(lambda: len(pair.b.leftovers()) <= idle, timeout=20, what="cells to stop")
    status = pair.tmp / "status.txt"
    command = [*AIWAY, "status", "--ip", pair.b.address]
    assert pair.b.run(command, pair.env(pair.b), status, ROOT) == 0, status.read_text()
    assert f"{pair.b.address}:1900" in status.read_text()
    assert "aiway.model=True" in status.read_text()
    member.send_signal(signal.SIGTERM)
    assert wait_exit(member) == 0, pair.output("member")
    assert not pair.b.leftovers()


def test_a_member_started_after_the_leader_joins_and_the_leader_answers(pair: Pair) -> None:
    leader = pair.leader("--prompt", "hi")
    # the leader's admin is up (its processes exist) before the member starts
    wait_until_sync(lambda: len(pair.a.leftovers()) >= 4, timeout=20, what="the leader's admin")
    member = pair.member()
    assert leader.wait(60) == 0, pair.output("leader")
    assert "yollayah> " in pair.output("leader")
    member.send_signal(signal.SIGINT)
    assert wait_exit(member) == 0, pair.output("member")


def test_sigterm_while_placing_ends_the_leader_and_everything_it_started(pair: Pair) -> None:
    fake = len(pair.a.leftovers())
    leader = pair.leader("--prompt", "hi")
    wait_until_sync(lambda: len(pair.a.leftovers()) >= fake + 3, timeout=20, what="its admin")
    leader.send_signal(signal.SIGTERM)
    assert wait_exit(leader) != 0
    wait_until_sync(
        lambda: len(pair.a.leftovers()) == fake, timeout=EXIT_BOUND, what="its system to end"
    )


def test_sigterm_mid_answer_ends_the_leader_and_its_cells_on_the_member(pair: Pair) -> None:
    member = pair.member()
    idle = len(pair.b.leftovers())
    leader = pair.leader("--prompt", "hi")
    wait_until_sync(lambda: grown(pair, idle, 3), timeout=30, what="the core on the member")
    wait_until_sync(
        lambda: "yollayah> " in pair.output("leader"), timeout=20, what="the answer to start"
    )
    leader.send_signal(signal.SIGTERM)
    wait_exit(leader)
    wait_until_sync(
        lambda: len(pair.b.leftovers()) <= idle, timeout=EXIT_BOUND, what="the cells to end"
    )
    member.send_signal(signal.SIGTERM)
    assert wait_exit(member) == 0


def test_a_member_without_the_convention_secret_gets_nothing(pair: Pair) -> None:
    other = pair.tmp / "other.secret"
    other.write_text("x" * 64)
    other.chmod(0o600)
    pair.member("--secret-file", str(other))
    idle = len(pair.b.leftovers())
    leader = pair.leader("--prompt", "hi")
    assert wait_exit(leader, 40) == 3
    assert "no system of the convention offers aiway.model" in pair.output("leader")
    assert len(pair.b.leftovers()) == idle  # nothing was created on it

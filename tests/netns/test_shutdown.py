"""SIGTERM and SIGINT end every Thespian mode on two hosts, in every state, within a bound.

``aiway serve --engine thespian`` while it waits for a member (no member yet)
and while an answer streams into a surface attached with ``aiway headless
--connect``; ``aiway member`` while idle and while it hosts the core of an
answer in flight. Each is a deadline, not a timing: measured times are in
docs/TWO_MACHINES.md.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.netns.conftest import AIWAY, ROOT, Pair
from tests.netns.test_two_hosts import EXIT_BOUND, wait_exit
from tests.waiting import wait_until_sync

SIGNALS = [signal.SIGTERM, signal.SIGINT]
CORE = 3


def attach_and_ask(pair: Pair) -> subprocess.Popen[bytes]:
    """A surface on the leader's host that attaches to the daemon and asks one question."""
    return pair.a.popen(
        [*AIWAY, "headless", "--connect", "--prompt", "hi"],
        pair.env(pair.a),
        pair.tmp / "client.txt",
        ROOT,
    )


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_serve_ends_on_a_signal_while_it_waits_for_a_member(
    slow_pair: Pair, sig: signal.Signals
) -> None:
    pair = slow_pair
    fake = len(pair.a.leftovers())
    daemon = pair.serve()
    wait_until_sync(lambda: len(pair.a.leftovers()) >= fake + 3, timeout=20, what="its admin")
    daemon.send_signal(sig)
    wait_exit(daemon)
    wait_until_sync(
        lambda: len(pair.a.leftovers()) == fake, timeout=EXIT_BOUND, what="its system to end"
    )


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_serve_ends_on_a_signal_while_an_answer_streams(
    slow_pair: Pair, sig: signal.Signals
) -> None:
    pair = slow_pair
    member = pair.member()
    idle = len(pair.b.leftovers())
    fake = len(pair.a.leftovers())
    daemon = pair.serve()
    wait_until_sync(lambda: len(pair.b.leftovers()) >= idle + CORE, timeout=30, what="the core")
    client = attach_and_ask(pair)
    wait_until_sync(
        lambda: "yollayah> " in pair.output("client"), timeout=30, what="the answer to stream"
    )
    daemon.send_signal(sig)
    wait_exit(daemon)
    wait_exit(client)
    wait_until_sync(
        lambda: len(pair.a.leftovers()) == fake, timeout=EXIT_BOUND, what="the leader to end"
    )
    wait_until_sync(
        lambda: len(pair.b.leftovers()) <= idle, timeout=EXIT_BOUND, what="its cells to end"
    )
    member.send_signal(signal.SIGTERM)
    assert wait_exit(member) == 0


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_member_ends_on_a_signal_while_it_hosts_an_answer_in_flight(
    slow_pair: Pair, sig: signal.Signals
) -> None:
    pair = slow_pair
    member = pair.member()
    idle = len(pair.b.leftovers())
    leader = pair.leader("--prompt", "hi")
    wait_until_sync(lambda: len(pair.b.leftovers()) >= idle + CORE, timeout=30, what="the core")
    wait_until_sync(
        lambda: "yollayah> " in pair.output("leader"), timeout=30, what="the answer to stream"
    )
    member.send_signal(sig)
    assert wait_exit(member) == 0, pair.output("member")
    assert not pair.b.leftovers()
    # the leader hears its member left: the answer fails with the member's address
    assert wait_exit(leader, 40) == 1, pair.output("leader")
    assert f"the member at {pair.b.address} holding the core" in pair.output("leader")

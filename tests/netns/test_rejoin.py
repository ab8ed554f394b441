"""Join times after restarts, on three hosts: a member restarted, and a leader restarted.

Host ``a`` leads (``convention_leader``: the ``ThespianHost`` a leader session runs,
printing when its members come and go), ``b`` and ``c`` run ``aiway member``. A
member registers with its leader again every 2 s (``ThespianConfig.rejoin_period``),
so a member restarted while the leader is up joins at its first registration,
and a restarted leader is joined by every member within one period of its admin
being up. The bounds are derived from that period, with slack for a loaded
machine; the measured times are printed (``pytest -s``) and written into
docs/TWO_MACHINES.md ("Join times").
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from aiway.actors.runtime.thespian import ThespianConfig
from tests.netns.conftest import ROOT, Pair
from tests.netns.hosts import Host
from tests.netns.test_two_hosts import wait_exit
from tests.waiting import wait_until_sync

PORT = 1900
#: how often a member registers with its leader again
PERIOD = ThespianConfig().rejoin_period
#: from a system's admin being up to the other side seeing the member: one period in
#: theory, three here (a loaded 2-core machine delays the registration and its handling)
JOIN_BOUND = 3 * PERIOD
#: a process's own start (Python, aiway, its Thespian admin) on a loaded machine
START_BOUND = 30.0


class Leader:
    """``convention_leader`` on host ``a``; ``events`` reads what it printed."""

    def __init__(self, pair: Pair, name: str) -> None:
        self.output = pair.tmp / f"{name}.txt"
        self.started = time.time()
        self.process = pair.a.popen(
            [sys.executable, "-m", "tests.netns.convention_leader", pair.a.address, str(PORT)],
            pair.env(pair.a),
            self.output,
            ROOT,
        )

    def events(self) -> list[tuple[str, str, float]]:
        """(what, who, wall time) for each line: ``up``, ``joined ADDR``, ``left ADDR``."""
        found = []
        for line in self.output.read_text().splitlines():
            parts = line.split()
            if parts[:1] == ["up"] and len(parts) == 2:
                found.append(("up", "", float(parts[1])))
            elif parts[:1] in (["joined"], ["left"]) and len(parts) == 3:
                found.append((parts[0], parts[1], float(parts[2])))
        return found

    def up(self) -> float:
        wait_until_sync(
            lambda: (
                any(what == "up" for what, _, _ in self.events()) or self.process.poll() is not None
            ),
            timeout=START_BOUND,
            what="the leader's admin",
        )
        up = [when for what, _, when in self.events() if what == "up"]
        assert up, self.output.read_text()
        return up[0]

    def joined(self, host: Host, after: float) -> float:
        """When ``host``'s member joined (the first time after ``after``)."""
        found: list[float] = []

        def seen() -> bool:
            found[:] = [
                when
                for what, who, when in self.events()
                if what == "joined" and who.startswith(f"{host.address}:") and when >= after
            ]
            return bool(found)

        wait_until_sync(seen, timeout=START_BOUND, what=f"{host.name} to join")
        return found[0]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert wait_exit(self.process) == 0, self.output.read_text()


def member_up(pair: Pair, host: Host, name: str) -> tuple[subprocess.Popen[bytes], float, float]:
    """``aiway member`` on ``host``: the process, when it was started, when it said its
    admin was up (wall times)."""
    started = time.time()
    process = pair.member(name=name, host=host)
    assert process.poll() is None, pair.output(name)
    # its one line so far says its admin is up: the file changed then
    return process, started, (pair.tmp / f"{name}.txt").stat().st_mtime


def report(what: str, figures: dict[str, float]) -> None:
    shown = ", ".join(f"{name} {value:+.2f} s" for name, value in figures.items())
    print(f"join time: {what}: {shown}")


def test_a_member_restarted_while_the_leader_is_up_rejoins(trio: Pair) -> None:
    assert trio.c is not None
    leader = Leader(trio, "leader")
    leader.up()
    member_b, _, _ = member_up(trio, trio.b, "member-b")
    member_up(trio, trio.c, "member-c")
    leader.joined(trio.b, 0)
    leader.joined(trio.c, 0)

    member_b.send_signal(signal.SIGTERM)
    assert wait_exit(member_b) == 0, trio.output("member-b")
    wait_until_sync(
        lambda: any(what == "left" and who.startswith(f"{trio.b.address}:")
                    for what, who, _ in leader.events()),
        timeout=START_BOUND,
        what="the leader to see b leave",
    )  # fmt: skip
    _, started, admin_up = member_up(trio, trio.b, "member-b-again")
    joined = leader.joined(trio.b, started)
    report(
        "member b restarted while the leader is up",
        # it registers as its admin starts, before it says so: the second figure is
        # negative then
        {"from its start": joined - started, "from its 'admin up' line": joined - admin_up},
    )
    assert joined - admin_up < JOIN_BOUND, leader.output.read_text()
    assert joined - started < START_BOUND
    # c stayed in the convention throughout
    assert not any(
        what == "left" and who.startswith(f"{trio.c.address}:") for what, who, _ in leader.events()
    ), leader.output.read_text()
    leader.stop()


def test_a_leader_restarted_while_two_members_are_up_is_rejoined_by_both(trio: Pair) -> None:
    assert trio.c is not None
    first = Leader(trio, "leader")
    first.up()
    member_up(trio, trio.b, "member-b")
    member_up(trio, trio.c, "member-c")
    first.joined(trio.b, 0)
    first.joined(trio.c, 0)
    first.stop()

    again = Leader(trio, "leader-again")
    up = again.up()
    joined = {host.name: again.joined(host, 0) for host in (trio.b, trio.c)}
    last = max(joined.values())
    report(
        "leader restarted with two members up",
        {
            "leader start to its admin up": up - again.started,
            "admin up to the first member": min(joined.values()) - up,
            "admin up to both": last - up,
            "leader start to both": last - again.started,
        },
    )
    assert last - up < JOIN_BOUND, again.output.read_text()
    assert last - again.started < START_BOUND
    again.stop()

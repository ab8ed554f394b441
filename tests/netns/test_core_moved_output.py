"""After the core moves to another member, the headless surface shows no turn a second time.

Three hosts: the leader on ``a`` (``aiway headless``), the core on the member on
``b``, a second member on ``c``. ``b`` dies (SIGKILL of every process of its
namespace) while the second answer streams; the core is placed again on ``c``
and seeded with the conversation saved so far. That conversation comes back
under the ids the surface already showed it with, so the headless log writes
each earlier turn once, and the third prompt is answered after them.
"""

from __future__ import annotations

from tests.netns.conftest import Pair
from tests.netns.hosts import Host
from tests.unit.actors.runtime.thespian import processes
from tests.waiting import wait_until_sync

CORE = 3  # the registry, the avatar and the Conductor


def crash(host: Host) -> None:
    """Every process of ``host`` killed at once, as a machine that lost power."""
    processes.kill(host.leftovers())
    wait_until_sync(lambda: not host.leftovers(), timeout=10, what="the processes to die")


def test_a_core_placed_again_brings_back_no_turn_the_surface_showed(trio: Pair) -> None:
    assert trio.c is not None
    trio.member(name="member-b")
    idle_b = len(trio.b.leftovers())
    leader = trio.leader("--prompt", "remember 42", "--prompt", "hi", "--prompt", "again")
    wait_until_sync(
        lambda: len(trio.b.leftovers()) >= idle_b + CORE, timeout=30, what="the core on b"
    )
    trio.member(name="member-c", host=trio.c)
    # the first answer is over (saved), the second streams: then b dies
    wait_until_sync(
        lambda: trio.output("leader").count("yollayah> ") >= 2, timeout=60, what="the 2nd answer"
    )
    crash(trio.b)
    code = leader.wait(90)
    assert code == 1, (code, trio.output("leader"))  # one answer failed: the cut one
    out = trio.output("leader")
    lines = out.splitlines()
    assert f"the member at {trio.b.address} holding the core" in out, out
    # each prompt once, in order, and the answers: the first whole, the cut one, the third
    prompts = [line for line in lines if line.startswith("you> ")]
    assert prompts == ["you> remember 42", "you> hi", "you> again"], out
    answers = [line for line in lines if line.startswith("yollayah> ")]
    assert len(answers) == 3, out
    first, cut, third = answers
    whole = [f"tok{i}" for i in range(1, 401)]
    assert first.removeprefix("yollayah> ").split() == whole, out
    assert cut != first and third == first, out
    assert lines.index("you> again") > lines.index(cut), out

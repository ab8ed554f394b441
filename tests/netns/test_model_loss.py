"""The core on one member, the model on another: the model's member dies (SIGKILL).

Three hosts: the leader on ``a`` (``--require model --require core``), a member
on ``b`` that offers the core (``--capability core``) and no model, and a member
on ``c`` that runs the model (``--backend ollama`` against the fake server on
``c``'s address) and does not offer ``core``. The core can only be placed on
``b``, and the model only runs on ``c``. Killing ``c`` mid-answer must end that
answer with an error that names ``c`` (before: it waited for tokens forever), and
the next prompt must be refused at once, saying no member serves the model.
A fourth host ``d`` running the model too takes over from ``c``: the answer cut
says so, and the next prompt streams from ``d``. Root only (skipped otherwise).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.conftest import AIWAY, NO_OLLAMA, ROOT, Pair, start_fake, write_secret
from tests.netns.hosts import Host, hosts
from tests.netns.test_member_loss import NOTICE_BOUND, crash
from tests.waiting import wait_until_sync


@pytest.fixture
def split(tmp_path: Path) -> Iterator[tuple[Pair, str]]:
    """The three hosts, and the fake server's URL on ``c`` (the leader has no Ollama)."""
    with hosts(3) as (a, b, c):
        for host in (a, b, c):
            write_secret(tmp_path / host.name, "s")
        url = start_fake(c, tmp_path, "--tokens", "400", "--rate", "40", "--host", c.address)
        yield Pair(a, b, tmp_path, NO_OLLAMA, c), url


def members_seen(pair: Pair, *addresses: str) -> bool:
    """True once the leader's admin lists each of ``addresses`` as a member."""
    out = pair.tmp / "status.txt"
    out.write_text("")
    command = [*AIWAY, "status", "--ip", pair.a.address]
    if pair.a.run(command, pair.env(pair.a), out, ROOT) != 0:
        return False
    shown = out.read_text()
    return all(f"{address}:1900" in shown for address in addresses)


def start(pair: Pair, url: str, also: str = "") -> subprocess.Popen[bytes]:
    """The model's member, then the core's member cut off from the leader's host (an
    unreachable route), then the leader; once the leader knows the model's member (and
    ``also``'s: so the session streams from them), the route goes and the core's member
    joins at its next registration, which places the core on ``b``.

    Both members are up before the leader starts, so what must fit in the leader's
    10 s wait for a member that offers ``core`` is two registrations (2 s apart at most
    each) and a status poll, not a process starting."""
    assert pair.c is not None
    pair.member("--backend", "ollama", "--ollama-host", url, name="member-c", host=pair.c)
    pair.b.unreachable(pair.a.address)
    pair.member("--capability", "core", name="member-b")
    leader = pair.leader("--require", "core", "--prompt", "hi", "--prompt", "again")
    known = [pair.c.address, *([also] if also else [])]
    wait_until_sync(
        lambda: members_seen(pair, *known) or leader.poll() is not None,
        timeout=30,
        what="the model's member to join the leader",
    )
    pair.b.unreachable(pair.a.address, cut=False)
    return leader


def test_the_model_member_killed_mid_answer_ends_it_and_the_next_prompt_is_refused(
    split: tuple[Pair, str],
) -> None:
    pair, url = split
    assert pair.c is not None
    leader = start(pair, url)
    wait_until_sync(
        lambda: "yollayah> " in pair.output("leader"), timeout=30, what="the answer to start"
    )
    out = pair.output("leader")
    assert f"on the member at {pair.c.address}" in out, out
    crash(pair.c)
    # the answer ends (it waited forever before), naming the member that went away
    gone = f"the member at {pair.c.address} running the model (tiny) went away"
    wait_until_sync(lambda: gone in pair.output("leader"), timeout=NOTICE_BOUND, what="the error")
    # the next prompt is refused at once, and says what to do; the session ends (code 1)
    assert leader.wait(60) == 1, pair.output("leader")
    lines = pair.output("leader").splitlines()
    errors = [line for line in lines if line.startswith("   ! error: ")]
    assert len(errors) == 2, lines
    assert gone in errors[0] and "no member of the convention serves the model" in errors[0]
    assert errors[1] == errors[0], lines
    again = lines.index("you> again")
    assert lines.index(errors[0]) < again < lines.index(errors[1], again), lines
    # the core was never lost: it still ran on b, and nothing said otherwise
    assert "holding the core" not in pair.output("leader")


@pytest.fixture
def split_with_spare(tmp_path: Path) -> Iterator[tuple[Pair, str, Host, str]]:
    """``split``, and a fourth host ``d`` with a fake server of its own on its address."""
    with hosts(4) as (a, b, c, d):
        for host in (a, b, c, d):
            write_secret(tmp_path / host.name, "s")
        url_c = start_fake(c, tmp_path, "--tokens", "400", "--rate", "40", "--host", c.address)
        spare = tmp_path / "spare"
        spare.mkdir()
        url_d = start_fake(d, spare, "--tokens", "30", "--rate", "40", "--host", d.address)
        yield Pair(a, b, tmp_path, NO_OLLAMA, c), url_c, d, url_d


def test_the_model_member_killed_mid_answer_hands_over_to_another_that_serves_it(
    split_with_spare: tuple[Pair, str, Host, str],
) -> None:
    pair, url_c, d, url_d = split_with_spare
    assert pair.c is not None
    # both model members are known before the core is placed: c (first by address) serves
    pair.member("--backend", "ollama", "--ollama-host", url_d, name="member-d", host=d)
    leader = start(pair, url_c, also=d.address)
    wait_until_sync(
        lambda: "yollayah> " in pair.output("leader"), timeout=30, what="the answer to start"
    )
    assert f"on the member at {pair.c.address}" in pair.output("leader")
    crash(pair.c)
    gone = (
        f"   ! error: the member at {pair.c.address} running the model (tiny) went away; "
        f"it runs on {d.address} now"
    )
    assert leader.wait(NOTICE_BOUND + 60) == 1, pair.output("leader")
    lines = pair.output("leader").splitlines()
    assert gone in lines, lines
    # the next prompt is answered whole by d's model (its server streams 30 tokens)
    again = lines.index("you> again")
    assert again > lines.index(gone), lines
    answer = next(line for line in lines[again:] if line.startswith("yollayah> "))
    assert answer.split()[1:] == [f"tok{i}" for i in range(1, 31)], answer
    assert lines[lines.index(answer) + 1].startswith("   · tiny · 30 tokens"), lines
    assert "holding the core" not in pair.output("leader")

"""A daemon whose model's member went away refuses a prompt, then answers once one joins.

Three hosts: ``aiway serve --engine thespian --require model --require core`` on
``a`` (a daemon: a surface attached to it sends prompts over time), the core on a
member on ``b`` that offers ``core`` and no model, and the model on a member on
``c`` (``--backend ollama`` against the fake server on ``c``'s address; the
leader has no Ollama). The model's member stops: with no member serving the
model, the next prompt is refused at once and says what to do. A model member
then joins (``aiway member --capability model --backend ollama`` on ``c``
again), and the prompt after that is answered whole from it. Root only (skipped
otherwise).
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.conftest import AIWAY, NO_OLLAMA, ROOT, Pair, start_fake, write_secret
from tests.netns.hosts import hosts
from tests.netns.test_model_loss import members_seen
from tests.netns.test_two_hosts import wait_exit
from tests.waiting import wait_until_sync

#: the answer of the fake server on ``c``
TOKENS = 30
REFUSAL = "no member of the convention serves the model"


@pytest.fixture
def split(tmp_path: Path) -> Iterator[tuple[Pair, str]]:
    """The three hosts, and the fake server's URL on ``c`` (the leader has no Ollama)."""
    with hosts(3) as (a, b, c):
        for host in (a, b, c):
            write_secret(tmp_path / host.name, "s")
        url = start_fake(c, tmp_path, "--tokens", str(TOKENS), "--rate", "40", "--host", c.address)
        yield Pair(a, b, tmp_path, NO_OLLAMA, c), url


@contextlib.contextmanager
def surface(pair: Pair) -> Iterator[subprocess.Popen[bytes]]:
    """``aiway headless --connect --follow`` on ``a``: its standard input is a pipe the test
    types prompts into, one a line (closed on the way out; the process is stopped by pid
    with the hosts)."""
    host = pair.a
    with (pair.tmp / "surface.txt").open("ab") as sink:
        process = subprocess.Popen(
            host.command(*AIWAY, "headless", "--connect", "--follow"),
            cwd=ROOT,
            env=pair.env(host) | {"NETNS_TEST_HOST": host.marker},
            stdin=subprocess.PIPE,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    host.started.append(process)
    try:
        yield process
    finally:
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()


def type_line(process: subprocess.Popen[bytes], line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(line.encode() + b"\n")
    process.stdin.flush()


def errors(lines: list[str]) -> list[str]:
    """The answers' error lines a surface shows."""
    return [line for line in lines if line.startswith("   ! error: ")]


def answer(lines: list[str]) -> str | None:
    """The line of the fake server's whole answer (tok1 to tok30), once it is over (its
    figures under it)."""
    whole = [f"tok{i}" for i in range(1, TOKENS + 1)]
    for line, below in itertools.pairwise(lines):
        if (
            line.startswith("yollayah> ")
            and line.removeprefix("yollayah> ").split() == whole
            and below.startswith(f"   · tiny · {TOKENS} tokens")
        ):
            return line
    return None


def model_member(pair: Pair, url: str, name: str) -> subprocess.Popen[bytes]:
    assert pair.c is not None
    return pair.member("--backend", "ollama", "--ollama-host", url, name=name, host=pair.c)


def test_a_model_member_that_joins_after_a_refusal_answers_the_next_prompt(
    split: tuple[Pair, str],
) -> None:
    pair, url = split
    assert pair.c is not None
    c = pair.c.address
    # the model's member first; the core's member reaches the leader only once the leader
    # knows the model's (so the session streams from it), then the core is placed on b
    first = model_member(pair, url, "member-c")
    pair.b.unreachable(pair.a.address)
    core = pair.member("--capability", "core", name="member-b")
    leader = pair.serve("--require", "core", name="daemon")
    wait_until_sync(
        lambda: members_seen(pair, c) or leader.poll() is not None,
        timeout=30,
        what="the model's member to join the leader",
    )
    pair.b.unreachable(pair.a.address, cut=False)
    pair.serving(leader, "daemon")

    # the model's member goes (Ctrl+C): the leader sees it leave
    first.send_signal(signal.SIGINT)
    assert wait_exit(first) == 0, pair.output("member-c")
    wait_until_sync(
        lambda: not members_seen(pair, c),
        timeout=30,
        what="the leader to see the model's member leave",
    )
    with surface(pair) as attached:
        wait_until_sync(
            lambda: "connected as" in pair.output("surface") or attached.poll() is not None,
            timeout=30,
            what="the surface to attach",
        )
        # the session streams from the model's member (the leader has no Ollama)
        wait_until_sync(
            lambda: f"(on the member at {c}" in pair.output("surface"),
            timeout=30,
            what="the session's model line",
        )
        # the prompt is refused at once, saying why and what to do
        type_line(attached, "hi")
        wait_until_sync(
            lambda: REFUSAL in pair.output("surface") or attached.poll() is not None,
            timeout=30,
            what="the refusal",
        )
        lines = pair.output("surface").splitlines()
        (refusal,) = errors(lines)
        assert REFUSAL in refusal and "start one (aiway member" in refusal, lines
        assert f"the member at {c} running the model (tiny) went away" in refusal
        assert not [line for line in lines if line.startswith("yollayah> tok")], lines

        # a model member joins: the next prompt is answered whole, from it
        model_member(pair, url, "member-c2")
        wait_until_sync(
            lambda: members_seen(pair, c),
            timeout=30,
            what="the new model member to join the leader",
        )
        type_line(attached, "again")
        shown = lambda: answer(pair.output("surface").splitlines())  # noqa: E731
        wait_until_sync(
            lambda: shown() is not None or attached.poll() is not None,
            timeout=60,
            what="the answer",
        )
        lines = pair.output("surface").splitlines()
        whole = answer(lines)
        assert whole is not None and lines.index(whole) > lines.index(refusal), lines
        assert errors(lines) == [refusal], lines

        attached.send_signal(signal.SIGTERM)
        wait_exit(attached)
    leader.send_signal(signal.SIGTERM)
    assert wait_exit(leader) == 0, pair.output("daemon")
    core.send_signal(signal.SIGTERM)
    assert wait_exit(core) == 0, pair.output("member-b")

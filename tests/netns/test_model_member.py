"""The model where the hardware is: the stream manager and its backend on the member.

``aiway member --capability model --backend ollama --ollama-host URL`` on host
``b`` runs the stream manager against the fake Ollama server that listens on
``b``'s address only; the leader on ``a`` (``--require model``) has no Ollama
(its address leads nowhere), so every token it shows came through the member.
Either start order. Root only (skipped otherwise).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.netns.conftest import ROOT, ModelPair
from tests.netns.test_two_hosts import wait_exit
from tests.waiting import wait_until_sync


def member_with_model(pair: ModelPair) -> subprocess.Popen[bytes]:
    return pair.hosts.member("--backend", "ollama", "--ollama-host", pair.model_url)


def chats_on_member(pair: ModelPair) -> int:
    """The chat streams the fake server on the member's host finished."""
    hosts = pair.hosts
    out = hosts.tmp / "stats.txt"
    out.write_text("")
    script = (
        "import json, urllib.request; "
        f"print(json.dumps(json.load(urllib.request.urlopen('{pair.model_url}/_fake/stats'))))"
    )
    assert hosts.b.run([sys.executable, "-c", script], hosts.env(hosts.b), out, ROOT) == 0
    return int(json.loads(out.read_text())["streams_finished"])


def answered(output: str) -> bool:
    return "yollayah> " in output and " tok59" in output


def test_a_member_with_the_model_started_first_streams_the_answer_to_the_leader(
    model_pair: ModelPair,
) -> None:
    pair = model_pair.hosts
    idle = len(pair.b.leftovers())  # the fake server
    member = member_with_model(model_pair)
    assert "the model: tiny on ollama" in pair.output("member")
    leader = pair.leader("--prompt", "hi")
    assert leader.wait(60) == 0, pair.output("leader")
    shown = pair.output("leader")
    assert answered(shown), shown
    assert f"on the member at {pair.b.address}" in shown
    assert chats_on_member(model_pair) == 1
    member.send_signal(signal.SIGTERM)
    assert wait_exit(member) == 0, pair.output("member")
    wait_until_sync(lambda: len(pair.b.leftovers()) <= idle, timeout=15, what="its system to end")


def test_a_member_with_the_model_started_after_the_leader_streams_the_answer(
    model_pair: ModelPair,
) -> None:
    pair = model_pair.hosts
    leader = pair.leader("--prompt", "hi")
    wait_until_sync(lambda: len(pair.a.leftovers()) >= 3, timeout=20, what="the leader's admin")
    member = member_with_model(model_pair)
    assert leader.wait(60) == 0, pair.output("leader")
    assert answered(pair.output("leader")), pair.output("leader")
    assert chats_on_member(model_pair) == 1
    member.send_signal(signal.SIGINT)
    assert wait_exit(member) == 0, pair.output("member")


@pytest.mark.embedded
def test_a_member_with_the_embedded_model_answers_the_leader(model_pair: ModelPair) -> None:
    """The issue's "done when": the embedded model on the member, the leader elsewhere."""
    pair = model_pair.hosts
    member = pair.member("--backend", "embedded")
    assert "on embedded" in pair.output("member"), pair.output("member")
    leader = pair.leader("--prompt", "Say hello.")
    assert leader.wait(120) == 0, pair.output("leader")
    shown = pair.output("leader")
    # its wording is the model's business: an answer streamed, with the member's metadata
    answer = shown.split("yollayah>", 1)[1].split("\n", 1)[0] if "yollayah>" in shown else ""
    assert answer.strip(), shown
    assert "on embedded (on the member at" in shown, shown
    assert chats_on_member(model_pair) == 0  # the fake server was never asked
    member.send_signal(signal.SIGTERM)
    assert wait_exit(member) == 0, pair.output("member")


def test_members_lists_both_hosts_and_where_the_core_and_the_model_run(
    model_pair: ModelPair,
) -> None:
    pair = model_pair.hosts
    member = member_with_model(model_pair)
    leader = pair.leader("--prompt", "/members")
    assert leader.wait(60) == 0, pair.output("leader")
    shown = pair.output("leader")
    a, b = f"{pair.a.address}:1900", f"{pair.b.address}:1900"
    assert f"convention led by {a}" in shown, shown
    assert f"{a} " in shown and "this system, leader" in shown, shown
    assert f"{b} " in shown and "aiway.model=True" in shown, shown
    assert "aiway.streams=tiny on ollama" in shown, shown
    for name in ("registry", "avatar", "conductor"):
        assert f"{name}: on {b} (member)" in shown, shown
    assert f"streams (the model, tiny on ollama): on {b} (member)" in shown, shown
    assert f"surfaces: in this process ({a})" in shown, shown
    member.send_signal(signal.SIGTERM)
    assert wait_exit(member) == 0, pair.output("member")

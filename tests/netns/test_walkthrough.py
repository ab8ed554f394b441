"""docs/TWO_MACHINES.md as a newcomer follows it: the member with the model, the daemon
on the leader, a terminal attached to it, ``aiway status`` on each machine, Ctrl+C.

Two hosts: ``b`` runs ``aiway member --ip B --convention A:1900 --capability model
--backend ollama --ollama-host URL`` (the fake server on ``b``'s address stands for that
machine's Ollama), ``a`` runs ``aiway serve --engine thespian --admin-port 1900 --ip A
--require model`` exactly as the document writes it (the leader has no Ollama: every
token comes from the member). Root only (skipped otherwise).
"""

from __future__ import annotations

import signal

from tests.netns.conftest import AIWAY, ROOT, ModelPair
from tests.netns.hosts import Host
from tests.netns.test_model_member import answered, chats_on_member
from tests.netns.test_two_hosts import wait_exit


def run(pair: ModelPair, host: Host, name: str, *args: str) -> tuple[int, str]:
    """``aiway ARGS`` on ``host`` to its end: its exit code and output."""
    hosts = pair.hosts
    out = hosts.tmp / f"{name}.txt"
    code = host.run([*AIWAY, *args], hosts.env(host), out, ROOT)
    return code, out.read_text()


def test_the_walkthrough_with_the_daemon_on_the_leader(model_pair: ModelPair) -> None:
    pair = model_pair.hosts
    a, b = pair.a.address, pair.b.address
    # 3. on the member, with that machine's Ollama
    member = pair.member("--backend", "ollama", "--ollama-host", model_pair.model_url)
    assert f"member: Thespian admin on {b}:1900" in pair.output("member")
    assert "the model: tiny on ollama" in pair.output("member")
    # on the leader, the daemon
    daemon = pair.a.popen(
        [
            *AIWAY,
            "serve",
            "--engine",
            "thespian",
            "--admin-port",
            "1900",
            "--ip",
            a,
            "--require",
            "model",
        ],
        pair.env(pair.a),
        pair.tmp / "daemon.txt",
        ROOT,
    )
    pair.serving(daemon, "daemon")
    # a terminal attached to it: the answer streams from the member
    code, shown = run(model_pair, pair.a, "attached", "headless", "--connect", "--prompt", "hi")
    assert code == 0 and answered(shown), shown
    assert chats_on_member(model_pair) == 1
    # 4. see what runs where: aiway status on each machine, with its address
    code, shown = run(model_pair, pair.a, "status-a", "status", "--ip", a)
    assert code == 0 and f"{a}:1900" in shown and f"{b}:1900" in shown, shown
    # the leader's status says what each member offers (asked of the member itself)
    (member_line,) = [line for line in shown.splitlines() if line.startswith(f"{b}:1900")]
    assert "member" in member_line and "aiway.model=True" in member_line, shown
    code, shown = run(model_pair, pair.b, "status-b", "status", "--ip", b)
    assert code == 0 and f"{a}:1900" in shown and "aiway.model=True" in shown, shown
    # without --ip it looks on 127.0.0.1, where nothing listens (hence the document's --ip)
    code, shown = run(model_pair, pair.a, "status-lo", "status")
    assert code == 3 and "no Thespian convention here" in shown, shown
    code, shown = run(
        model_pair, pair.a, "members", "headless", "--connect", "--prompt", "/members"
    )
    assert code == 0, shown
    for name in ("registry", "avatar", "conductor"):
        assert f"{name}: on {b}:1900 (member)" in shown, shown
    # 5. Ctrl+C on the leader, then on the member
    daemon.send_signal(signal.SIGINT)
    assert wait_exit(daemon) == 0, pair.output("daemon")
    member.send_signal(signal.SIGINT)
    assert wait_exit(member) == 0, pair.output("member")

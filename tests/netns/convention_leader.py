"""A convention's leader that says when its members come and go: the join-time tests' leader.

``python -m tests.netns.convention_leader IP PORT`` starts the ``ThespianHost`` a
leader session runs (multiprocTCPBase, its admin on ``IP:PORT``, the secret
from ``$XDG_CONFIG_HOME``), prints ``up <wall time>`` once its admin is up,
then ``joined <host:port> <wall time>`` and ``left <host:port> <wall time>``
(the member's admin) each time the convention's members change as the host sees them (the
view it places its core by). SIGTERM or SIGINT stop it.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time

from aiway.actors.runtime.thespian import ThespianConfig, ThespianHost


def where(address: str) -> str:
    """``host:port`` of an admin address as Thespian writes it (``ActorAddr-(T|h:p)``)."""
    found = re.search(r"\d+(?:\.\d+){3}:\d+", address)
    return found.group(0) if found else address


async def lead(ip: str, port: int) -> None:
    host = ThespianHost(ThespianConfig(base="multiprocTCPBase", admin_port=port, ip_address=ip))
    seen: set[str] = set()

    def changed() -> None:
        now = time.time()
        members = {where(address) for address in host.members}
        for address in sorted(members - seen):
            print(f"joined {address} {now:.3f}", flush=True)
        for address in sorted(seen - members):
            print(f"left {address} {now:.3f}", flush=True)
        seen.clear()
        seen.update(members)

    host.member_listeners.append(changed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await host.start(wait_for_placement=False)
    try:
        print(f"up {time.time():.3f}", flush=True)
        changed()
        await stop.wait()
    finally:
        await host.stop()


if __name__ == "__main__":
    asyncio.run(lead(sys.argv[1], int(sys.argv[2])))

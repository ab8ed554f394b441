"""Before it authenticates, a peer of ``aiway serve --listen`` costs the daemon almost nothing.

Real daemon processes (fake Ollama on loopback), real TCP sockets on 127.0.0.1.
"""

from __future__ import annotations

import socket

from aiway.actors.protocol import RefusalCode, Refused
from aiway.actors.protocol.framing import FrameDecoder
from tests.fakes.daemons import Processes
from tests.security.daemon_probe import huge_snapshot_frame, send_and_read_all, vm_hwm_kib
from tests.unit.actors.daemon.support import decode_frame


def _frames(data: bytes) -> list[object]:
    return [decode_frame(frame) for frame in FrameDecoder(len(data) + 8).feed(data)]


def test_one_huge_frame_before_the_handshake_is_refused_unread_in_bounded_time_and_memory(
    procs: Processes,
) -> None:
    daemon = procs.daemon("--listen", "127.0.0.1:0")
    port = daemon.tcp_port()
    peak_before = vm_hwm_kib(daemon.process.pid)
    log_before = len(procs.log_text())
    with socket.create_connection(("127.0.0.1", port)) as peer:
        reply = send_and_read_all(peer, huge_snapshot_frame())
    peak_growth_kib = vm_hwm_kib(daemon.process.pid) - peak_before
    logged = len(procs.log_text()) - log_before

    messages = _frames(reply.data)
    assert len(reply.data) < 2048, f"{len(reply.data)} bytes sent back"
    assert [type(m) for m in messages][-1:] == [Refused]
    refusal = messages[-1]
    assert isinstance(refusal, Refused) and refusal.code == RefusalCode.OVERSIZE
    assert logged < 4096, f"{logged} bytes logged"
    assert peak_growth_kib < 20_000, f"peak memory grew {peak_growth_kib} KiB"
    assert reply.seconds < 5, f"the daemon took {reply.seconds:.1f}s to refuse"
    procs.surface()  # the owner still attaches

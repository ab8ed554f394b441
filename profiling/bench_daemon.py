"""The daemon benchmark: what the socket hop adds to a token, and what an idle daemon costs.

Hop latency. This process runs the daemon's side: a ``SurfaceRegistry`` and a
``DaemonServer`` (the real one) on a Unix socket, plus one local surface
actor registered beside the remote ones, as the baseline. A second process,
the client farm (``python -m profiling.bench_daemon farm``), attaches N remote
surfaces, each a ``DaemonLink`` feeding a surface actor there, exactly as
``aiway headless --connect`` does. Tokens are published at 200 a second, each
its own answer (so none merges) and each carrying its publish time
(``time.perf_counter()``: CLOCK_MONOTONIC, one clock for every process on the
machine). A surface's latency is the time from publish to its handler; the
local surface's is the registry and one mailbox, the remote surfaces' adds the
frame encoding, the socket, the client's decoding and its mailbox: the hop.
Rows: p50 and p99 for 1 and for 50 remote surfaces, the local surface of the
same run beside each.

Idle CPU. A real ``aiway serve`` process (against the fake Ollama server)
with 10 remote surfaces attached from the farm, doing nothing but heartbeats
(5 s, the default), measured from ``/proc/<pid>/stat`` (user + system time of
all its threads) over a window; the baseline is the same daemon over the same
window just before, with no surface attached.

``python -m profiling.bench_daemon`` prints the rows with the report's table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from aiway.actors.daemon.address import Address
from aiway.actors.daemon.server import DaemonServer
from aiway.actors.daemon.socketfile import claim_socket
from aiway.actors.protocol import Capability, Published, StateSnapshot, Token
from aiway.actors.registry import RegisterSurface, SurfaceRegistry
from aiway.actors.runtime import ActorSystem, Behaviour, Context, MailboxConfig, handles
from aiway.config import DaemonSettings
from aiway.ui.link.client import DaemonLink, actor_sink
from profiling import goal, row
from profiling.pipeline import fake_ollama
from tests.fakes.isolated import isolated_env

ROOT = Path(__file__).resolve().parents[1]
RATE = 200.0
TOKENS = 2000
QUICK_TOKENS = 400
WARMUP = 20
SURFACE_COUNTS = (1, 50)
IDLE_SURFACES = 10
IDLE_SECONDS = 10.0
QUICK_IDLE_SECONDS = 3.0
HOP_TARGET_MS = 5.0
IDLE_TARGET_PERCENT = 0.5
CAPABILITIES = frozenset({Capability.STREAMING})


class Tally:
    """Latencies of every surface of one process, and an event set once ``wanted`` are in."""

    def __init__(self, wanted: int) -> None:
        self.latencies: list[float] = []
        self.wanted = wanted
        self.done = asyncio.Event()

    def add(self, latency: float) -> None:
        self.latencies.append(latency)
        if len(self.latencies) == self.wanted:
            self.done.set()


class LatencySurface(Behaviour):
    """Records, for each token, the time since its publish stamp (in its text)."""

    def __init__(self, tally: Tally, ready: asyncio.Event) -> None:
        self.tally = tally
        self.ready = ready

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.ready.set()

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        now = time.perf_counter()
        token = msg.message
        if type(token) is Token:
            assert isinstance(token, Token)
            self.tally.add(now - float(token.text))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` fall (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


# -- the client farm (its own process) -----------------------------------------------------


def _surface(tally: Tally, ready: asyncio.Event) -> Callable[[], Behaviour]:
    return lambda: LatencySurface(tally, ready)


async def _farm(address: Address, clients: int, expect: int) -> None:
    """Attach ``clients`` surfaces; print "ready", then (``expect`` > 0) their latencies."""
    system = ActorSystem()
    tally = Tally(clients * expect)
    links: list[DaemonLink] = []
    readies: list[asyncio.Event] = []
    for index in range(clients):
        ready = asyncio.Event()
        readies.append(ready)
        ref = system.spawn(
            f"surface:{index}", _surface(tally, ready), mailbox=MailboxConfig(capacity=256)
        )
        link = DaemonLink(
            address,
            surface_type="bench",
            capabilities=CAPABILITIES,
            deliver=actor_sink(system, ref),
            backoff=None,
        )
        await link.connect()
        links.append(link)
    for ready in readies:
        await ready.wait()
    print("ready", flush=True)
    stop = tally.done if expect else asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    if expect:
        print(orjson.dumps({"latencies": tally.latencies}).decode(), flush=True)
    for link in links:
        await link.close()
    await system.stop()


# -- hop latency ----------------------------------------------------------------------------


async def _hop(clients: int, tokens: int) -> tuple[list[float], list[float]]:
    """Publish ``tokens`` at RATE to one local and ``clients`` remote surfaces: (remote, local)."""
    with tempfile.TemporaryDirectory(prefix="aiway-bench-") as tmp:
        path = Path(tmp) / "aiway.sock"
        system = ActorSystem()
        registry = system.spawn("registry", SurfaceRegistry, mailbox=MailboxConfig(capacity=4096))
        local = Tally(tokens)
        ready = asyncio.Event()
        surface = system.spawn(
            "surface:local", _surface(local, ready), mailbox=MailboxConfig(capacity=256)
        )
        registry.tell(RegisterSurface("local", surface, "bench", CAPABILITIES))
        await ready.wait()
        server = DaemonServer(
            system, DaemonSettings(), registry=registry, conductor=None, surface_capacity=256
        )
        claim = claim_socket(path)
        farm: asyncio.subprocess.Process | None = None
        try:
            await server.listen_unix(claim.take_socket())
            farm = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "profiling.bench_daemon",
                "farm",
                "--socket",
                str(path),
                "--clients",
                str(clients),
                "--expect",
                str(tokens),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                limit=256 * 1024 * 1024,
            )
            assert farm.stdout is not None
            line = await asyncio.wait_for(farm.stdout.readline(), 60)
            if line.strip() != b"ready":
                raise RuntimeError(f"the client farm did not start (printed {line!r})")
            loop = asyncio.get_running_loop()
            started = loop.time()
            for index in range(tokens):
                delay = started + index / RATE - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                registry.tell(Token(f"m{index}", f"{time.perf_counter():.9f}"))
            report = await asyncio.wait_for(farm.stdout.readline(), 60)
            remote: list[float] = orjson.loads(report)["latencies"]
            await asyncio.wait_for(farm.wait(), 30)
            await asyncio.wait_for(local.done.wait(), 10)
        finally:
            if farm is not None and farm.returncode is None:
                farm.kill()
                await farm.wait()
            await server.stop()
            claim.release()
            await system.stop()
    skip = WARMUP * clients
    return remote[skip:], local.latencies[WARMUP:]


def _hop_rows(clients: int, remote: list[float], local: list[float]) -> list[dict[str, Any]]:
    plural = "surface" if clients == 1 else "surfaces"
    rows = []
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        ours = percentile(remote, fraction) * 1e3
        base = percentile(local, fraction) * 1e3
        is_p99 = label == "p99"
        rows.append(
            row(
                name=f"socket hop at {RATE:g} tok/s, {clients} remote {plural}: {label}",
                unit="ms",
                ours=ours,
                baseline="a local surface of the same registry, same run",
                baseline_value=base,
                ratio=ours / base if base else None,
                target="" if is_p99 else "none (orientation)",
                goal=goal("ours", "<", HOP_TARGET_MS) if is_p99 else None,
                better="lower",
                note=(
                    f"{len(remote)} token deliveries over {clients} remote {plural} (client "
                    "farm in its own process: DaemonLink into a surface actor each), publish "
                    f"to handler; the hop adds {ours - base:.3f} ms at {label}"
                ),
                tolerance=2.0,
            )
        )
    return rows


# -- idle CPU -------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of every thread of ``pid``, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _cpu_percent(pid: int, seconds: float) -> float:
    cpu, wall = _cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # the window: this process only waits
    return 100.0 * (_cpu_seconds(pid) - cpu) / (time.monotonic() - wall)


def _idle(seconds: float) -> tuple[float, float]:
    """The daemon's CPU (% of a core) with IDLE_SURFACES attached, and with none."""
    with tempfile.TemporaryDirectory(prefix="aiway-bench-") as tmp, fake_ollama(10) as ollama:
        env = isolated_env(tmp, OLLAMA_HOST=ollama.url, AIWAY_OLLAMA_DEFAULT_MODEL="smollm2:135m")
        socket_path = Path(tmp) / "run" / "aiway" / "aiway.sock"
        daemon = subprocess.Popen(
            [sys.executable, "-m", "aiway.ui.cli", "serve", "--backend", "ollama"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        farm: subprocess.Popen[bytes] | None = None
        try:
            assert daemon.stdout is not None
            line = daemon.stdout.readline().decode()
            if not re.search("serving on", line):
                raise RuntimeError(f"the daemon did not start (printed {line!r})")
            bare = _cpu_percent(daemon.pid, seconds)
            farm = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "profiling.bench_daemon",
                    "farm",
                    "--socket",
                    str(socket_path),
                    "--clients",
                    str(IDLE_SURFACES),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
            )
            assert farm.stdout is not None
            if farm.stdout.readline().strip() != b"ready":
                raise RuntimeError("the client farm did not attach")
            ours = _cpu_percent(daemon.pid, seconds)
        finally:
            for process in (farm, daemon):
                if process is None:
                    continue
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(15)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                if process.stdout is not None:
                    process.stdout.close()
    return ours, bare


# -- the report -------------------------------------------------------------------------------


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Hop latency with 1 and 50 remote surfaces, then the idle daemon's CPU."""
    tokens = QUICK_TOKENS if quick else TOKENS
    rows: list[dict[str, Any]] = []
    for clients in SURFACE_COUNTS:
        remote, local = asyncio.run(_hop(clients, tokens))
        rows += _hop_rows(clients, remote, local)
    seconds = QUICK_IDLE_SECONDS if quick else IDLE_SECONDS
    ours, bare = _idle(seconds)
    rows.append(
        row(
            name=f"daemon idle, {IDLE_SURFACES} remote surfaces attached: CPU",
            unit="% core",
            ours=ours,
            baseline="the same daemon, no surface attached, same run",
            baseline_value=bare,
            ratio=None,  # both near zero: their quotient is noise; the target is absolute
            goal=goal("ours", "<", IDLE_TARGET_PERCENT),
            better="lower",
            note=(
                f"a real `aiway serve` process, heartbeats every 5 s; /proc/<pid>/stat "
                f"user+system over a {seconds:g} s window each side (resolution: one "
                f"clock tick, {100 / os.sysconf('SC_CLK_TCK') / seconds:.2f}% here)"
            ),
        )
    )
    return rows


# -- one hostile frame before the handshake ---------------------------------------------------


def hostile_frame(tree: Path, lists: int = 340_000) -> dict[str, Any]:
    """What one ~1 MB pre-handshake frame costs the ``aiway serve --listen`` of ``tree``.

    ``tree`` is a checkout (this one, or a baseline's worktree). Returns the
    seconds from the last byte sent to the daemon's close (its event loop is
    busy meanwhile: the owner's attach waits as long), the growth of the
    daemon's VmHWM, the bytes it logged and sent back, and whether the owner's
    Unix-socket attach then worked.
    """
    import socket as sockets

    body = b'{"type":"StateSnapshot","history":[' + b",".join([b"[]"] * lists) + b"]}"
    frame = len(body).to_bytes(4, "big") + body
    with tempfile.TemporaryDirectory(prefix="aiway-hostile-") as tmp, fake_ollama(10) as ollama:
        env = isolated_env(tmp, OLLAMA_HOST=ollama.url, AIWAY_OLLAMA_DEFAULT_MODEL="smollm2:135m")
        log = Path(tmp) / "state" / "aiway" / "aiway.log"
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiway.ui.cli",
                "serve",
                "--backend",
                "ollama",
                "--listen",
                "127.0.0.1:0",
            ],
            cwd=tree,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        try:
            assert daemon.stdout is not None
            line = daemon.stdout.readline().decode()
            port = re.search(r"tcp:127\.0\.0\.1:(\d+)", line)
            if port is None:
                raise RuntimeError(f"the daemon did not start (printed {line!r})")
            hwm_before = _vm_hwm_kib(daemon.pid)
            logged_before = log.stat().st_size if log.exists() else 0
            received = 0
            with sockets.create_connection(("127.0.0.1", int(port.group(1)))) as peer:
                peer.settimeout(120)
                with contextlib.suppress(OSError):
                    peer.sendall(frame)
                start = time.monotonic()
                with contextlib.suppress(OSError):
                    while chunk := peer.recv(1 << 20):
                        received += len(chunk)
                stall = time.monotonic() - start
            attach = subprocess.run(
                [sys.executable, "-m", "aiway.ui.cli", "headless", "--connect", "--prompt", "hi"],
                cwd=tree,
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            return {
                "stall_s": round(stall, 3),
                "peak_growth_mib": round((_vm_hwm_kib(daemon.pid) - hwm_before) / 1024, 1),
                "bytes_logged": (log.stat().st_size if log.exists() else 0) - logged_before,
                "bytes_sent_back": received,
                "owner_attached": attach.returncode == 0,
            }
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            if daemon.stdout is not None:
                daemon.stdout.close()


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for pid {pid}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m profiling.bench_daemon")
    commands = parser.add_subparsers(dest="command")
    farm = commands.add_parser("farm", help="(internal) attach N remote surfaces and report")
    farm.add_argument("--socket", required=True, type=Path)
    farm.add_argument("--clients", type=int, default=1)
    farm.add_argument("--expect", type=int, default=0, help="tokens per surface; 0: idle")
    hostile = commands.add_parser(
        "hostile", help="one 1 MB pre-handshake frame: this tree and a baseline, interleaved"
    )
    hostile.add_argument("--baseline", type=Path, help="a checkout of the baseline (git worktree)")
    hostile.add_argument("--rounds", type=int, default=1)
    args, rest = parser.parse_known_args(argv)
    if args.command == "hostile":
        trees = [("ours", ROOT)] + ([("baseline", args.baseline)] if args.baseline else [])
        for round_ in range(args.rounds):
            for name, tree in trees:
                print(name, round_, orjson.dumps(hostile_frame(tree)).decode(), flush=True)
        return 0
    if args.command == "farm":
        asyncio.run(_farm(Address.unix(args.socket), args.clients, args.expect))
        return 0
    from profiling.report import main as report_main

    return report_main(["--only", "daemon", *rest])


if __name__ == "__main__":
    sys.exit(main())

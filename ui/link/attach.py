"""``aiway headless --connect``: the headless log surface, attached to a running daemon.

The surface is the very ``LogSurface`` of ``aiway headless``, running as an
actor in a small local actor system; only its transport differs: a
``DaemonLink`` feeds it what the daemon publishes, and prompts go out over the
link instead of to a local Conductor.

Without ``--follow`` it behaves like ``aiway headless``: each prompt (from
``--prompt`` or standard input) is sent and answered before the next, then it
exits. With ``--follow`` it stays attached, prints everything any surface
causes, sends each prompt or standard-input line as it comes, and rides out
daemon restarts (printing "reconnecting") until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Sequence

from aiway.actors.daemon.address import Address
from aiway.actors.daemon.errors import DaemonError
from aiway.actors.protocol import Capability, LinkState, LinkStatus, UserMessage
from aiway.actors.runtime import ActorSystem, MailboxConfig
from aiway.config import Settings
from aiway.ui.headless import SURFACE_ID, LogSurface, Outcome, stdin_lines
from aiway.ui.link.client import DaemonLink, actor_sink, token_for
from aiway.ui.output import Output

SURFACE_TYPE = "headless"
CAPABILITIES = frozenset({Capability.STREAMING, Capability.TASKS})
_QUIT = frozenset({"/quit", "/exit"})


async def run_attached(
    settings: Settings,
    address: Address,
    prompts: Sequence[str] | None,
    *,
    follow: bool,
    json_mode: bool,
    log_file: str | None,
) -> int:
    """Attach a log surface to the daemon at ``address``; the process's exit code.

    0: every prompt answered (or, following, stopped by a signal or /quit);
    1: an answer failed; 3: no daemon, or it refused this surface.
    """
    token = await asyncio.to_thread(token_for, settings, address)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    out = await Output.open(log_file)
    system = ActorSystem()
    surface = LogSurface(out, json_mode=json_mode)
    ref = system.spawn(
        f"surface:{SURFACE_ID}",
        lambda: surface,
        mailbox=MailboxConfig(capacity=settings.mailbox.surface_capacity),
    )

    def on_status(status: LinkStatus) -> None:
        ref.tell(status)
        if status.state is LinkState.RECONNECTING:
            # An answer awaited over a lost connection may never end: give up on it.
            waiter = surface.waiter
            if waiter is not None and not waiter.done():
                surface.failures.append(f"the connection to the daemon broke: {status.detail}")
                waiter.set_result(Outcome.FAILED)

    link = DaemonLink.from_settings(
        settings,
        address,
        surface_type=SURFACE_TYPE,
        capabilities=CAPABILITIES,
        deliver=actor_sink(system, ref),
        on_status=on_status,
        token=token,
    )
    try:
        try:
            await link.connect()
        except DaemonError as exc:
            print(f"aiway: {exc}", file=sys.stderr)
            return 3
        if follow:
            return await _follow(link, prompts, stop)
        return await _ask(link, surface, prompts, stop)
    finally:
        await link.close()
        await system.stop()
        await out.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _ask(
    link: DaemonLink, surface: LogSurface, prompts: Sequence[str] | None, stop: asyncio.Event
) -> int:
    loop = asyncio.get_running_loop()
    source = _listed(prompts) if prompts else stdin_lines()
    async for raw in source:
        text = raw.strip()
        if not text:
            continue
        if text.lower() in _QUIT:
            break
        surface.expect_command = text.startswith("/")
        waiter: asyncio.Future[str] = loop.create_future()
        surface.waiter = waiter
        link.send(UserMessage(text, SURFACE_ID))
        await _first(waiter, link.wait_closed(), stop.wait())
        if stop.is_set():
            return 130
        if not waiter.done():
            print(f"aiway: {link.close_reason}", file=sys.stderr)
            return 3
        if waiter.result() == Outcome.QUIT:
            break
    for failure in surface.failures:
        print(f"aiway: an answer failed: {failure}", file=sys.stderr)
    return 1 if surface.failures else 0


async def _follow(link: DaemonLink, prompts: Sequence[str] | None, stop: asyncio.Event) -> int:
    for prompt in prompts or ():
        link.send(UserMessage(prompt, SURFACE_ID))

    async def typed() -> None:
        if not _stdin_has_input():
            return
        async for raw in stdin_lines():
            text = raw.strip()
            if text.lower() in _QUIT:
                stop.set()
                return
            if text:
                link.send(UserMessage(text, SURFACE_ID))

    reader = asyncio.get_running_loop().create_task(typed(), name="stdin")
    try:
        await _first(stop.wait(), link.wait_closed())
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    if stop.is_set():
        return 0
    print(f"aiway: {link.close_reason}", file=sys.stderr)
    return 3


def _stdin_has_input() -> bool:
    """False for a device that never has input (``/dev/null``), which the loop cannot watch."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISREG(mode) or os.isatty(0)


async def _listed(prompts: Sequence[str]) -> AsyncIterator[str]:
    for prompt in prompts:
        yield prompt


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until the first of ``waits`` is done; cancel the tasks made here for the others.

    A future passed in is waited on, never cancelled: its owner still reads it.
    """
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    made = [task for task, wait in zip(tasks, waits, strict=True) if task is not wait]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in made:
            if not task.done():
                task.cancel()
        await asyncio.gather(*made, return_exceptions=True)

"""``aiway serve``: the session as a long-lived process that surfaces attach to.

Order matters: the socket is claimed first (so a second daemon refuses at
once, before any model is loaded), then the backend is chosen and the
session's actors start, then the daemon accepts surfaces. SIGTERM and SIGINT
stop it gracefully: the answer in flight is cancelled, every surface is told
``Quit``, connections close, the socket file is removed, the lock released.
The conversation is saved to the history like any session's (a Store actor
attached as a surface), so ``aiway --resume`` continues it after the daemon
stops; ``--no-history`` saves nothing, and ``resume`` continues a saved one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiway.actors.app import Assistant
from aiway.actors.daemon.address import Address, is_loopback, parse_listen
from aiway.actors.daemon.auth import default_token_path, ensure_token
from aiway.actors.daemon.auth import rotate_token as rotate
from aiway.actors.daemon.server import DaemonServer
from aiway.actors.daemon.socketfile import SocketClaim, claim_socket
from aiway.actors.model_member import session_backend
from aiway.actors.runtime import ActorSystem
from aiway.actors.store import open_history
from aiway.config import Settings, load_persona

log = logging.getLogger(__name__)

OpenSystem = Callable[[], Awaitable[ActorSystem | None]]
"""Opens the host a session runs on; None: the default asyncio host."""


class StatusOutput(Protocol):
    """Where the daemon writes its status lines (the command line gives its stdout writer)."""

    def write(self, text: str) -> None: ...

    async def close(self) -> None: ...


OpenOutput = Callable[[], Awaitable[StatusOutput]]
"""Opens the status output on the daemon's loop."""


def serve(
    settings: Settings,
    *,
    listen: str | None = None,
    open_system: OpenSystem | None = None,
    rotate_token: bool = False,
    resume: str | None = None,
    open_output: OpenOutput,
) -> int:
    """Run the daemon until SIGTERM or SIGINT; the process's exit code.

    ``open_system`` opens the host the session runs on (``--engine thespian``);
    by default it is this process's asyncio host. ``rotate_token`` replaces
    the TCP token with a fresh one first (surfaces need the new file);
    ``resume`` continues a saved conversation (an id, a prefix or ``last``);
    ``open_output`` opens where the status lines go.

    Raises ``DaemonRunning`` when another daemon holds the socket, ``StoreError``
    when the history cannot be opened, and the backend's errors when no model
    can answer.
    """
    path = settings.daemon.socket_path
    if path is None:
        raise ValueError("settings.daemon.socket_path is unset (load settings with the loader)")
    tcp = parse_listen(listen) if listen is not None else None
    claim = claim_socket(path)
    try:
        token = None
        token_path = settings.daemon.token_file or default_token_path(path)
        if rotate_token:
            token = rotate(token_path)
        if tcp is not None and token is None:
            token = ensure_token(token_path)
        return asyncio.run(_serve(settings, claim, tcp, token, open_output, open_system, resume))
    finally:
        claim.release()


async def _serve(
    settings: Settings,
    claim: SocketClaim,
    tcp: Address | None,
    token: str | None,
    open_output: OpenOutput,
    open_system: OpenSystem | None = None,
    resume: str | None = None,
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    out = await open_output()
    try:
        return await _run(settings, claim, tcp, token, stop, out, open_system, resume)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await out.close()


async def _run(
    settings: Settings,
    claim: SocketClaim,
    tcp: Address | None,
    token: str | None,
    stop: asyncio.Event,
    out: StatusOutput,
    open_system: OpenSystem | None = None,
    resume: str | None = None,
) -> int:
    history = await open_history(settings, resume=resume)
    system = None
    code = 0
    try:
        for note in history.store.notes if history is not None else ():
            out.write(f"aiway: {note}\n")
        system = None if open_system is None else await open_system()
        # the model on a member of the convention, when one serves it; else chosen here
        selection = await session_backend(settings, system)
        persona = await asyncio.to_thread(load_persona, settings)
        assistant = Assistant.start(
            settings,
            selection.backend,
            model=selection.model,
            backend_reason=selection.reason,
            system_prompt=persona,
            session_id=f"daemon-{os.getpid()}-{int(time.time())}",
            system=system,
            history=history,
        )
    except BaseException:
        if system is not None:
            await system.stop()
        if history is not None:
            await history.store.close()
        raise
    server = DaemonServer(
        assistant.system,
        settings.daemon,
        registry=assistant.registry,
        conductor=assistant.conductor,
        surface_capacity=settings.mailbox.surface_capacity,
        token=token,
        avatar=assistant.avatar,
    )
    try:
        addresses = [await server.listen_unix(claim.take_socket())]
        if tcp is not None:
            if not is_loopback(tcp.host):
                log.warning("listening on %s, beyond this machine; the token guards it", tcp)
            addresses.append(await server.listen_tcp(tcp.host, tcp.port))
        stale = " (replaced a stale socket)" if claim.replaced_stale else ""
        where = " and ".join(str(address) for address in addresses)
        if history is None:
            saving = "saving no history (--no-history)"
        else:
            verb = "continuing" if history.resumed is not None else "saving"
            saving = f"{verb} conversation {history.session_id} in {history.store.path}"
        # one write: whoever waits for "serving on" reads the model and history lines too
        out.write(
            f"aiway: daemon (pid {os.getpid()}) serving on {where}{stale}\n"
            f"aiway: model {selection.model} on {selection.backend.name}\n"
            f"aiway: {saving}\n"
        )
        log.info("serving on %s", where)
        # a signal, or a host that stopped itself (a Thespian core that could not be placed)
        ended = asyncio.ensure_future(assistant.system.stopped.wait())
        signalled = asyncio.ensure_future(stop.wait())
        await asyncio.wait((ended, signalled), return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        signalled.cancel()
        failure = getattr(assistant.system, "failure", None)
        if failure:
            out.write(f"aiway: {failure}\n")
            code = 3
        out.write("aiway: stopping; telling surfaces to quit\n")
    finally:
        await server.stop()
        claim.remove_socket_file()
        await assistant.stop()
    stats = server.stats()
    refused = ", ".join(f"{code} {count}" for code, count in stats.refused) or "none"
    summary = (
        f"stopped after {stats.accepted} connections; {stats.dead_peers} dropped for missed "
        f"heartbeats; refused or dropped for bad input: {refused}"
    )
    log.info(summary)
    out.write(f"aiway: {summary}\n")
    return code

"""A Thespian system that joins a convention and offers capabilities: ``aiway member``.

``aiway member --convention 10.0.0.1:1900 --ip 10.0.0.2 --capability model``
starts a ``multiprocTCPBase`` admin (``--admin-port``, default 1900) bound to
and announcing ``--ip``, that joins the convention led by the admin at
``10.0.0.1:1900`` and declares ``aiway.model``. It runs in the foreground
until SIGTERM or SIGINT, then shuts its system down (every actor placed on it
with it). ``--detach`` leaves the admin running after the command returns
(``--stop`` shuts it down later). An aiway process started with ``--engine
thespian --admin-port 1900 --ip 10.0.0.1 --require model`` then places its
core on that system. The order does not matter: a member registers with its
leader again every ``ThespianConfig.rejoin_period`` seconds (2 s), so it joins
a leader that starts later, or restarts, within a few seconds.

Every member signs its frames with the convention's secret (``--secret-file``,
default ``$XDG_CONFIG_HOME/aiway/thespian.secret``): copy the leader's file to
each member's machine. A member listens on ``--ip`` only (default 127.0.0.1):
across machines, give it this machine's address on the convention's network.

``python -m aiway.actors.runtime.thespian.member`` is the same command.
``convention_status`` is what ``aiway status`` shows: the systems of a
convention as the local admin knows them.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

import attrs

from aiway.actors.errors import AiwayError
from aiway.actors.runtime.thespian.config import SystemHandle, ThespianConfig, open_system
from aiway.actors.untrusted import strip_controls

#: the admin port a member and a leader use unless told otherwise
DEFAULT_ADMIN_PORT = 1900
#: bound on shutting the member's system down after a signal
SHUTDOWN_TIMEOUT = 10.0
#: ``aiway status``: how long each other system of the convention has to say what it offers
OTHER_TIMEOUT = 2.0
#: ``aiway status``: how much of what a system says it offers is shown
SHOWN_CAPABILITIES = 32
SHOWN_CHARS = 200


def start_member(config: ThespianConfig) -> SystemHandle:
    """Open (start or join) the system of ``config``; the Thespian handle. Blocks."""
    return open_system(config)


def _client(admin_port: int, ip_address: str, secret_file: str | None) -> SystemHandle:
    return open_system(
        ThespianConfig(
            base="multiprocTCPBase",
            admin_port=admin_port,
            ip_address=ip_address,
            secret_file=secret_file,
        )
    )


def _require_admin(admin_port: int, ip_address: str) -> None:
    """Raise ``TimeoutError`` unless an admin listens there (a Thespian client finding
    none would start one that outlives this command)."""
    try:
        socket.create_connection((ip_address, admin_port), timeout=2).close()
    except OSError:
        raise TimeoutError(f"no Thespian admin listens on {ip_address}:{admin_port}") from None


def stop_member(
    admin_port: int, ip_address: str = "127.0.0.1", secret_file: str | None = None
) -> None:
    """Shut down the TCP system whose admin listens on ``admin_port``. Blocks."""
    _require_admin(admin_port, ip_address)
    _client(admin_port, ip_address, secret_file).shutdown()


@attrs.frozen(slots=True)
class SystemInfo:
    """One system of a convention, as the local admin sees it."""

    address: str
    """Its admin's address (host:port)."""
    role: str
    """``this`` (the admin asked), ``leader`` or ``member``."""
    capabilities: dict[str, str]
    """What it offers (``aiway.*`` keys; Thespian's own are left out), as safe text."""


def _where(address: object) -> str:
    details = getattr(address, "addressDetails", None)
    sockname = getattr(details, "sockname", None)
    if isinstance(sockname, tuple) and len(sockname) == 2:
        return f"{sockname[0]}:{sockname[1]}"
    return str(address)


def _ours(capabilities: dict[str, Any]) -> dict[str, str]:
    """aiway's capabilities of a system, as text fit for a terminal.

    They come from another machine (each system says what it offers): every key
    and value loses its control characters and escape sequences and is cut at
    ``SHOWN_CHARS``, and at most ``SHOWN_CAPABILITIES`` are kept.
    """
    ours = {k: v for k, v in capabilities.items() if isinstance(k, str) and k.startswith("aiway.")}
    streams = ours.get("aiway.streams")
    if isinstance(streams, dict):  # the model runs there: say which, not the raw address
        where = _where(streams.get("address"))
        ours["aiway.streams"] = f"{streams.get('model')} on {streams.get('backend')} at {where}"
    return {_shown(key): _shown(value) for key, value in sorted(ours.items())[:SHOWN_CAPABILITIES]}


def _shown(value: object) -> str:
    text = strip_controls(str(value)).replace("\n", " ").replace("\t", " ")
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def convention_status(
    admin_port: int,
    ip_address: str = "127.0.0.1",
    secret_file: str | None = None,
    timeout: float = 5.0,
) -> list[SystemInfo]:
    """The systems of the convention the admin on ``admin_port`` belongs to. Blocks.

    Raises ``TimeoutError`` when no admin answers there within ``timeout``.
    A leader knows every member's address, a member its leader's; each of
    those is asked what it offers (``OTHER_TIMEOUT`` each).
    """
    from thespian.system.messages.status import Thespian_StatusReq, Thespian_SystemStatus

    try:
        _require_admin(admin_port, ip_address)
    except TimeoutError:
        raise TimeoutError(
            f"no Thespian convention here: no admin listens on {ip_address}:{admin_port} "
            f"(a session on the asyncio host, the default, has none; aiway member, or "
            f"--engine thespian --admin-port PORT, starts one)"
        ) from None
    # a client of the running admin (never shut down: that would end the admin)
    system = _client(admin_port, ip_address, secret_file)
    reply = system.ask(system._systemBase.adminAddr, Thespian_StatusReq(), timeout)
    if not isinstance(reply, Thespian_SystemStatus):
        raise TimeoutError(f"no Thespian admin answered on port {admin_port} within {timeout}s")
    found = [SystemInfo(_where(reply.adminAddress), "this", _ours(dict(reply.capabilities)))]
    others: list[tuple[object, str]] = []
    leader = reply.conventionLeader
    seen = {found[0].address}
    if leader is not None and _where(leader) not in seen:
        others.append((leader, "leader"))
        seen.add(_where(leader))
    for member, _valid in reply.conventionAttendees:
        if _where(member) not in seen:
            others.append((member, "member"))
            seen.add(_where(member))
    # each other system says what it offers itself (the convention's own status
    # lists addresses only); one that does not answer in time shows "?"
    for address, role in others:
        own = system.ask(address, Thespian_StatusReq(), OTHER_TIMEOUT)
        offers = (
            _ours(dict(own.capabilities))
            if isinstance(own, Thespian_SystemStatus)
            else {"?": "did not answer"}
        )
        found.append(SystemInfo(_where(address), role, offers))
    return found


def run_member(config: ThespianConfig, *, detach: bool = False) -> int:
    """Start the member, say so, and (unless ``detach``) hold it until SIGTERM or SIGINT.

    On the signal its system is shut down, bounded by ``SHUTDOWN_TIMEOUT``;
    the exit code is 0. Main thread only.
    """
    stop = threading.Event()
    if not detach:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        system = start_member(config)
    except (ValueError, AiwayError) as exc:
        print(f"member: {exc}", file=sys.stderr)
        return 2
    offers = ", ".join(config.thespian_capabilities().keys() - {"Admin Port"}) or "nothing"
    print(
        f"member: Thespian admin on {config.ip_address}:{config.admin_port}"
        f" (convention {config.convention or 'led by this system'}; offers {offers})",
        flush=True,
    )
    if detach:
        return 0
    while not stop.wait(3600):
        pass
    done = threading.Thread(target=system.shutdown, name="aiway-member-shutdown", daemon=True)
    done.start()
    done.join(SHUTDOWN_TIMEOUT)
    if done.is_alive():
        print("member: the Thespian system did not shut down in time", file=sys.stderr)
        return 1
    print("member: stopped", flush=True)
    return 0


def add_member_options(parser: argparse.ArgumentParser) -> None:
    """The flags of ``aiway member``."""
    parser.add_argument(
        "--admin-port",
        type=int,
        default=DEFAULT_ADMIN_PORT,
        metavar="PORT",
        help=f"this system's admin port (default {DEFAULT_ADMIN_PORT}; distinct per system on "
        "one machine)",
    )
    parser.add_argument(
        "--convention", metavar="HOST:PORT", help="the leader's admin (its --ip and --admin-port)"
    )
    parser.add_argument(
        "--capability",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="what this system offers (repeatable), e.g. model",
    )
    parser.add_argument(
        "--ip",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="the one address to listen on and announce (default 127.0.0.1; across machines: "
        "this machine's address on the convention's network)",
    )
    parser.add_argument(
        "--secret-file",
        metavar="PATH",
        help="the convention's shared secret (default $XDG_CONFIG_HOME/aiway/thespian.secret)",
    )
    parser.add_argument(
        "--detach", action="store_true", help="leave the system running and return at once"
    )
    parser.add_argument("--stop", action="store_true", help="shut a detached member down")


def member_main(args: argparse.Namespace) -> int:
    """``aiway member`` with parsed ``args``."""
    if args.stop:
        try:
            stop_member(args.admin_port, args.ip, args.secret_file)
        except (AiwayError, TimeoutError) as exc:
            print(f"member: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        config = member_config(args)
    except ValueError as exc:
        print(f"member: {exc}", file=sys.stderr)
        return 2
    return run_member(config, detach=args.detach)


def member_config(args: argparse.Namespace) -> ThespianConfig:
    """The system ``aiway member`` flags describe; raises ``ValueError`` naming a bad one."""
    capabilities: dict[str, Any] = {}
    for item in args.capability:
        name, sep, value = item.partition("=")
        capabilities[name] = value if sep else True
    return ThespianConfig(
        base="multiprocTCPBase",
        admin_port=args.admin_port,
        convention=args.convention,
        ip_address=args.ip,
        secret_file=args.secret_file,
        capabilities=capabilities,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aiway.actors.runtime.thespian.member",
        description=__doc__.split("\n\n")[0],
    )
    add_member_options(parser)
    return member_main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""The command-line options that choose the engine, and the host they open.

``--engine asyncio|thespian`` (asyncio: the default, everything on this
process's loop). With ``thespian``: ``--thespian-base`` picks the Thespian
system (default ``multiprocQueueBase``; ``multiprocTCPBase`` as soon as an
admin port or a convention is given), ``--admin-port`` its admin's TCP port,
``--convention HOST:PORT`` the convention leader to join, ``--capability
NAME[=VALUE]`` what this system offers, ``--require NAME[=VALUE]`` where the
session's core must run (a system of the convention offering it). On
``multiprocTCPBase`` every Thespian listener binds ``--ip`` only (default
127.0.0.1; across machines, this machine's address on the convention's
network), and every frame is signed with the convention's secret
(``--secret-file``, default ``$XDG_CONFIG_HOME/aiway/thespian.secret``, made
on first use): see docs/SECURITY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiway.actors.errors import AiwayError

if TYPE_CHECKING:
    from aiway.actors.runtime.thespian.config import ThespianConfig
    from aiway.actors.runtime.thespian.host import ThespianHost

ENGINES = ("asyncio", "thespian")


class EngineError(AiwayError):
    """The engine the flags ask for cannot be set up (bad flags, or Thespian will not start)."""


THESPIAN_BASES = ("simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Add the engine's flags to a subcommand's parser."""
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="asyncio",
        help="where the core actors run: asyncio (this process, the default) or thespian",
    )
    group.add_argument(
        "--thespian-base",
        choices=THESPIAN_BASES,
        default=None,
        help="the Thespian system (default: multiprocQueueBase; multiprocTCPBase with "
        "--admin-port or --convention)",
    )
    group.add_argument(
        "--admin-port", type=int, metavar="PORT", help="the Thespian admin's TCP port"
    )
    group.add_argument(
        "--convention",
        metavar="HOST:PORT",
        help="join the Thespian convention led by the admin at HOST:PORT",
    )
    group.add_argument(
        "--ip",
        metavar="ADDRESS",
        default="127.0.0.1",
        help="the one address Thespian listens on and announces (default 127.0.0.1; across "
        "machines: this machine's address on the convention's network)",
    )
    group.add_argument(
        "--secret-file",
        metavar="PATH",
        default=None,
        help="the convention's shared secret, mode 0600 (default: "
        "$XDG_CONFIG_HOME/aiway/thespian.secret, made on first use; copy it to every member)",
    )
    group.add_argument(
        "--capability",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="a capability this Thespian system offers (repeatable), e.g. model",
    )
    group.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="run the core on a system of the convention offering this (repeatable)",
    )


def _pairs(items: list[str], flag: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not name:
            raise ValueError(f"{flag} needs NAME or NAME=VALUE, got {item!r}")
        found[name] = value if sep else True
    return found


def thespian_config(args: argparse.Namespace, log_file: str | None = None) -> ThespianConfig:
    """The ``ThespianConfig`` the flags describe. Raises ``EngineError`` naming the bad flag."""
    from aiway.actors.runtime.thespian.config import ThespianConfig

    base = args.thespian_base
    if base is None:
        tcp = args.admin_port is not None or args.convention is not None
        base = "multiprocTCPBase" if tcp else "multiprocQueueBase"
    try:
        return ThespianConfig(
            base=base,
            admin_port=args.admin_port,
            convention=args.convention,
            ip_address=getattr(args, "ip", "127.0.0.1"),
            secret_file=getattr(args, "secret_file", None),
            capabilities=_pairs(args.capability, "--capability"),
            require=_pairs(args.require, "--require"),
            log_file=log_file,
        )
    except ValueError as exc:
        raise EngineError(f"--engine thespian: {exc}") from None


async def open_engine(
    args: argparse.Namespace, log_file: str | None = None, *, interruptible: bool = False
) -> ThespianHost | None:
    """The started Thespian host ``--engine thespian`` asks for; None for the asyncio host.

    ``interruptible``: SIGTERM and SIGINT during the start (waiting for a member
    included) stop what started and raise ``EngineError``; only for a caller that has
    no handlers of its own on those signals yet (they are removed afterwards).
    """
    if getattr(args, "engine", "asyncio") != "thespian":
        return None
    from aiway.actors.runtime.thespian.host import ThespianHost

    config = thespian_config(args, log_file)
    host = ThespianHost(config)
    # SIGTERM or SIGINT while starting or waiting for a member: stop what started, then say so
    loop = asyncio.get_running_loop()
    starting = asyncio.ensure_future(host.start())
    signals: list[str] = []

    def interrupt(sig: signal.Signals) -> None:
        signals.append(sig.name)
        starting.cancel()

    handled = _handle_signals(loop, interrupt) if interruptible else []
    try:
        await starting
    except asyncio.CancelledError:
        await host.stop()  # cancelled by its caller too (a TUI that quit): nothing is left
        if not signals:
            raise
        raise EngineError(f"stopped by {signals[0]} while the Thespian system started") from None
    except Exception as exc:
        await host.stop()
        raise EngineError(f"the Thespian system ({config.base}) did not start: {exc}") from exc
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    return host


def _handle_signals(
    loop: asyncio.AbstractEventLoop, handler: Callable[[signal.Signals], None]
) -> list[signal.Signals]:
    """Route SIGTERM and SIGINT to ``handler`` (main thread only: elsewhere, nothing)."""
    handled = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, handler, sig)
        except (RuntimeError, ValueError):
            continue
        handled.append(sig)
    return handled

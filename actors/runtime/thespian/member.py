"""Start or stop a Thespian system that joins a convention and offers capabilities.

``python -m aiway.actors.runtime.thespian.member --admin-port 1901 --convention
127.0.0.1:1900 --capability model`` starts a ``multiprocTCPBase`` admin on
port 1901 that joins the convention led by the admin on port 1900 and
declares ``aiway.model``. It outlives this command (a TCP admin runs until it
is shut down); ``--stop`` shuts it down. An aiway process started with
``--engine thespian --admin-port 1900 --require model`` then places its core
on that system. Start members after the leader: Thespian retries a failed
registration only every few minutes.

Every member signs its frames with the convention's secret (``--secret-file``,
default ``$XDG_CONFIG_HOME/aiway/thespian.secret``): copy the leader's file to
each member's machine. A member listens on ``--ip`` only (default 127.0.0.1):
across machines, give it this machine's address on the convention's network.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from aiway.actors.errors import AiwayError
from aiway.actors.runtime.thespian.config import SystemHandle, ThespianConfig, open_system


def start_member(config: ThespianConfig) -> SystemHandle:
    """Open (start or join) the system of ``config``; the Thespian handle. Blocks."""
    return open_system(config)


def stop_member(
    admin_port: int, ip_address: str = "127.0.0.1", secret_file: str | None = None
) -> None:
    """Shut down the TCP system whose admin listens on ``admin_port``. Blocks."""
    handle = open_system(
        ThespianConfig(
            base="multiprocTCPBase",
            admin_port=admin_port,
            ip_address=ip_address,
            secret_file=secret_file,
        )
    )
    handle.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aiway.actors.runtime.thespian.member", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--admin-port", type=int, required=True, metavar="PORT")
    parser.add_argument("--convention", metavar="HOST:PORT", help="the leader's admin")
    parser.add_argument("--capability", action="append", default=[], metavar="NAME[=VALUE]")
    parser.add_argument(
        "--ip",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="the one address to listen on and announce (default 127.0.0.1)",
    )
    parser.add_argument(
        "--secret-file",
        metavar="PATH",
        help="the convention's shared secret (default $XDG_CONFIG_HOME/aiway/thespian.secret)",
    )
    parser.add_argument("--stop", action="store_true", help="shut the system down")
    args = parser.parse_args(argv)
    try:
        if args.stop:
            stop_member(args.admin_port, args.ip, args.secret_file)
            return 0
    except AiwayError as exc:
        print(f"member: {exc}", file=sys.stderr)
        return 2
    capabilities: dict[str, Any] = {}
    for item in args.capability:
        name, sep, value = item.partition("=")
        capabilities[name] = value if sep else True
    try:
        config = ThespianConfig(
            base="multiprocTCPBase",
            admin_port=args.admin_port,
            convention=args.convention,
            ip_address=args.ip,
            secret_file=args.secret_file,
            capabilities=capabilities,
        )
        start_member(config)
    except (ValueError, AiwayError) as exc:
        print(f"member: {exc}", file=sys.stderr)
        return 2
    print(f"member: Thespian admin on {args.ip}:{args.admin_port}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

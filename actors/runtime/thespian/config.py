"""Which Thespian system a host opens, and where in a convention: ``ThespianConfig``.

``open_system`` opens (starts, or joins) it: a blocking call, made off the
event loop by the bridge's driver thread, or by ``member`` from the command
line. ``CellCounters`` is what a cell reports of itself as a sender.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from thespian.actors import ActorSystem as ThespianSystem

from aiway.actors.runtime.thespian.secret import default_secret_path

BASES = ("simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase")

#: a handle on a Thespian system (``thespian.actors.ActorSystem``, an untyped library):
#: the one name for the boundary where aiway's types end
SystemHandle = Any


def _capability_key(name: str) -> str:
    """Capabilities aiway declares live under ``aiway.``; a dotted name is taken as is."""
    return name if "." in name else f"aiway.{name}"


@attrs.frozen(slots=True)
class ThespianConfig:
    """Which Thespian system the core runs on, and where in a convention."""

    #: simpleSystemBase, multiprocQueueBase or multiprocTCPBase
    base: str = "simpleSystemBase"
    #: the admin's TCP port (multiprocTCPBase: required; distinct per system on a machine)
    admin_port: int | None = None
    #: ``host:port`` of the convention leader's admin (multiprocTCPBase; None: lead it)
    convention: str | None = None
    #: the one address Thespian's listeners bind and announce (multiprocTCPBase): loopback
    #: on one machine; across machines, this machine's address on the convention's network
    ip_address: str = "127.0.0.1"
    #: the convention's shared secret (multiprocTCPBase; None: the default under
    #: ``$XDG_CONFIG_HOME/aiway/``, created on first use; see ``secret``)
    secret_file: str | None = None
    #: capabilities this system declares, for example ``{"model": True}``
    capabilities: Mapping[str, Any] = attrs.field(factory=dict)
    #: capabilities the system hosting the core must have (placement in a convention)
    require: Mapping[str, Any] = attrs.field(factory=dict)
    #: shut the Thespian system down on stop (False: leave it running, stop only our actors)
    shutdown_system: bool = True
    #: where Thespian's actor processes log (None: nowhere; failures still reach the host)
    log_file: str | None = None
    #: bound on each blocking exchange with the system (create, stop)
    call_timeout: float = 10.0
    #: a member registers with its leader again every so many seconds (multiprocTCPBase),
    #: so start order does not matter and restarts rejoin; a leader declares a member gone
    #: after three missed periods
    rejoin_period: float = 2.0

    def heartbeat(self) -> float | None:
        """Seconds between the guardian's beats to its cells: a cell on a member ends itself
        after three missed beats (its leader died). Only across systems (multiprocTCPBase)."""
        return self.rejoin_period if self.base == "multiprocTCPBase" else None

    def __attrs_post_init__(self) -> None:
        if self.base not in BASES:
            raise ValueError(f"unknown Thespian base {self.base!r}; use one of {', '.join(BASES)}")
        if self.base == "multiprocTCPBase" and self.admin_port is None:
            raise ValueError("multiprocTCPBase needs an explicit admin port (--admin-port)")
        try:
            address = ipaddress.IPv4Address(self.ip_address)
        except ValueError:
            raise ValueError(
                f"the Thespian address must be an IPv4 address of this machine "
                f"(127.0.0.1, or its address on the convention's network), got "
                f"{self.ip_address!r}"
            ) from None
        if address.is_unspecified:
            raise ValueError(
                "the Thespian address 0.0.0.0 would listen on every interface: name one "
                "(127.0.0.1 on one machine, or this machine's address on the convention's network)"
            )
        if self.convention is not None:
            if self.base != "multiprocTCPBase":
                raise ValueError("a convention needs multiprocTCPBase")
            host, _, port = self.convention.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"convention address must be host:port, got {self.convention!r}")

    @property
    def in_process(self) -> bool:
        """True when Thespian's actors run in this process (nothing is pickled)."""
        return self.base == "simpleSystemBase"

    def thespian_capabilities(self) -> dict[str, Any]:
        """The capabilities dict Thespian's ``ActorSystem`` is opened with."""
        capabilities: dict[str, Any] = {}
        if self.admin_port is not None:
            capabilities["Admin Port"] = self.admin_port
        if self.convention is not None:
            host, _, port = self.convention.rpartition(":")
            capabilities["Convention Address.IPv4"] = (host, int(port))
        for name, value in self.capabilities.items():
            capabilities[_capability_key(name)] = value
        return capabilities

    def requirements(self) -> dict[str, Any] | None:
        """What top-level cells ask of the system that hosts them."""
        if not self.require:
            return None
        return {_capability_key(name): value for name, value in self.require.items()}

    def log_defs(self) -> dict[str, Any] | bool:
        """Thespian's logging config (its actor processes log through a logger process)."""
        if self.in_process:
            return False  # leave this process's logging alone
        handler: dict[str, Any] = {"class": "logging.NullHandler"}
        if self.log_file is not None:
            handler = {"class": "logging.FileHandler", "filename": self.log_file}
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"aiway": handler},
            "root": {"handlers": ["aiway"], "level": "INFO"},
        }


def open_system(config: ThespianConfig) -> SystemHandle:
    """Open (or join) the Thespian system of ``config``: blocking, call it off the loop.

    On ``multiprocTCPBase`` every frame is signed with the convention's secret
    and every listener binds ``ip_address`` only (``seam``); raises
    ``SecretFileError`` when the secret cannot be made, read or trusted.
    """
    if config.base == "multiprocTCPBase":
        from aiway.actors.runtime.thespian import seam

        path = config.secret_file
        seam.install_from_file(Path(path) if path is not None else default_secret_path(os.environ))
        seam.rejoin_every(config.rejoin_period)
        # read by Thespian whenever it makes an address: what it announces and binds
        os.environ["THESPIAN_BASE_IPADDR"] = config.ip_address
    return ThespianSystem(
        config.base,
        config.thespian_capabilities(),
        logDefs=config.log_defs(),
        transientUnique=True,
    )


@attrs.frozen(slots=True)
class CellCounters:
    """What a Thespian cell counted as a sender (its mailbox counts what it received)."""

    name: str
    """The cell's actor name."""
    pid: int
    """Its process."""
    sent: int
    """Messages it encoded and sent (across Thespian, or to the bridge)."""
    refused: int
    """Tells refused at once because a mailbox behind the bridge was full (``Pressure``)."""
    dead_letters: int
    """Tells to stopped actors, messages left when it stopped, Thespian's returns."""
    bad_input: int
    """Messages it could not decode."""

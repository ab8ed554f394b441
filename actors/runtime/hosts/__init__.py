"""Hosts other than the asyncio one: the Thespian host, and what lets a behaviour travel.

``BehaviourSpec`` describes a behaviour by import path and arguments, so it can
be built in another process; it is also a plain factory on the asyncio host.
``ThespianHost`` runs behaviours given as specs on a Thespian actor system
(``ThespianConfig`` says which), and everything else on this process's loop.
The Thespian names are imported on first use: a spec needs no Thespian.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from actors.runtime.hosts.spec import BehaviourSpec, SpecError

if TYPE_CHECKING:
    from actors.runtime.hosts.config import BASES, CellCounters, ThespianConfig
    from actors.runtime.hosts.staging import BridgeStats
    from actors.runtime.hosts.thespian_host import ThespianHost

_LAZY = {
    "BASES": "actors.runtime.hosts.config",
    "BridgeStats": "actors.runtime.hosts.staging",
    "CellCounters": "actors.runtime.hosts.config",
    "ThespianConfig": "actors.runtime.hosts.config",
    "ThespianHost": "actors.runtime.hosts.thespian_host",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BASES",
    "BehaviourSpec",
    "BridgeStats",
    "CellCounters",
    "SpecError",
    "ThespianConfig",
    "ThespianHost",
]

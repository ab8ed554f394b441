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

from aiway.actors.runtime.spec import BehaviourSpec, SpecError

if TYPE_CHECKING:
    from aiway.actors.runtime.thespian.config import BASES, CellCounters, ThespianConfig
    from aiway.actors.runtime.thespian.host import ThespianHost
    from aiway.actors.runtime.thespian.staging import BridgeStats

_LAZY = {
    "BASES": "aiway.actors.runtime.thespian.config",
    "BridgeStats": "aiway.actors.runtime.thespian.staging",
    "CellCounters": "aiway.actors.runtime.thespian.config",
    "ThespianConfig": "aiway.actors.runtime.thespian.config",
    "ThespianHost": "aiway.actors.runtime.thespian.host",
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

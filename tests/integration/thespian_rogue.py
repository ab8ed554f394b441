"""A Thespian client holding the wrong secret tries to create an actor on a running system.

``python -m tests.integration.thespian_rogue PORT MARKER SECRET`` signs its
frames with the key in SECRET, opens the system whose admin listens on
127.0.0.1:PORT, and creates an actor that would create MARKER. It prints
``created`` or ``refused: <error>``; a test checks that it was refused.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from thespian.actors import Actor, ActorSystem

from aiway.actors.runtime.thespian import seam
from aiway.actors.runtime.thespian.secret import load_secret


class Intruder(Actor):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        Path(sys.argv[2]).touch()

    def receiveMessage(self, msg: object, sender: object) -> None:
        Path(sys.argv[2]).touch()


def main() -> int:
    port, marker, secret = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    seam.install(load_secret(secret))
    os.environ["THESPIAN_BASE_IPADDR"] = "127.0.0.1"
    try:
        system = ActorSystem("multiprocTCPBase", {"Admin Port": port}, transientUnique=True)
        intruder = system.createActor(Intruder)
        system.tell(intruder, "go")
    except Exception as exc:
        print(f"refused: {type(exc).__name__}: {exc}", flush=True)
        return 0
    print(f"created {intruder} (marker {marker})", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())

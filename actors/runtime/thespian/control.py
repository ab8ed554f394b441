"""The Thespian host's control plane: what its cells, its guardian and its bridge tell each other.

These are Thespian messages, pickled by Thespian's transport like any: they
carry only names, numbers, bytes in the wire form and Thespian addresses.
Behaviour messages never appear here except as wire bytes (``Envelope``).
Each class is a small slotted record; they are never compared or hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiway.actors.runtime.behaviour import Behaviour
from aiway.actors.runtime.mailbox import Delivery

#: requirement key: capabilities a system must have to host a cell (``{name: value}``)
REQUIRES = "aiway.requires"
#: the name the bridge files failure reports under (``ActorFailed`` envelopes)
FAILURES = "<failures>"
#: the route of every target that lives behind the bridge (one Thespian address)
BRIDGE_ROUTE = "<bridge>"


def capabilities_match(capabilities: Mapping[str, Any], requirements: Mapping[str, Any]) -> bool:
    """True when ``capabilities`` has every capability ``requirements[REQUIRES]`` asks for."""
    wanted = (requirements or {}).get(REQUIRES) or {}
    return all(capabilities.get(key) == value for key, value in dict(wanted).items())


class RemoteTarget:
    """What a ref points at when its actor is elsewhere: a name, a Thespian address, a sender.

    ``offer`` hands the message to ``send`` (the owning cell's buffered send, or
    the bridge's queue). ``address`` is updated in place when the actor moves
    (re-created after its process died) and set to None when it stops, so
    every ref sharing this target follows.
    """

    __slots__ = ("address", "name", "route", "send")

    def __init__(
        self,
        name: str,
        address: object | None,
        send: Callable[[RemoteTarget, object], Delivery],
        route: str = "",
    ) -> None:
        self.name = name
        self.address = address
        self.send = send
        self.route = route or name

    def offer(self, msg: object) -> Delivery:
        return self.send(self, msg)


class _Record:
    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


# -- creating and starting cells -------------------------------------------------------


class Setup(_Record):
    """Host -> guardian, first: watch dead letters and the convention.

    ``watchdog``: a loopback port of the aiway process; the guardian keeps a
    connection to it and ends the whole system if it closes (the aiway process
    died without shutting the system down).
    """

    __slots__ = ("in_process", "watchdog")

    def __init__(self, in_process: bool, watchdog: int | None = None) -> None:
        self.in_process = in_process
        self.watchdog = watchdog


class Create(_Record):
    """Host -> guardian: create an (unstarted) cell for ``name``; reply ``Created``."""

    __slots__ = ("name", "requirements", "token")

    def __init__(self, token: int, name: str, requirements: Mapping[str, Any] | None) -> None:
        self.token = token
        self.name = name
        self.requirements = dict(requirements) if requirements else None


class Created(_Record):
    """Guardian -> host: the cell's address (None and ``error`` when it could not be created)."""

    __slots__ = ("address", "error", "pid", "token")

    def __init__(self, token: int, address: object | None, pid: int, error: str = "") -> None:
        self.token = token
        self.address = address
        self.pid = pid
        self.error = error


class Hello(_Record):
    """Guardian -> new cell: reply ``Here`` so the guardian learns the real address."""

    __slots__ = ("token",)

    def __init__(self, token: int) -> None:
        self.token = token


class Here(_Record):
    """New cell -> guardian: I exist (``sender`` is my address)."""

    __slots__ = ("pid", "token")

    def __init__(self, token: int, pid: int) -> None:
        self.token = token
        self.pid = pid


class Start(_Record):
    """Everything a cell needs to run its behaviour.

    ``spec``/``spec_refs`` hold a ``BehaviourSpec`` in the wire form;
    ``local_factory`` a plain factory, only on an in-process base (nothing is
    pickled there). ``mailbox`` and ``policy`` are in the wire form.
    """

    __slots__ = (
        "bridge",
        "guardian",
        "in_process",
        "local_factory",
        "mailbox",
        "name",
        "parent",
        "policy",
        "spec",
        "spec_refs",
    )

    def __init__(
        self,
        name: str,
        *,
        spec: bytes | None,
        spec_refs: tuple[object, ...],
        local_factory: Callable[[], Behaviour] | None,
        mailbox: bytes | None,
        policy: bytes,
        in_process: bool,
        parent: object | None = None,
        guardian: object | None = None,
        bridge: object | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self.spec_refs = spec_refs
        self.local_factory = local_factory
        self.mailbox = mailbox
        self.policy = policy
        self.in_process = in_process
        self.parent = parent
        self.guardian = guardian
        self.bridge = bridge


class Launch(_Record):
    """Host -> guardian: start the cell created for ``start.name`` (the guardian supervises it)."""

    __slots__ = ("start",)

    def __init__(self, start: Start) -> None:
        self.start = start


class Register(_Record):
    """Cell -> guardian (and parent) once started: my name, my process."""

    __slots__ = ("name", "pid")

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid


class Directory(_Record):
    """Guardian -> cells and bridge: ``name`` now lives at ``address`` (None: it stopped)."""

    __slots__ = ("address", "name", "pid")

    def __init__(self, name: str, address: object | None, pid: int = 0) -> None:
        self.name = name
        self.address = address
        self.pid = pid


# -- stopping and failing --------------------------------------------------------------


class Stopping(_Record):
    """Cell -> parent and guardian: I am stopping on purpose (do not restart me)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class StopGracefully(_Record):
    """-> cell: handle what is queued, then stop."""

    __slots__ = ()


class StopNow(_Record):
    """-> cell: stop now; what is queued becomes dead letters."""

    __slots__ = ()


class StopAll(_Record):
    """Host -> guardian: stop the top-level cells gracefully, newest first; ``AllStopped``."""

    __slots__ = ("token",)

    def __init__(self, token: int) -> None:
        self.token = token


class AllStopped(_Record):
    """Guardian -> host: every top-level cell has stopped."""

    __slots__ = ("token",)

    def __init__(self, token: int) -> None:
        self.token = token


class Escalate(_Record):
    """Cell -> parent: my failure is escalated to you."""

    __slots__ = ("error", "name", "traceback")

    def __init__(self, name: str, error: str, traceback: str) -> None:
        self.name = name
        self.error = error
        self.traceback = traceback


class Escalated(_Record):
    """Guardian -> bridge: a top-level cell escalated; the host stops."""

    __slots__ = ("error", "name")

    def __init__(self, name: str, error: str) -> None:
        self.name = name
        self.error = error


# -- watching, counting -------------------------------------------------------------------


class DrainWatch(_Record):
    """-> cell or bridge: once ``target``'s mailbox has drained, send ``notify`` to ``watcher``."""

    __slots__ = ("notify", "target", "watcher")

    def __init__(self, target: str, watcher: object, notify: object) -> None:
        self.target = target
        self.watcher = watcher
        self.notify = notify


class Pressure(_Record):
    """Bridge -> cell: the mailbox of ``name`` refused what you sent (``full``), or drained.

    The bridge holds what it refused, in order, until the mailbox drains, so
    nothing is lost. While it is full, the cell's tells to ``name`` return
    REJECTED at once, as the mailbox itself would: a sender that reacts to a
    rejection (the registry marks a surface lagging and resyncs it) stops, and
    what the bridge holds stays bounded by what was in flight.
    """

    __slots__ = ("full", "name")

    def __init__(self, name: str, full: bool) -> None:
        self.name = name
        self.full = full


class StatsRequest(_Record):
    """Host -> guardian: collect every cell's counters; reply ``StatsReport`` to the bridge."""

    __slots__ = ("token",)

    def __init__(self, token: int) -> None:
        self.token = token


class StatsQuery(_Record):
    """Guardian -> cell: reply ``CellStats``."""

    __slots__ = ("token",)

    def __init__(self, token: int) -> None:
        self.token = token


class CellStats(_Record):
    """Cell -> guardian: mailbox stats (wire form) and what the cell counted as a sender."""

    __slots__ = (
        "bad_input",
        "dead_letters",
        "mailbox",
        "name",
        "pid",
        "refused",
        "sent",
        "token",
    )

    def __init__(
        self,
        token: int,
        name: str,
        mailbox: bytes,
        *,
        sent: int,
        refused: int,
        dead_letters: int,
        bad_input: int,
        pid: int,
    ) -> None:
        self.token = token
        self.name = name
        self.mailbox = mailbox
        self.sent = sent
        self.refused = refused
        self.dead_letters = dead_letters
        self.bad_input = bad_input
        self.pid = pid


class StatsReport(_Record):
    """Guardian -> bridge: every cell's ``CellStats`` and the guardian's dead-letter count."""

    __slots__ = ("cells", "dead_letters", "token")

    def __init__(self, token: int, cells: tuple[CellStats, ...], dead_letters: int) -> None:
        self.token = token
        self.cells = cells
        self.dead_letters = dead_letters


class Members(_Record):
    """Guardian -> bridge: the other systems of the convention and their capabilities."""

    __slots__ = ("systems",)

    def __init__(self, systems: tuple[tuple[str, dict[str, Any]], ...]) -> None:
        self.systems = systems


# -- the bridge ---------------------------------------------------------------------------


class BridgeHello(_Record):
    """Bridge listener -> guardian: reply ``Welcome`` with my address as actors see it."""

    __slots__ = ("token",)

    def __init__(self, token: int) -> None:
        self.token = token


class Welcome(_Record):
    """Guardian -> bridge listener: your address; the guardian's process and session."""

    __slots__ = ("address", "pid", "session", "token")

    def __init__(self, token: int, address: object, pid: int, session: int) -> None:
        self.token = token
        self.address = address
        self.pid = pid
        self.session = session


class BridgeClose(_Record):
    """Host -> bridge listener: stop listening."""

    __slots__ = ()


class Nop(_Record):
    """Runs an in-process system once (its actors only run inside a call into it)."""

    __slots__ = ()


# -- a cell's own wake-ups (never leave its process) --------------------------------------


class Drain(_Record):
    """Cell -> itself: handle a batch from the mailbox."""

    __slots__ = ()


class TimerFired(_Record):
    """Wake-up payload of ``ctx.schedule``: ignored when the id was cancelled."""

    __slots__ = ("timer",)

    def __init__(self, timer: int) -> None:
        self.timer = timer


class RestartDue(_Record):
    """Wake-up payload: the backoff before rebuilding the behaviour has passed."""

    __slots__ = ("generation",)

    def __init__(self, generation: int) -> None:
        self.generation = generation


class ExitCheck(_Record):
    """Wake-up payload: decide whether the child ``name`` whose exit was reported died."""

    __slots__ = ("generation", "name")

    def __init__(self, name: str, generation: int) -> None:
        self.name = name
        self.generation = generation


class RecreateDue(_Record):
    """Wake-up payload: re-create the child ``name`` whose process died."""

    __slots__ = ("generation", "name")

    def __init__(self, name: str, generation: int) -> None:
        self.name = name
        self.generation = generation


class StatsDue(_Record):
    """Wake-up payload of the guardian: send what stats arrived for ``token``."""

    __slots__ = ("token",)

    def __init__(self, token: int) -> None:
        self.token = token


DRAIN = Drain()
NOP = Nop()

"""The Thespian host's control plane: what its cells, its guardian and its bridge tell each other.

These are Thespian messages, pickled by Thespian's transport like any: they
carry only names, numbers, bytes in the wire form and Thespian addresses.
Behaviour messages never appear here except as wire bytes (``Envelope``).
Each class is a frozen, slotted attrs record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

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


def _dict_or_none(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(value) if value else None


# Each record is frozen and slotted, compared by identity (never compared or hashed),
# and pickled by Thespian (attrs' slotted classes pickle by their fields).


# -- creating and starting cells -------------------------------------------------------


@attrs.frozen(eq=False)
class Setup:
    """Host -> guardian, first: watch dead letters and the convention.

    ``watchdog``: a loopback port of the aiway process; the guardian keeps a
    connection to it and ends the whole system if it closes (the aiway process
    died without shutting the system down).
    """

    in_process: bool
    watchdog: int | None = None
    #: seconds between the guardian's ``Beat``s to its top-level cells (None: no beats);
    #: a cell that misses three ends itself (its leader is gone)
    heartbeat: float | None = None


@attrs.frozen(eq=False)
class Create:
    """Host -> guardian: create an (unstarted) cell for ``name``; reply ``Created``."""

    token: int
    name: str
    requirements: dict[str, Any] | None = attrs.field(converter=_dict_or_none)


@attrs.frozen(eq=False)
class Created:
    """Guardian -> host: the cell's address (None and ``error`` when it could not be created)."""

    token: int
    address: object | None
    pid: int
    error: str = ""


@attrs.frozen(eq=False)
class Hello:
    """Guardian -> new cell: reply ``Here`` so the guardian learns the real address."""

    token: int


@attrs.frozen(eq=False)
class Here:
    """New cell -> guardian: I exist (``sender`` is my address)."""

    token: int
    pid: int


@attrs.frozen(eq=False)
class Start:
    """Everything a cell needs to run its behaviour.

    ``spec``/``spec_refs`` hold a ``BehaviourSpec`` in the wire form;
    ``local_factory`` a plain factory, only on an in-process base (nothing is
    pickled there). ``mailbox`` and ``policy`` are in the wire form. The
    guardian fills in ``parent``, ``guardian`` and ``bridge`` of a top-level
    cell (``attrs.evolve``).
    """

    name: str
    spec: bytes | None = attrs.field(kw_only=True)
    spec_refs: tuple[object, ...] = attrs.field(kw_only=True)
    local_factory: Callable[[], Behaviour] | None = attrs.field(kw_only=True)
    mailbox: bytes | None = attrs.field(kw_only=True)
    policy: bytes = attrs.field(kw_only=True)
    in_process: bool = attrs.field(kw_only=True)
    parent: object | None = attrs.field(default=None, kw_only=True)
    guardian: object | None = attrs.field(default=None, kw_only=True)
    bridge: object | None = attrs.field(default=None, kw_only=True)
    heartbeat: float | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(eq=False)
class Launch:
    """Host -> guardian: start the cell created for ``start.name`` (the guardian supervises it)."""

    start: Start


@attrs.frozen(eq=False)
class Register:
    """Cell -> guardian (and parent) once started: my name, my process."""

    name: str
    pid: int


@attrs.frozen(eq=False)
class Directory:
    """Guardian -> cells and bridge: ``name`` now lives at ``address`` (None: it stopped)."""

    name: str
    address: object | None
    pid: int = 0


# -- stopping and failing --------------------------------------------------------------


@attrs.frozen(eq=False)
class Stopping:
    """Cell -> parent and guardian: I am stopping (do not restart me).

    ``ended`` when nobody of aiway asked: the cell's own Thespian system ended it
    (its member shuts down). The guardian takes that as the member leaving, which
    the convention may report only later, or not before the cell's exit.
    """

    name: str
    ended: bool = False


@attrs.frozen(eq=False)
class StopGracefully:
    """-> cell: handle what is queued, then stop."""


@attrs.frozen(eq=False)
class StopNow:
    """-> cell: stop now; what is queued becomes dead letters."""


@attrs.frozen(eq=False)
class StopAll:
    """Host -> guardian: stop the top-level cells gracefully, newest first; ``AllStopped``."""

    token: int


@attrs.frozen(eq=False)
class AllStopped:
    """Guardian -> host: every top-level cell has stopped."""

    token: int


@attrs.frozen(eq=False)
class Escalate:
    """Cell -> parent: my failure is escalated to you."""

    name: str
    error: str
    traceback: str


@attrs.frozen(eq=False)
class Escalated:
    """Guardian -> bridge: a top-level cell escalated; the host stops."""

    name: str
    error: str


# -- a convention's members coming and going ------------------------------------------


@attrs.frozen(eq=False)
class Beat:
    """Guardian -> top-level cell, every heartbeat period: your guardian (leader) is alive."""


@attrs.frozen(eq=False)
class MemberLost:
    """Guardian -> bridge: the member at ``where`` left the convention with cells ``names``."""

    where: str
    names: tuple[str, ...]


@attrs.frozen(eq=False)
class Unplaced:
    """Guardian -> bridge: cell ``name`` lost its system and no system can host it now."""

    name: str
    error: str


@attrs.frozen(eq=False)
class Placed:
    """Guardian -> bridge: cell ``name``, lost with its system, runs again at ``where``."""

    name: str
    where: str


# -- watching, counting -------------------------------------------------------------------


@attrs.frozen(eq=False)
class DrainWatch:
    """-> cell or bridge: once ``target``'s mailbox has drained, send ``notify`` to ``watcher``."""

    target: str
    watcher: object
    notify: object


@attrs.frozen(eq=False)
class Pressure:
    """Bridge -> cell: the mailbox of ``name`` refused what you sent (``full``), or drained.

    The bridge holds what it refused, in order, until the mailbox drains, so
    nothing is lost. While it is full, the cell's tells to ``name`` return
    REJECTED at once, as the mailbox itself would: a sender that reacts to a
    rejection (the registry marks a surface lagging and resyncs it) stops, and
    what the bridge holds stays bounded by what was in flight.
    """

    name: str
    full: bool


@attrs.frozen(eq=False)
class StatsRequest:
    """Host -> guardian: collect every cell's counters; reply ``StatsReport`` to the bridge."""

    token: int


@attrs.frozen(eq=False)
class StatsQuery:
    """Guardian -> cell: reply ``CellStats``."""

    token: int


@attrs.frozen(eq=False)
class CellStats:
    """Cell -> guardian: mailbox stats (wire form) and what the cell counted as a sender."""

    token: int
    name: str
    mailbox: bytes
    sent: int = attrs.field(kw_only=True)
    refused: int = attrs.field(kw_only=True)
    dead_letters: int = attrs.field(kw_only=True)
    bad_input: int = attrs.field(kw_only=True)
    pid: int = attrs.field(kw_only=True)


@attrs.frozen(eq=False)
class StatsReport:
    """Guardian -> bridge: every cell's ``CellStats`` and the guardian's dead-letter count."""

    token: int
    cells: tuple[CellStats, ...]
    dead_letters: int


@attrs.frozen(eq=False)
class Members:
    """Guardian -> bridge: the other systems of the convention and their capabilities."""

    systems: tuple[tuple[str, dict[str, Any]], ...]


# -- the bridge ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class BridgeHello:
    """Bridge listener -> guardian: reply ``Welcome`` with my address as actors see it."""

    token: int


@attrs.frozen(eq=False)
class Welcome:
    """Guardian -> bridge listener: your address; the guardian's process and session."""

    token: int
    address: object
    pid: int
    session: int


@attrs.frozen(eq=False)
class BridgeClose:
    """Host -> bridge listener: stop listening."""


@attrs.frozen(eq=False)
class Nop:
    """Runs an in-process system once (its actors only run inside a call into it)."""


# -- a cell's own wake-ups (never leave its process) --------------------------------------


@attrs.frozen(eq=False)
class Drain:
    """Cell -> itself: handle a batch from the mailbox."""


@attrs.frozen(eq=False)
class TimerFired:
    """Wake-up payload of ``ctx.schedule``: ignored when the id was cancelled."""

    timer: int


@attrs.frozen(eq=False)
class RestartDue:
    """Wake-up payload: the backoff before rebuilding the behaviour has passed."""

    generation: int


@attrs.frozen(eq=False)
class ExitCheck:
    """Wake-up payload: decide whether the child ``name`` whose exit was reported died."""

    name: str
    generation: int


@attrs.frozen(eq=False)
class RecreateDue:
    """Wake-up payload: re-create the child ``name`` whose process died."""

    name: str
    generation: int


@attrs.frozen(eq=False)
class BeatDue:
    """Wake-up payload of the guardian: send every top-level cell a ``Beat``."""


@attrs.frozen(eq=False)
class GapCheck:
    """Wake-up payload of a cell holding batches behind a missing one (``wire.Resequencer``):
    give up on a gap that stayed open too long."""


@attrs.frozen(eq=False)
class BeatCheck:
    """Wake-up payload of a top-level cell: end it when no ``Beat`` came for three periods."""


@attrs.frozen(eq=False)
class StatsDue:
    """Wake-up payload of the guardian: send what stats arrived for ``token``."""

    token: int


DRAIN = Drain()
NOP = Nop()
BEAT = Beat()

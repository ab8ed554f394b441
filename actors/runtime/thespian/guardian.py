"""The guardian: the Thespian actor at the root of one host's cells.

It is created by the host (from outside the system) and is the Thespian
parent of every top-level cell, so Thespian tells it when one exits. It:

* creates cells on request (with capability requirements, so Thespian may
  place them on another system of the convention) and reports their real
  address once they answer;
* supervises top-level cells whose process dies (``supervise.Children``);
* keeps the directory of names: when a cell is re-created somewhere else or
  stops, every cell and the bridge learn it (``Directory``), so refs follow;
* stops its cells gracefully, newest first, on ``StopAll``;
* counts Thespian's dead letters and collects every cell's counters;
* forwards convention membership changes to the bridge;
* notices a member that left with cells on it (``MemberLost``): those cells
  are created again by their policy on a system that offers what they
  require (``Placed``), or wait, reported ``Unplaced``, until one joins;
* beats its top-level cells every ``Setup.heartbeat`` seconds, so a cell on a
  member ends itself when its leader is gone (see ``cell``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from datetime import timedelta
from typing import Any

import attrs
from thespian.actors import (
    Actor,
    ActorExitRequest,
    ActorSystemConventionUpdate,
    ChildActorExited,
    DeadEnvelope,
    NoCompatibleSystemForActor,
    WakeupMessage,
)

from aiway.actors.protocol import to_wire
from aiway.actors.runtime.messages import ActorFailed
from aiway.actors.runtime.supervision import Directive, SupervisorPolicy
from aiway.actors.runtime.thespian import control as c
from aiway.actors.runtime.thespian.cell import CellActor
from aiway.actors.runtime.thespian.supervise import Child, Children
from aiway.actors.runtime.thespian.wire import Envelope, decode_plain

log = logging.getLogger(__name__)


def _watch_host(port: int) -> None:
    """End this system (its whole process group) once the aiway process that owns it is gone.

    The aiway process listens on ``port``; this thread holds a connection to it
    and blocks reading it: a read returns nothing only when the other end has
    closed, which an aiway process that shut the system down first never lets
    happen while the system runs. Killed with SIGKILL, it leaves no system
    behind this way.
    """
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.settimeout(None)

    def watch() -> None:
        with contextlib.suppress(OSError):
            while connection.recv(64):
                pass
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="aiway-host-watchdog", daemon=True).start()


#: how long the guardian waits for every cell's counters
STATS_WAIT = timedelta(seconds=1)
#: how long a member whose system ended our cells is not a place for a lost cell (its
#: de-registration, or three missed registrations, come well within it)
LEAVING = 10.0


class GuardianActor(Actor):  # type: ignore[misc]
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.bridge: object | None = None
        self.directory: dict[str, tuple[object, int]] = {}
        self.children = Children(self, CellActor, self._report, time.monotonic)
        self.policies: dict[str, SupervisorPolicy] = {}
        self.creating: dict[int, tuple[object, str, object, dict[str, Any] | None]] = {}
        self.stop_all: tuple[int, object, list[str]] | None = None
        self.collecting: dict[int, tuple[list[c.CellStats], int]] = {}
        self.members: dict[str, dict[str, Any]] = {}
        #: each member's admin (host:port) by its host
        self.admins: dict[str, str] = {}
        #: hosts whose system ended our cells there, and when: leaving, though still
        #: registered (for ``LEAVING``: a member that stays after all is a host again)
        self.leaving: dict[str, float] = {}
        self.dead_letters = 0
        self.heartbeat: float | None = None
        #: cells lost with their member, until they run again: name -> where they were
        self.lost: dict[str, str] = {}
        #: lost cells no system could host; created again when a fitting member joins
        self.unplaced: dict[str, Child] = {}

    def receiveMessage(self, msg: object, sender: object) -> None:
        if isinstance(msg, c.Register):
            self._register(msg, sender)
        elif isinstance(msg, c.Stopping):
            if not (msg.ended and self._ended_with_its_member(msg.name, sender)):
                self.children.stopping(msg.name)
                self._gone(msg.name)
        elif isinstance(msg, c.Create):
            self._create(msg, sender)
        elif isinstance(msg, c.Here):
            self._created(msg, sender)
        elif isinstance(msg, c.Launch):
            self._launch(msg.start)
        elif isinstance(msg, ChildActorExited):
            self._exited(msg.childAddress)
        elif isinstance(msg, c.Escalate):
            self._tell_bridge(c.Escalated(msg.name, msg.error))
        elif isinstance(msg, c.StopAll):
            self.stop_all = (msg.token, sender, list(reversed(self.children.names())))
            self._continue_stop_all()
        elif isinstance(msg, c.StatsRequest):
            self._collect(msg.token)
        elif isinstance(msg, c.CellStats):
            entry = self.collecting.get(msg.token)
            if entry is not None:
                entry[0].append(msg)
                if len(entry[0]) >= entry[1]:
                    self._report_stats(msg.token)
        elif isinstance(msg, WakeupMessage):
            payload = msg.payload
            if isinstance(payload, c.StatsDue):
                self._report_stats(payload.token)
            elif isinstance(payload, c.RecreateDue):
                self._recreate(payload)
            elif isinstance(payload, c.BeatDue):
                self._beat()
            elif (
                isinstance(payload, c.ExitCheck)
                and self.children.check(payload, self._policy_of) is Directive.ESCALATE
            ):
                self._tell_bridge(c.Escalated(payload.name, "its process died"))
        elif isinstance(msg, DeadEnvelope):
            self.dead_letters += 1
        elif isinstance(msg, c.BridgeHello):
            self.bridge = sender
            self.send(sender, c.Welcome(msg.token, sender, os.getpid(), os.getsid(0)))
        elif isinstance(msg, ActorSystemConventionUpdate):
            self._convention(msg)
        elif isinstance(msg, c.Setup):
            self.handleDeadLetters()
            if not msg.in_process:
                self.notifyOnSystemRegistrationChanges(True)
            if msg.watchdog is not None and not msg.in_process:
                _watch_host(msg.watchdog)
            if msg.heartbeat is not None and not msg.in_process:
                self.heartbeat = msg.heartbeat
                self.wakeupAfter(timedelta(seconds=msg.heartbeat), c.BeatDue())
        elif isinstance(msg, ActorExitRequest | c.Nop):
            pass

    # -- creating --------------------------------------------------------------------------

    def _create(self, msg: c.Create, sender: object) -> None:
        if msg.name in self.directory or msg.name in self.children.by_name:
            self.send(sender, c.Created(msg.token, None, 0, f"{msg.name!r} is already running"))
            return
        requirements = {c.REQUIRES: msg.requirements} if msg.requirements else None
        try:
            address = self.createActor(CellActor, targetActorRequirements=requirements)
        except NoCompatibleSystemForActor as exc:
            self.send(sender, c.Created(msg.token, None, 0, str(exc)))
            return
        self.creating[msg.token] = (sender, msg.name, address, requirements)
        self.send(address, c.Hello(msg.token))

    def _created(self, msg: c.Here, sender: object) -> None:
        entry = self.creating.pop(msg.token, None)
        if entry is None:
            return
        asker, name, _, requirements = entry
        child = self.children.add(name, sender, requirements)
        child.pid = msg.pid
        self.send(asker, c.Created(msg.token, sender, msg.pid))

    def _launch(self, start: c.Start) -> None:
        if start.name not in self.children.by_name:
            log.warning("no cell was created for %s", start.name)
            return
        start = attrs.evolve(
            start,
            guardian=self.myAddress,
            parent=self.myAddress,
            bridge=self.bridge,
            heartbeat=self.heartbeat,
        )
        policy: SupervisorPolicy = decode_plain(start.policy, SupervisorPolicy)
        self.policies[start.name] = policy
        self.children.launch(start.name, start, policy)

    # -- the directory --------------------------------------------------------------------

    def _register(self, msg: c.Register, sender: object) -> None:
        old = self.directory.get(msg.name)
        self.directory[msg.name] = (sender, msg.pid)
        child = self.children.by_name.get(msg.name)
        if child is not None:
            child.address, child.pid = sender, msg.pid
        update = c.Directory(msg.name, sender, msg.pid)
        where = self.lost.pop(msg.name, None)
        if (old is not None and old[0] != sender) or where is not None:
            for name, (address, pid) in self.directory.items():
                if name != msg.name:
                    self.send(address, update)
                    if where is not None:  # it was created again from its first Start: its
                        self.send(sender, c.Directory(name, address, pid))  # refs are old
        self._tell_bridge(update)
        if where is not None:
            self._tell_bridge(c.Placed(msg.name, _where(sender)))

    def _gone(self, name: str) -> None:
        if self.directory.pop(name, None) is None:
            return
        update = c.Directory(name, None)
        for address, _ in self.directory.values():
            self.send(address, update)
        self._tell_bridge(update)

    # -- supervision and stopping -------------------------------------------------------------

    def _exited(self, address: object) -> None:
        for token, (asker, name, placeholder, _) in list(self.creating.items()):
            if placeholder == address:
                del self.creating[token]
                error = f"no system of the convention could host {name!r}"
                self.send(asker, c.Created(token, None, 0, error))
                return
        child = self.children.find(address)
        if child is not None and child.name in self.lost and child.name not in self.directory:
            # created again after its member left, it never started: nothing can host it
            self._unplaceable(child, f"no system of the convention could host {child.name!r}")
            return
        child = self.children.find(address)
        if child is not None and not child.stopping:
            self._gone(child.name)
        self.children.exited(address)
        self._continue_stop_all()

    def _policy_of(self, child: Child) -> SupervisorPolicy:
        return self.policies.get(child.name, SupervisorPolicy())

    def _continue_stop_all(self) -> None:
        if self.stop_all is None:
            return
        token, asker, pending = self.stop_all
        while pending:
            child = self.children.by_name.get(pending[0])
            if child is None or child.address is None:  # None: lost, waiting for a member
                pending.pop(0)
                continue
            if not child.stopping:
                child.stopping = True
                self.send(child.address, c.StopGracefully())
            return
        self.stop_all = None
        self.send(asker, c.AllStopped(token))

    def _report(self, failure: ActorFailed) -> None:
        self._tell_bridge(Envelope(c.FAILURES, to_wire(failure), ()))

    def _tell_bridge(self, msg: object) -> None:
        if self.bridge is not None:
            self.send(self.bridge, msg)

    # -- counters and the convention ------------------------------------------------------------

    def _collect(self, token: int) -> None:
        cells = list(self.directory.values())
        self.collecting[token] = ([], len(cells))
        for address, _ in cells:
            self.send(address, c.StatsQuery(token))
        if not cells:
            self._report_stats(token)
        else:
            self.wakeupAfter(STATS_WAIT, c.StatsDue(token))

    def _report_stats(self, token: int) -> None:
        entry = self.collecting.pop(token, None)
        if entry is not None:
            self._tell_bridge(c.StatsReport(token, tuple(entry[0]), self.dead_letters))

    def _convention(self, msg: Any) -> None:
        key = str(msg.remoteAdminAddress)
        where = _where(msg.remoteAdminAddress)
        host = where.rsplit(":", 1)[0]
        self.leaving.pop(host, None)
        if msg.remoteAdded:
            self.members[key] = dict(msg.remoteCapabilities or {})
            self.admins[host] = where
        else:
            self.members.pop(key, None)
            self.admins.pop(host, None)
            self._member_left(where)
        # a lost cell waits for a member that offers what it requires: one joined, or
        # one that left was the one Thespian tried (the rest may offer it too)
        for child in list(self.unplaced.values()):
            if self._can_host(child):
                del self.unplaced[child.name]
                self._recreate(c.RecreateDue(child.name, child.generation))
        self._tell_bridge(c.Members(tuple(sorted(self.members.items()))))

    def _can_host(self, child: Child) -> bool:
        """Some member of the convention, not one leaving, offers what ``child`` requires."""
        now = time.monotonic()
        return any(
            c.capabilities_match(caps, child.requirements or {})
            for key, caps in self.members.items()
            if now - self.leaving.get(_host_of(key), -LEAVING) >= LEAVING
        )

    def _ended_with_its_member(self, name: str, sender: object) -> bool:
        """A top-level cell on another system says that system ended it (``Stopping``
        with ``ended``): that member is leaving, and the guardian takes it as gone now.

        Its convention de-registration comes from its admin, on another connection:
        it can arrive after the cells' word, and a cell already taken as stopping on
        purpose would not count as lost with it (the answer in flight would never end).
        """
        child = self.children.by_name.get(name)
        host = _where(sender).rsplit(":", 1)[0]
        if (
            child is None
            or child.stopping
            or host not in self.admins  # not on a member's host (no convention, another base)
            or host == _where(self.myAddress).rsplit(":", 1)[0]  # this machine: which admin?
        ):
            return False
        self.leaving[host] = time.monotonic()
        where = self.admins.get(host, _where(sender))
        log.warning("the system at %s ended %s: that member is leaving", where, name)
        self._member_left(where)
        return True

    def _member_left(self, where: str) -> None:
        """The member at ``where`` left (shut down, died, unreachable): its cells are lost.

        Thespian 4.0.1 does not report the children it created on a member that left
        (``ChildActorExited``: its list of them is never filled), so the guardian takes
        each as exited: its policy creates it again on another system that offers what
        it requires, or drops it.
        """
        host = where.rsplit(":", 1)[0]
        lost = [
            child
            for child in self.children.by_name.values()
            if not child.stopping
            and child.name not in self.lost  # lost already (its cell said so first)
            and child.address is not None
            and _where(child.address).rsplit(":", 1)[0] == host
        ]
        if not lost:
            return
        names = tuple(child.name for child in lost)
        for name in names:
            self.lost[name] = where
        log.error("the member at %s left the convention with %s", where, ", ".join(names))
        self._tell_bridge(c.MemberLost(where, names))
        for child in lost:
            self._exited(child.address)

    def _recreate(self, due: c.RecreateDue) -> None:
        child = self.children.by_name.get(due.name)
        if child is not None and child.name in self.lost and not self._can_host(child):
            # Thespian would keep a placeholder whose creation fails later, or never
            wanted = dict((child.requirements or {}).get(c.REQUIRES) or {})
            self._unplaceable(child, f"no member of the convention offers {wanted}")
            return
        try:
            self.children.recreate(due)
        except NoCompatibleSystemForActor as exc:
            if child is not None:
                self._unplaceable(child, str(exc))

    def _unplaceable(self, child: Child, error: str) -> None:
        """A lost cell that no system can host now: it waits for a member that can."""
        child.address = None
        self.unplaced[child.name] = child
        self._tell_bridge(c.Unplaced(child.name, error))

    def _beat(self) -> None:
        for child in self.children.by_name.values():
            if child.address is not None:
                self.send(child.address, c.BEAT)
        if self.heartbeat is not None:
            self.wakeupAfter(timedelta(seconds=self.heartbeat), c.BeatDue())


def _host_of(key: str) -> str:
    """The host of a member's key in ``members`` (the string form of its admin's address:
    ``ActorAddr-(T|10.0.0.2:1900)``)."""
    inside = key.rsplit("|", 1)[-1].rstrip(")")
    return inside.rsplit(":", 1)[0]


def _where(address: object) -> str:
    """``host:port`` of a Thespian TCP address (its string form otherwise)."""
    details = getattr(address, "addressDetails", None)
    sockname = getattr(details, "sockname", None)
    if isinstance(sockname, tuple) and len(sockname) == 2:
        return f"{sockname[0]}:{sockname[1]}"
    return str(address)

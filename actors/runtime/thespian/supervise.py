"""Supervision on Thespian: the children of one actor, and what happens when one's process dies.

A handler that raises is caught inside its cell and restarted in place (see
``cell``): the cell keeps its Thespian address, so every ref stays valid, and
the policy and backoff are the asyncio host's (``SupervisorPolicy``,
``RestartTracker``). What a cell cannot catch is its process dying (killed,
out of memory, a crash in native code). Thespian tells the parent with
``ChildActorExited``; ``Children`` applies the child's policy to it (after a
short grace, in case the child was stopping on purpose after all): after
the backoff the child is created again from the same ``Start`` (a new
address: the guardian announces it with ``Directory`` so refs follow), or it
is dropped (stop), or the parent fails (escalate). Each such death is
reported as an ``ActorFailed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from aiway.actors.runtime.messages import ActorFailed
from aiway.actors.runtime.supervision import Directive, RestartTracker, SupervisorPolicy
from aiway.actors.runtime.thespian.control import ExitCheck, RecreateDue, Start

log = logging.getLogger(__name__)

#: how long after Thespian reports a child's exit the parent decides it died
EXIT_GRACE = timedelta(seconds=0.1)


class Child:
    """One child: where it is, how it was started, how often it has died."""

    __slots__ = (
        "address",
        "generation",
        "name",
        "pid",
        "requirements",
        "start",
        "stopping",
        "tracker",
    )

    def __init__(self, name: str, address: object, requirements: Mapping[str, Any] | None) -> None:
        self.name = name
        self.address = address
        self.requirements = dict(requirements) if requirements else None
        self.start: Start | None = None
        self.tracker = RestartTracker(SupervisorPolicy())
        self.stopping = False
        self.generation = 0
        self.pid = 0


class Children:
    """The children of one Thespian actor (a cell, or the guardian for top-level cells).

    ``actor`` is the Thespian actor (``createActor``, ``send``, ``wakeupAfter``);
    ``cell_class`` the class children are created as; ``report`` is told every
    failure; ``clock`` gives the time the restart window is measured in.
    """

    def __init__(
        self,
        actor: Any,
        cell_class: type,
        report: Callable[[ActorFailed], None],
        clock: Callable[[], float],
    ) -> None:
        self.actor = actor
        self.cell_class = cell_class
        self.report = report
        self.clock = clock
        self.by_name: dict[str, Child] = {}

    def add(
        self, name: str, address: object, requirements: Mapping[str, Any] | None = None
    ) -> Child:
        child = Child(name, address, requirements)
        self.by_name[name] = child
        return child

    def launch(self, name: str, start: Start, policy: SupervisorPolicy) -> None:
        """Send ``start`` to the child and keep it for re-creation."""
        child = self.by_name[name]
        child.start = start
        child.tracker = RestartTracker(policy)
        self.actor.send(child.address, start)

    def find(self, address: object) -> Child | None:
        for child in self.by_name.values():
            if child.address == address:
                return child
        return None

    def names(self) -> list[str]:
        """Live children in start order."""
        return list(self.by_name)

    def stopping(self, name: str) -> None:
        """The child said it stops on purpose: its exit is not a failure."""
        child = self.by_name.get(name)
        if child is not None:
            child.stopping = True

    def exited(self, address: object) -> None:
        """Thespian reported a child's exit. Decided after ``EXIT_GRACE``: a child that
        stops on purpose says so (``Stopping``), but on a multiprocess base its parent
        may learn of the exit (SIGCHLD) before it reads that message."""
        child = self.find(address)
        if child is None:
            return
        if child.stopping or child.start is None:
            del self.by_name[child.name]
            return
        child.generation += 1
        self.actor.wakeupAfter(EXIT_GRACE, ExitCheck(child.name, child.generation))

    def check(self, due: ExitCheck, policy_of: Callable[[Child], SupervisorPolicy]) -> Directive:
        """The grace passed: a child that did not say it was stopping died. Applies its
        policy and reports it; returns ESCALATE when the parent must fail in turn."""
        child = self.by_name.get(due.name)
        if child is None or child.generation != due.generation:
            return Directive.STOP
        if child.stopping:
            del self.by_name[child.name]
            return Directive.STOP
        policy = policy_of(child)
        directive = policy.directive
        delay: float | None = None
        if directive is Directive.RESTART:
            delay = child.tracker.next_backoff(self.clock())
            if delay is None:
                directive = policy.exhausted
        log.error("the process of actor %s exited unexpectedly: %s", child.name, directive.value)
        self.report(
            ActorFailed(
                actor=child.name,
                error="ActorProcessExited: its process exited unexpectedly",
                traceback="",
                action=directive.value,
                restarts=child.tracker.restarts,
            )
        )
        if directive is Directive.RESTART and delay is not None:
            self.actor.wakeupAfter(
                timedelta(seconds=delay), RecreateDue(child.name, child.generation)
            )
            return Directive.STOP
        del self.by_name[child.name]
        return directive

    def recreate(self, due: RecreateDue) -> None:
        """The backoff passed: create the child again from its ``Start``."""
        child = self.by_name.get(due.name)
        if child is None or child.stopping or child.generation != due.generation:
            return
        if child.start is None:
            return
        child.address = self.actor.createActor(
            self.cell_class, targetActorRequirements=child.requirements
        )
        self.actor.send(child.address, child.start)

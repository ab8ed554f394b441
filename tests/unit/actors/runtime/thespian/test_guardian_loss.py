"""The guardian takes a member as gone when its cells say their system ended them.

A member that shuts down de-registers from the convention (its admin) and ends
its actors (each cell then says ``Stopping``). The two come over different
connections, in either order. Before, a cell's word that came first was taken
as a stop on purpose: the member's later de-registration found no lost cell,
the session never heard the core was lost, and the answer in flight never
ended (seen in ``tests/netns/test_shutdown.py`` under load).

The guardian here is the real class; what it sends, creates and schedules is
recorded instead of going through a Thespian system.
"""

from __future__ import annotations

from typing import Any

from thespian.actors import ActorAddress, ActorSystemConventionUpdate
from thespian.system.transport.TCPTransport import TCPv4ActorAddress

from aiway.actors.runtime.thespian import control as c
from aiway.actors.runtime.thespian.guardian import LEAVING, GuardianActor

LEADER = "10.0.0.1"
MEMBER = "10.0.0.2"
CORE = ("registry", "avatar", "conductor")
MODEL = {c.REQUIRES: {"aiway.model": True}}


def address(host: str, port: int) -> ActorAddress:
    return ActorAddress(TCPv4ActorAddress(host, port, external=True))


class Recorded(GuardianActor):
    """The guardian with its Thespian side recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[object, object]] = []
        self.bridge = address(LEADER, 5000)

    @property
    def myAddress(self) -> ActorAddress:
        return address(LEADER, 1900)

    def send(self, target: object, msg: object) -> None:
        self.sent.append((target, msg))

    def wakeupAfter(self, *args: Any, **kw: Any) -> None:
        pass

    def to_bridge(self, kind: type) -> list[Any]:
        return [msg for target, msg in self.sent if target == self.bridge and type(msg) is kind]


def with_core_on(host: str) -> tuple[Recorded, dict[str, ActorAddress]]:
    """A guardian whose convention has the member at ``MEMBER``, with the core's cells on
    ``host``."""
    guardian = Recorded()
    guardian.receiveMessage(
        ActorSystemConventionUpdate(address(MEMBER, 1900), {"aiway.model": True}, True), None
    )
    cells = {}
    for port, name in enumerate(CORE, start=6000):
        cells[name] = address(host, port)
        child = guardian.children.add(name, cells[name], MODEL)
        child.start = object()  # type: ignore[assignment]  # launched
        guardian.directory[name] = (cells[name], 1)
    return guardian, cells


def test_cells_ended_by_their_system_are_lost_with_their_member_before_it_deregisters() -> None:
    guardian, cells = with_core_on(MEMBER)
    for name in CORE:
        guardian.receiveMessage(c.Stopping(name, ended=True), cells[name])
    (lost,) = guardian.to_bridge(c.MemberLost)
    assert lost.where == f"{MEMBER}:1900"
    assert set(lost.names) == set(CORE)
    # the de-registration that follows loses nothing twice
    guardian.receiveMessage(
        ActorSystemConventionUpdate(address(MEMBER, 1900), {"aiway.model": True}, False), None
    )
    assert len(guardian.to_bridge(c.MemberLost)) == 1


def test_the_deregistration_first_then_the_cells_word_loses_the_core_once() -> None:
    guardian, cells = with_core_on(MEMBER)
    guardian.receiveMessage(
        ActorSystemConventionUpdate(address(MEMBER, 1900), {"aiway.model": True}, False), None
    )
    for name in CORE:
        guardian.receiveMessage(c.Stopping(name, ended=True), cells[name])
    (lost,) = guardian.to_bridge(c.MemberLost)
    assert set(lost.names) == set(CORE)


def test_a_leaving_member_is_not_where_a_lost_cell_is_placed_again() -> None:
    guardian, cells = with_core_on(MEMBER)
    guardian.receiveMessage(c.Stopping("conductor", ended=True), cells["conductor"])
    # the conductor's exit check and backoff passed: the only model member is leaving
    child = guardian.children.by_name["conductor"]
    guardian._recreate(c.RecreateDue("conductor", child.generation))
    (unplaced,) = guardian.to_bridge(c.Unplaced)
    assert unplaced.name == "conductor" and "no member" in unplaced.error
    # a member that stays registered after all is a place for a lost cell again
    assert not guardian._can_host(child)
    guardian.leaving[MEMBER] -= LEAVING
    assert guardian._can_host(child)


def test_a_cell_stopped_on_purpose_is_not_a_lost_member() -> None:
    guardian, cells = with_core_on(MEMBER)
    guardian.receiveMessage(c.Stopping("avatar"), cells["avatar"])
    assert guardian.to_bridge(c.MemberLost) == []
    assert guardian.children.by_name["avatar"].stopping


def test_cells_of_the_leaders_own_system_ending_with_it_are_not_a_lost_member() -> None:
    guardian, cells = with_core_on(LEADER)
    guardian.receiveMessage(c.Stopping("conductor", ended=True), cells["conductor"])
    assert guardian.to_bridge(c.MemberLost) == []
    assert guardian.children.by_name["conductor"].stopping


def test_a_cell_ended_on_a_host_that_is_no_member_is_not_a_lost_member() -> None:
    """Without a convention (a local base), a cell that its system ends is not a member
    leaving: nothing is lost twice, and nothing is placed again at shutdown."""
    guardian, cells = with_core_on("10.0.0.9")
    guardian.receiveMessage(c.Stopping("registry", ended=True), cells["registry"])
    assert guardian.to_bridge(c.MemberLost) == []
    assert guardian.children.by_name["registry"].stopping

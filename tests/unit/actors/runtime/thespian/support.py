"""Behaviours, messages and a scripted backend for the host contract tests.

Everything here is importable by name, so a Thespian cell can build it from a
``BehaviourSpec`` in any process, and every message crosses the boundary in
the wire form. Behaviours report what they do to a ``Reporter``: a plain
actor of the test's own process on either host.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aiway.actors.backends.base import OnText
from aiway.actors.protocol import (
    ChatTurn,
    Message,
    Published,
    ResponseMetadata,
    Role,
    StateSnapshot,
    StreamEnd,
    Token,
)
from aiway.actors.runtime import (
    ActorFailed,
    ActorRef,
    Behaviour,
    Context,
    Directive,
    SupervisorPolicy,
    handles,
)
from aiway.actors.runtime.thespian import BehaviourSpec


@attrs.frozen
class Report:
    """What a behaviour did."""

    who: str
    what: str


@attrs.frozen
class Note:
    text: str


@attrs.frozen
class Ping:
    reply_to: ActorRef
    n: int


@attrs.frozen
class Boom:
    pass


@attrs.frozen
class StopYourself:
    pass


@attrs.frozen
class Arm:
    """Schedule ``Fire(i)`` after ``delays[i]``; then cancel the timers at ``cancel``."""

    delays: tuple[float, ...]
    cancel: tuple[int, ...] = ()


@attrs.frozen
class Fire:
    index: int


@attrs.frozen
class SpawnChild:
    name: str
    escalate: bool = False


@attrs.frozen
class ToChild:
    name: str
    msg: object


@attrs.frozen
class Look:
    name: str


@attrs.frozen
class Watch:
    target: ActorRef


@attrs.frozen
class Drained:
    pass


class Reporter(Behaviour):
    """Keeps every ``Report`` and ``ActorFailed`` it gets (a local actor of the test)."""

    def __init__(self) -> None:
        self.reports: list[Report] = []
        self.failures: list[ActorFailed] = []

    @handles(Report)
    def on_report(self, ctx: Context, msg: Report) -> None:
        self.reports.append(msg)

    @handles(ActorFailed)
    def on_failed(self, ctx: Context, msg: ActorFailed) -> None:
        self.failures.append(msg)

    def of(self, who: str) -> list[str]:
        return [r.what for r in self.reports if r.who == who]


class Recorder(Behaviour):
    """Reports start, notes and stop; answers pings; raises on ``Boom``."""

    def __init__(self, reporter: ActorRef, name: str) -> None:
        self.reporter = reporter
        self.name = name
        self.notes = 0

    def on_start(self, ctx: Context) -> None:
        ctx.tell(self.reporter, Report(self.name, "started"))

    def on_stop(self, ctx: Context) -> None:
        ctx.tell(self.reporter, Report(self.name, "stopped"))

    @handles(Note)
    def on_note(self, ctx: Context, msg: Note) -> None:
        self.notes += 1
        ctx.tell(self.reporter, Report(self.name, f"{msg.text}#{self.notes}"))

    @handles(Ping)
    def on_ping(self, ctx: Context, msg: Ping) -> None:
        ctx.tell(msg.reply_to, msg.n + 1)

    @handles(Boom)
    def on_boom(self, ctx: Context, msg: Boom) -> None:
        raise ValueError("boom")

    @handles(StopYourself)
    def on_stop_yourself(self, ctx: Context, msg: StopYourself) -> None:
        ctx.stop()

    @handles(Look)
    def on_look(self, ctx: Context, msg: Look) -> None:
        found = ctx.lookup(msg.name)
        ctx.tell(self.reporter, Report(self.name, f"{msg.name}:{found is not None}"))

    @handles(Watch)
    def on_watch(self, ctx: Context, msg: Watch) -> None:
        ctx.notify_when_drained(msg.target, Drained())

    @handles(Drained)
    def on_drained(self, ctx: Context, msg: Drained) -> None:
        ctx.tell(self.reporter, Report(self.name, "drained"))


class Timed(Behaviour):
    """Schedules and cancels timers on ``Arm``; reports each ``Fire``."""

    def __init__(self, reporter: ActorRef) -> None:
        self.reporter = reporter

    @handles(Arm)
    def on_arm(self, ctx: Context, msg: Arm) -> None:
        timers = [ctx.schedule(delay, Fire(i)) for i, delay in enumerate(msg.delays)]
        for index in msg.cancel:
            ctx.cancel(timers[index])

    @handles(Fire)
    def on_fire(self, ctx: Context, msg: Fire) -> None:
        ctx.tell(self.reporter, Report("timed", str(msg.index)))


class Parent(Recorder):
    """A recorder that spawns recorder children and forwards to them."""

    def __init__(self, reporter: ActorRef, name: str) -> None:
        super().__init__(reporter, name)
        self.children: dict[str, ActorRef] = {}

    @handles(SpawnChild)
    def on_spawn(self, ctx: Context, msg: SpawnChild) -> None:
        policy = SupervisorPolicy(directive=Directive.ESCALATE) if msg.escalate else None
        self.children[msg.name] = ctx.spawn(
            msg.name,
            BehaviourSpec.of(Recorder, reporter=self.reporter, name=msg.name),
            policy=policy,
        )

    @handles(ToChild)
    def on_to_child(self, ctx: Context, msg: ToChild) -> None:
        ctx.tell(self.children[msg.name], msg.msg)


class Tracker(Behaviour):
    """A surface that keeps only what it would show of the last answer (a local actor)."""

    def __init__(self) -> None:
        self.text = ""
        self.ended = False
        self.snapshots = 0

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.snapshots += 1
        answers = [e for e in msg.history if e.role is Role.ASSISTANT]
        if msg.streaming is not None:
            self.text, self.ended = msg.streaming.content, False
        elif answers:
            self.text, self.ended = answers[-1].content, True

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        shown = msg.message
        if isinstance(shown, Token):
            self.text += shown.text
        elif isinstance(shown, Message) and shown.role is Role.ASSISTANT:
            self.text, self.ended = shown.content, False
        elif isinstance(shown, StreamEnd):
            self.text, self.ended = shown.content, True


class ScriptedBackend:
    """A backend that streams a fixed list of pieces (no network), then stops."""

    name = "scripted"

    def __init__(self, pieces: Sequence[str]) -> None:
        self.pieces = tuple(pieces)
        self.requests: list[tuple[ChatTurn, ...]] = []

    async def stream(
        self, model: str, messages: tuple[ChatTurn, ...], on_text: OnText
    ) -> ResponseMetadata:
        self.requests.append(messages)
        for piece in self.pieces:
            await on_text(piece)
        return ResponseMetadata(
            model=model, backend=self.name, tokens=len(self.pieces), done_reason="stop"
        )

    async def list_models(self) -> list[str]:
        return ["tiny:latest"]

    async def close(self) -> None:
        pass

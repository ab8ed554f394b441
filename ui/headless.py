"""The headless log surface: the whole assistant with one text (or JSON) surface.

``aiway headless --prompt TEXT`` (repeatable) or lines on standard input:
each prompt is sent in turn and answered before the next one. Slash commands
work the same as in the terminal UI. Output is human-readable lines by default
(role-prefixed text streamed as it arrives, avatar and task events as short
annotations) or, with ``--json``, one JSON object per protocol message in the
wire form.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence

from actors.app import Assistant
from actors.protocol import (
    ActorFailed,
    AnswerStatus,
    AvatarState,
    Capability,
    Message,
    Notify,
    Published,
    Quit,
    Role,
    SessionInfo,
    StateSnapshot,
    StreamEnd,
    StreamError,
    TaskCompleted,
    TaskCreated,
    TaskFailed,
    TaskUpdated,
    Token,
    UserMessage,
    to_wire,
)
from actors.runtime import Behaviour, Context, handles
from ui.format import metadata_line
from ui.output import Output

log = logging.getLogger(__name__)

SURFACE_ID = "headless"


class Outcome:
    """What the driver waits for after sending one prompt."""

    ANSWERED = "answered"
    FAILED = "failed"
    QUIT = "quit"


class LogSurface(Behaviour):
    """Writes what the session publishes; resolves the driver's waiter when a turn ends."""

    def __init__(self, out: Output, *, json_mode: bool) -> None:
        self.out = out
        self.json_mode = json_mode
        self.waiter: asyncio.Future[str] | None = None
        self.expect_command = False
        self.failures: list[str] = []
        self.quit = False
        self._avatar: tuple[object, object, object] | None = None
        self.last_seq = 0

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self.last_seq = msg.last_seq
        if msg.avatar is not None:
            self._avatar = (msg.avatar.mood, msg.avatar.gesture, msg.avatar.reaction)
        if self.json_mode:
            self.out.write(to_wire(msg).decode() + "\n")
        elif msg.session is not None:
            self._show(msg.session)

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        self.last_seq = msg.seq
        if self.json_mode:
            self.out.write(to_wire(msg).decode() + "\n")
        else:
            self._show(msg.message)
        self._track(msg.message)

    def _track(self, msg: object) -> None:
        if isinstance(msg, StreamEnd):
            self._resolve(Outcome.ANSWERED)
        elif isinstance(msg, StreamError):
            self.failures.append(msg.error)
            self._resolve(Outcome.FAILED)
        elif isinstance(msg, Notify) and self.expect_command:
            self._resolve(Outcome.ANSWERED)
        elif isinstance(msg, Quit):
            self.quit = True
            self._resolve(Outcome.QUIT)

    def _resolve(self, outcome: str) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def _show(self, msg: object) -> None:
        write = self.out.write
        if isinstance(msg, Token):
            write(msg.text)
        elif isinstance(msg, Message):
            if msg.role is Role.ASSISTANT:
                write("yollayah> " + msg.content)
            elif msg.role is Role.USER:
                write(f"you> {msg.content}\n")
            else:
                write(f"   · {msg.content}\n")
        elif isinstance(msg, StreamEnd):
            status = "" if msg.status is AnswerStatus.COMPLETE else f" · {msg.status.value}"
            write(f"\n   · {metadata_line(msg.metadata)}{status}\n")
        elif isinstance(msg, StreamError):
            write(f"\n   ! error: {msg.error}\n")
        elif isinstance(msg, Notify):
            text = msg.text.replace("\n", "\n     ")
            write(f"   ({msg.level.value}) {msg.title}: {text}\n")
        elif isinstance(msg, SessionInfo):
            why = f" ({msg.backend_reason})" if msg.backend_reason else ""
            write(f"   · model {msg.model} on {msg.backend}{why}\n")
        elif isinstance(msg, AvatarState):
            self._show_avatar(msg)
        elif isinstance(msg, TaskCreated):
            write(f"   [task {msg.task_id} · {msg.agent_name} ({msg.agent}): {msg.description}]\n")
        elif isinstance(msg, TaskUpdated):
            write(f"   [task {msg.task_id} · {msg.percent}%]\n")
        elif isinstance(msg, TaskCompleted):
            write(f"   [task {msg.task_id} done]\n")
        elif isinstance(msg, TaskFailed):
            write(f"   [task {msg.task_id} failed: {msg.reason}]\n")
        elif isinstance(msg, ActorFailed):
            write(f"   ! {msg.actor} failed: {msg.error} ({msg.action})\n")
        elif isinstance(msg, Quit):
            write("   · bye\n")

    def _show_avatar(self, msg: AvatarState) -> None:
        shown = (msg.mood, msg.gesture, msg.reaction)
        if shown == self._avatar:
            return
        self._avatar = shown
        parts = [f"mood {msg.mood.value}"]
        if msg.gesture is not None:
            parts.append(f"gesture {msg.gesture.value}")
        if msg.reaction is not None:
            parts.append(f"reaction {msg.reaction.value}")
        self.out.write(f"   [yollayah: {' · '.join(parts)}]\n")


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from standard input, read without blocking the loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    fd = os.dup(0)
    pipe = os.fdopen(fd, "rb")
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
    except ValueError:  # a regular file: reading it does not wait on anyone
        for raw in pipe.read().decode().splitlines():
            yield raw
        pipe.close()
        return
    try:
        while line := await reader.readline():
            yield line.decode().rstrip("\n")
    finally:
        transport.close()


async def _prompts(prompts: Sequence[str]) -> AsyncIterator[str]:
    for prompt in prompts:
        yield prompt


async def run_session(
    assistant: Assistant,
    prompts: Sequence[str] | None,
    *,
    json_mode: bool,
    log_file: str | None,
    show_metrics: bool,
) -> int:
    """Drive one headless session to its end; the process's exit code."""
    out = await Output.open(log_file)
    surface = LogSurface(out, json_mode=json_mode)
    assistant.attach(
        SURFACE_ID,
        lambda: surface,
        surface_type="headless",
        capabilities=frozenset({Capability.STREAMING, Capability.TASKS}),
    )
    loop = asyncio.get_running_loop()
    answered = 0
    source = _prompts(prompts) if prompts else stdin_lines()
    try:
        async for raw in source:
            text = raw.strip()
            if not text:
                continue
            surface.expect_command = text.startswith("/")
            waiter: asyncio.Future[str] = loop.create_future()
            surface.waiter = waiter
            assistant.conductor.tell(UserMessage(text, SURFACE_ID))
            outcome = await waiter
            if outcome == Outcome.QUIT:
                break
            if outcome == Outcome.ANSWERED:
                answered += 1
    finally:
        if show_metrics:
            out.write(metrics_table(assistant))
        await assistant.stop()
        await out.close()
    if surface.failures:
        for failure in surface.failures:
            print(f"aiway: an answer failed: {failure}", file=sys.stderr)
        return 1
    return 0


def metrics_table(assistant: Assistant) -> str:
    """Every mailbox's counters as an aligned text table."""
    rows = [
        ("mailbox", "cap", "depth", "high", "accepted", "coalesced", "rejected", "p50 us", "p99 us")
    ]
    for stats in assistant.system.metrics():
        rows.append(
            (
                stats.name,
                str(stats.capacity),
                str(stats.depth),
                str(stats.high_water),
                str(stats.accepted),
                str(stats.coalesced),
                str(stats.rejected),
                f"{stats.latency_p50 * 1e6:.0f}",
                f"{stats.latency_p99 * 1e6:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    dead = f"dead letters: {assistant.system.dead_letters}"
    return "\n" + "\n".join(lines) + "\n" + dead + "\n"

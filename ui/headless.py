"""The headless log surface: the whole assistant with one text (or JSON) surface.

``aiway headless --prompt TEXT`` (repeatable) sends each prompt in turn, each
answered before the next. Standard input that is not a terminal (a pipe, a
file) is read whole, up to ``MAX_PIPED_BYTES``, as one prompt, the way
``ollama run`` takes it; with ``--prompt`` too it follows the first prompt
(``cat f.py | aiway headless --prompt "explain"``). ``--each-line`` sends every
input line as its own prompt instead, and a terminal on standard input is
always read a line per prompt. Slash commands work the same as in the terminal
UI. Output is human-readable lines by default (role-prefixed text streamed as
it arrives, avatar and task events as short annotations) or, with ``--json``,
one JSON object per protocol message in the wire form. Everything reaches the
terminal through ``Output``, which strips control sequences (or escapes them
in JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator, Sequence

from aiway.actors.app import Assistant
from aiway.actors.errors import AiwayError
from aiway.actors.protocol import (
    ActorFailed,
    AnswerStatus,
    AvatarState,
    Capability,
    HistoryEntry,
    LinkState,
    LinkStatus,
    Message,
    Notify,
    NotifyLevel,
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
from aiway.actors.protocol.conductor import Progress
from aiway.actors.runtime import Behaviour, Context, handles
from aiway.actors.untrusted import strip_controls
from aiway.ui.format import metadata_line
from aiway.ui.output import Output
from aiway.ui.progress import PullMeter

log = logging.getLogger(__name__)

SURFACE_ID = "headless"
#: seconds to wait for the first snapshot before reading input anyway
_FIRST_SCREEN_TIMEOUT = 10.0

MAX_PIPED_BYTES = 1024 * 1024
"""The most standard input read as one prompt (1 MiB, far past any model's context)."""


class PipedInputTooLarge(AiwayError):
    """Standard input held more than ``MAX_PIPED_BYTES``: nothing was sent."""


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
        #: resolved once the first snapshot is written (a resumed session's history with it)
        self.painted: asyncio.Future[None] | None = None
        self.expect_command = False
        self.failures: list[str] = []
        self.quit = False
        self._avatar: tuple[object, object, object] | None = None
        self.last_seq = 0
        # What the text shows, so a snapshot (late attach, lag, reconnect) adds only
        # what is missing: ids shown in full, and the answer in progress.
        self._finished: dict[str, None] = {}
        self._answer: str | None = None
        self._pieces: list[str] = []
        self._line_open = False
        #: lines that came while an answer streams: written when its line ends
        self._deferred: list[str] = []
        self._session_id: str | None = None
        #: the session line last written (a core placed anew says it again: written once)
        self._session_line: SessionInfo | None = None
        self._meters: dict[str, PullMeter] = {}
        #: the error of the answer that failed last: the notice that repeats it is not
        #: written again (the terminal UI shows it as a toast; here it would be a copy)
        self._failed_with: str | None = None

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        self._on_snapshot(msg)
        if self.painted is not None and not self.painted.done():
            self.painted.set_result(None)

    def _on_snapshot(self, msg: StateSnapshot) -> None:
        self.last_seq = msg.last_seq
        if msg.avatar is not None:
            self._avatar = (msg.avatar.mood, msg.avatar.gesture, msg.avatar.reaction)
        if self.json_mode:
            self.out.write_json_line(to_wire(msg))
            return
        if msg.session is not None and msg.session.session_id != self._session_id:
            if self._session_id is not None:  # another session (a restarted daemon): new ids
                self._close_line()
                self._finished.clear()
                self._answer = None
            self._session_id = msg.session.session_id
            self._show(msg.session)
        self._catch_up(msg)

    @handles(LinkStatus)
    def on_link(self, ctx: Context, msg: LinkStatus) -> None:
        """The link to a daemon changed (``aiway headless --connect``)."""
        if self.json_mode:
            self.out.write_json_line(to_wire(msg))
        elif msg.state is LinkState.RECONNECTING:
            retry = f", next try in {msg.retry_in:.1f}s" if msg.retry_in is not None else ""
            self._interrupt(
                f"   · reconnecting to {msg.address} (attempt {msg.attempt}{retry}): {msg.detail}\n"
            )
        elif msg.state is LinkState.CONNECTED:
            self._interrupt(f"   · {msg.detail} at {msg.address}\n")
        elif msg.state is LinkState.CLOSED:
            self._interrupt(f"   · disconnected from {msg.address}: {msg.detail}\n")

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        self.last_seq = msg.seq
        if self.json_mode:
            self.out.write_json_line(to_wire(msg))
        else:
            self._show(msg.message)
        self._track(msg.message)

    def _track(self, msg: object) -> None:
        match msg:
            case StreamEnd():
                self._resolve(Outcome.ANSWERED)
            case StreamError(error=error):
                self.failures.append(error)
                self._resolve(Outcome.FAILED)
            case Notify(progress=None) if self.expect_command:
                self._resolve(Outcome.ANSWERED)
            case Notify(progress=Progress(done=True)) if self.expect_command:
                self._resolve(Outcome.ANSWERED)
            case Quit():
                self.quit = True
                self._resolve(Outcome.QUIT)

    def on_stop(self, ctx: Context) -> None:
        """The session is stopping (SIGTERM, SIGINT, a core that failed): the driver stops
        waiting for an answer that will not come."""
        self.quit = True
        self._resolve(Outcome.QUIT)

    def _resolve(self, outcome: str) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def _show(self, msg: object) -> None:
        write = self._line
        match msg:
            case Token():
                self._answer_text(msg.message_id, msg.text)
            case Message(role=Role.ASSISTANT):
                self._answer_text(msg.id, msg.content)
            case Message() if msg.id not in self._finished:
                self._finish(msg.id)
                write(f"you> {msg.content}\n" if msg.role is Role.USER else f"   · {msg.content}\n")
            case StreamEnd():
                status = "" if msg.status is AnswerStatus.COMPLETE else f" · {msg.status.value}"
                self._end_answer(
                    msg.message_id, msg.content, f"   · {metadata_line(msg.metadata)}{status}"
                )
            case StreamError(message_id="", partial=""):
                # no answer was in flight (a core lost between two answers): no answer line
                self._failed_with = msg.error
                write(f"   ! error: {msg.error}\n")
            case StreamError():
                self._failed_with = msg.error
                self._end_answer(msg.message_id, msg.partial, f"   ! error: {msg.error}")
            case Notify(level=NotifyLevel.ERROR, progress=None) if msg.text == self._failed_with:
                self._failed_with = None  # the error line above says it already
            case Notify(progress=Progress(done=False) as progress):
                self._show_progress(progress)
            case Notify():
                if msg.progress is not None:
                    self._meters.pop(msg.progress.key, None)
                text = msg.text.replace("\n", "\n     ")
                write(f"   ({msg.level.value}) {msg.title}: {text}\n")
            case SessionInfo() if msg != self._session_line:
                self._session_line = msg
                why = f" ({msg.backend_reason})" if msg.backend_reason else ""
                write(f"   · model {msg.model} on {msg.backend}{why}\n")
            case AvatarState():
                self._show_avatar(msg)
            case TaskCreated():
                write(
                    f"   [task {msg.task_id} · {msg.agent_name} ({msg.agent}): {msg.description}]\n"
                )
            case TaskUpdated():
                write(f"   [task {msg.task_id} · {msg.percent}%]\n")
            case TaskCompleted():
                write(f"   [task {msg.task_id} done]\n")
            case TaskFailed():
                write(f"   [task {msg.task_id} failed: {msg.reason}]\n")
            case ActorFailed():
                write(f"   ! {msg.actor} failed: {msg.error} ({msg.action})\n")
            case Quit():
                write("   · bye\n")

    # -- the transcript: answers stream into one line each, whatever comes in between --

    def _line(self, text: str) -> None:
        """Write whole lines; while an answer streams they wait until its line ends."""
        if self._line_open and len(self._deferred) < _DEFERRED_LIMIT:
            self._deferred.append(text)
            return
        self._close_line()
        self.out.write(text)

    def _interrupt(self, text: str) -> None:
        """Write lines now, even mid-answer (the answer is written again whole after them)."""
        self._close_line()
        self.out.write(text)

    def _close_line(self) -> None:
        if self._line_open:
            self._line_open = False
            self.out.write("\n")
        self._flush_deferred()

    def _flush_deferred(self) -> None:
        if self._deferred:
            lines, self._deferred = self._deferred, []
            self.out.write("".join(lines))

    def _answer_text(self, message_id: str, text: str) -> None:
        """Stream ``text`` of an answer; an interrupted answer is written again from its start."""
        if message_id in self._finished:
            return
        write = self.out.write
        if self._answer != message_id:
            self._close_line()
            self._answer = message_id
            self._pieces = []
            write("yollayah> ")
            self._line_open = True
        elif not self._line_open:
            write("yollayah> " + "".join(self._pieces))
            self._line_open = True
        if text:
            write(text)
            self._pieces.append(text)

    def _end_answer(self, message_id: str, content: str, trailer: str) -> None:
        if message_id in self._finished:
            return
        shown = "".join(self._pieces) if self._answer == message_id else ""
        if not content.startswith(shown):  # it does not continue what is shown: start over
            self._answer = None
            shown = ""
        self._answer_text(message_id, content[len(shown) :])
        self._line_open = False
        self.out.write(f"\n{trailer}\n")
        self._answer = None
        self._pieces = []
        self._finish(message_id)
        self._flush_deferred()

    def _finish(self, message_id: str) -> None:
        finished = self._finished
        finished[message_id] = None
        if len(finished) > 4096:  # bounded: the oldest ids can no longer come back
            for old in list(finished)[:1024]:
                del finished[old]

    def _catch_up(self, msg: StateSnapshot) -> None:
        """Write what a snapshot holds that is not on screen yet, in order."""
        for entry in msg.history:
            if entry.id in self._finished:
                continue
            if entry.role is Role.ASSISTANT:
                self._end_answer(entry.id, entry.content, _trailer(entry))
            else:
                self._finish(entry.id)
                who = "you> " if entry.role is Role.USER else "   · "
                self._line(f"{who}{entry.content}\n")
        streaming = msg.streaming
        if streaming is not None and streaming.id not in self._finished:
            shown = "".join(self._pieces) if self._answer == streaming.id else ""
            if not streaming.content.startswith(shown):
                self._answer = None
                shown = ""
            self._answer_text(streaming.id, streaming.content[len(shown) :])

    def _show_progress(self, progress: Progress) -> None:
        """A long job's progress: a line each time its step or the tens of its percent change."""
        meter = self._meters.get(progress.key)
        if meter is None:
            if len(self._meters) >= 16:  # bounded: jobs whose end never came
                self._meters.clear()
            meter = self._meters[progress.key] = PullMeter(progress.key.removeprefix("pull "))
        before = (meter.status, meter.percent // 10 if meter.percent is not None else None)
        meter.update(progress.status, progress.part, progress.total, progress.completed)
        after = (meter.status, meter.percent // 10 if meter.percent is not None else None)
        if after != before:
            text = meter.line(120) if meter.total else progress.status
            self._line(f"   [{progress.key}: {text}]\n")

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
        self._line(f"   [yollayah: {' · '.join(parts)}]\n")


_DEFERRED_LIMIT = 1000


def _trailer(entry: HistoryEntry) -> str:
    status = "" if entry.status is AnswerStatus.COMPLETE else f" · {entry.status.value}"
    if entry.metadata is None:
        return f"   · {entry.status.value}"
    return f"   · {metadata_line(entry.metadata)}{status}"


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from standard input, read without blocking the loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    fd = os.dup(0)
    pipe = os.fdopen(fd, "rb")
    if stat.S_ISCHR(os.fstat(fd).st_mode) and not os.isatty(fd):
        # /dev/null (`aiway headless --resume </dev/null`): epoll refuses it, and it has no lines
        pipe.close()
        return
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
    except ValueError:  # a regular file: reading it does not wait on anyone
        for raw in pipe.read().decode("utf-8", "replace").splitlines():
            yield raw
        pipe.close()
        return
    try:
        while line := await reader.readline():
            yield line.decode("utf-8", "replace").rstrip("\n")
    finally:
        transport.close()


def _stdin_is_piped() -> bool:
    """Whether standard input is open and not a terminal (a pipe, a file, /dev/null)."""
    try:
        os.fstat(0)
    except OSError:
        return False
    return not os.isatty(0)


async def read_piped_stdin(limit: int = MAX_PIPED_BYTES) -> str:
    """All of standard input as text (UTF-8, bad bytes replaced), read without blocking the loop.

    Raises ``PipedInputTooLarge`` as soon as more than ``limit`` bytes came,
    having read at most ``limit`` + 64 KiB of them.
    """
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(os.dup(0), "rb")
    chunks: list[bytes] = []
    size = 0
    try:
        if stat.S_ISCHR(os.fstat(pipe.fileno()).st_mode):  # /dev/null: epoll refuses it
            return ""
        reader = asyncio.StreamReader(limit=64 * 1024)
        try:
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe
            )
        except ValueError:  # a regular file: reading it does not wait on anyone
            data = await asyncio.to_thread(pipe.read, limit + 1)
            if len(data) > limit:
                raise _too_large(limit) from None
            return data.decode("utf-8", "replace")
        try:
            while chunk := await reader.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
        finally:
            transport.close()
    finally:
        pipe.close()
    return b"".join(chunks).decode("utf-8", "replace")


def _too_large(limit: int) -> PipedInputTooLarge:
    return PipedInputTooLarge(
        f"standard input holds more than {limit // 1024} KiB; piped input is sent as one "
        "prompt, so pass a smaller file or an excerpt (or --each-line to send it a line "
        "at a time)"
    )


async def prompt_source(prompts: Sequence[str] | None, *, each_line: bool) -> AsyncIterator[str]:
    """The prompts of a headless run, in order; see the module docstring for the rules."""
    piped = _stdin_is_piped()
    if each_line or not piped:
        for prompt in prompts or ():
            yield prompt
        # A terminal is read only when no prompt was given (an interactive session).
        if piped or not prompts:
            async for line in stdin_lines():
                yield line
        return
    text = (await read_piped_stdin()).strip()
    if not prompts:
        if text:
            yield text
        return
    first, *rest = prompts
    yield f"{first}\n\n{text}" if text else first
    for prompt in rest:
        yield prompt


async def run_session(
    assistant: Assistant,
    prompts: Sequence[str] | None,
    *,
    json_mode: bool,
    log_file: str | None,
    show_metrics: bool,
    each_line: bool = False,
) -> int:
    """Drive one headless session to its end; the process's exit code.

    Raises ``PipedInputTooLarge`` (after stopping the assistant) when piped
    standard input is past ``MAX_PIPED_BYTES``.
    """
    out = await Output.open(log_file)
    surface = LogSurface(out, json_mode=json_mode)
    loop = asyncio.get_running_loop()
    surface.painted = loop.create_future()
    assistant.attach(
        SURFACE_ID,
        lambda: surface,
        surface_type="headless",
        capabilities=frozenset({Capability.STREAMING, Capability.TASKS}),
    )
    # The first screen (a resumed conversation's history) is written before any input.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(surface.painted, _FIRST_SCREEN_TIMEOUT)
    answered = 0
    source = prompt_source(prompts, each_line=each_line)
    try:
        async for raw in source:
            text = raw.strip()
            if not text:
                continue
            if surface.quit:  # the session stopped meanwhile
                break
            surface.expect_command = text.startswith("/")
            waiter: asyncio.Future[str] = loop.create_future()
            surface.waiter = waiter
            if not assistant.conductor.tell(UserMessage(text, SURFACE_ID)).ok:
                # its core is gone (a Thespian member that left, with none to take over)
                problem = getattr(assistant.system, "core_problem", None)
                problem = problem or "the session's core is not running"
                if problem not in surface.failures:
                    surface.failures.append(problem)
                break
            outcome = await waiter
            if outcome == Outcome.QUIT:
                break
            if outcome == Outcome.ANSWERED:
                answered += 1
    finally:
        if show_metrics:
            refresh = getattr(assistant.system, "refresh_metrics", None)
            if refresh is not None:  # a host with actors in other processes (Thespian)
                await refresh()
            out.write(metrics_table(assistant))
        await assistant.stop()
        await out.close()
    if surface.failures:
        for failure in surface.failures:
            print(f"aiway: an answer failed: {strip_controls(failure)}", file=sys.stderr)
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

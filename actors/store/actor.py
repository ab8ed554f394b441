"""The Store actor: it watches the session like a surface and saves what it sees.

It is attached to the registry as the surface ``store``, so the Conductor does
nothing for writing. A user message is saved when it is published; an answer
gets a row when it starts (state ``streaming``), its text so far every
``checkpoint_interval`` seconds while it streams (if it grew), and its clean
text, state and figures when it ends. It takes no tokens: it does not declare
the ``streaming`` capability, and on each checkpoint it asks the registry for
the text so far (the registry's mirror has it), so saving costs the stream
nothing per token. Task events update the tasks table. Handlers never block:
they queue write operations, which ``writes.WriteQueue`` groups into
transactions for the ``HistoryStore``'s thread (one in flight at a time,
retried when they fail). Checkpoints are taken ``write_delay`` early, so what
is on disk is never older than ``checkpoint_interval``.

Should its outbox ever overflow, the registry resyncs it with a snapshot; the
actor then saves what the snapshot has and it had missed.

History slash commands (``/sessions``, ``/new``, ``/resume``, ``/export``,
``/delete``, ``/title``) arrive from the Conductor as ``StoreCommand``s; they
run (``commands.py``) as tasks once the writes queued before them are handed
over, and report back to the actor as a message. ``/export`` from a surface
outside this process (not in ``local_surfaces``) writes only into the
``exports`` folder beside the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Final

import attrs

from aiway.actors.protocol import (
    Message,
    Notify,
    NotifyLevel,
    Published,
    Role,
    SessionInfo,
    StateSnapshot,
    StreamEnd,
    StreamError,
    TaskCompleted,
    TaskCreated,
    TaskFailed,
    TaskStatus,
    TaskUpdated,
)
from aiway.actors.protocol.registry import GetStreamingText, StreamingText
from aiway.actors.runtime import ActorRef, Context, EdgeActor, EdgeContext, TimerId, handles
from aiway.actors.store.commands import CommandDone, run_command
from aiway.actors.store.history import StoreBackend
from aiway.actors.store.messages import LOCAL_SURFACES, SETTLED, Settle, StoreCommand
from aiway.actors.store.records import (
    AppendMessage,
    CreateTask,
    EnsureSession,
    InsertMessage,
    LoadedSession,
    MessageState,
    SetModel,
    SetTitle,
    UpdateMessage,
    UpdateTask,
    WriteOp,
    metadata_json,
    title_from,
)
from aiway.actors.store.writes import (
    MAX_QUEUED,
    WRITE_DELAY,
    Flush,
    Retry,
    WriteQueue,
    Written,
)

log = logging.getLogger(__name__)

STORE_SURFACE: Final = "store"
"""The surface id the Store actor registers under."""
STORE_CAPACITY: Final = 65536
"""Its outbox: large, so it lags only if the disk stalls for a long time."""


@attrs.frozen(slots=True)
class _Checkpoint:
    """Time to save the streaming answer's text so far."""

    message_id: str


class _Partial:
    """The answer streaming now: its row's key, its session, the text last saved.

    Its row is written lazily: at its first checkpoint, at its end, or before
    anything else of the session is written (so rows keep the published order).
    A short answer is then one write when it ends, after every surface saw it.
    """

    __slots__ = ("key", "message_id", "saved", "session_id", "text", "timer")

    def __init__(self, message_id: str, key: int, session_id: str, text: str) -> None:
        self.message_id = message_id
        self.key = key
        self.session_id = session_id
        self.text = text
        self.saved = False
        self.timer: TimerId | None = None


class StoreActor(EdgeActor):
    """Saves one session's conversation as it is published; see the module docstring."""

    def __init__(
        self,
        store: StoreBackend,
        *,
        registry: ActorRef,
        conductor: ActorRef,
        session_id: str,
        model: str,
        system_prompt: str = "",
        checkpoint_interval: float = 0.5,
        write_delay: float = WRITE_DELAY,
        resume_messages: int = 50,
        resumed: LoadedSession | None = None,
        export_dir: Path | None = None,
        local_surfaces: frozenset[str] = LOCAL_SURFACES,
        max_queued_writes: int = MAX_QUEUED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.registry = registry
        self.conductor = conductor
        self.session_id = session_id
        self.model = model
        self.system_prompt = system_prompt
        # The checkpoint's write lands write_delay later: ask that much earlier.
        self.checkpoint_interval = max(checkpoint_interval - write_delay, write_delay)
        self.resume_messages = resume_messages
        self.export_dir = export_dir or Path.cwd()
        #: surfaces whose /export writes where they say (others: the exports folder only)
        self.local_surfaces = local_surfaces
        self.clock = clock
        #: Conductor message id -> write key, for every message this actor saved
        self.rows: dict[str, int] = {}
        #: ids whose final text is saved (or was loaded from disk): a snapshot skips them
        self.known: set[str] = set()
        #: (session, task id) of the task cards saved or loaded
        self.task_ids: set[tuple[str, str]] = set()
        #: sessions whose row exists (or is queued)
        self.ensured: set[str] = set()
        #: sessions that have a title (the first user message gives one, once)
        self.titled: set[str] = set()
        self.deleted: set[str] = set()
        if resumed is not None:
            self._remember(resumed)
        self.partial: _Partial | None = None
        self.writes = WriteQueue(
            store, self._notify, write_delay=write_delay, max_queued=max_queued_writes
        )
        self.last_seq = 0
        #: history commands waiting for the writes queued before them
        self._commands: list[tuple[StoreCommand, str]] = []
        #: who asked to ``Settle`` and waits for the writes queued before it
        self._settling: list[ActorRef] = []

    def _remember(self, loaded: LoadedSession) -> None:
        session = loaded.session.id
        self.ensured.add(session)
        if loaded.session.title:
            self.titled.add(session)
        self.known.update(entry.id for entry in loaded.history)
        self.task_ids.update((session, task.task_id) for task in loaded.tasks)

    # -- what the session publishes -----------------------------------------------------

    @handles(StateSnapshot)
    def on_snapshot(self, ctx: Context, msg: StateSnapshot) -> None:
        if msg.session is not None:
            self._adopt(ctx, msg.session)
        if msg.last_seq > self.last_seq:
            self._catch_up(ctx, msg)
            self.last_seq = msg.last_seq

    @handles(Published)
    def on_published(self, ctx: Context, msg: Published) -> None:
        self.last_seq = msg.seq
        message = msg.message
        handler = self._dispatch.get(type(message))
        if handler is not None:
            handler(self, ctx, message)

    def _on_message(self, ctx: Context, msg: Message) -> None:
        if msg.role is Role.ASSISTANT:
            self._start_answer(ctx, msg.id, msg.content)
        else:
            self._insert(ctx, msg.id, msg.role, msg.content, MessageState.COMPLETE, None)
            self.known.add(msg.id)

    def _on_end(self, ctx: Context, msg: StreamEnd) -> None:
        state = MessageState.of(msg.status)
        self._finish(ctx, msg.message_id, msg.content, state, metadata_json(msg.metadata))

    def _on_error(self, ctx: Context, msg: StreamError) -> None:
        self._finish(
            ctx, msg.message_id, msg.partial, MessageState.ERROR, metadata_json(None, msg.error)
        )

    def _on_session(self, ctx: Context, msg: SessionInfo) -> None:
        self._adopt(ctx, msg)

    def _on_task_created(self, ctx: Context, msg: TaskCreated) -> None:
        if self._lost():
            return
        task = (self.session_id, msg.task_id)
        if task in self.task_ids:
            return
        self.task_ids.add(task)
        self._save_partial(ctx)  # the task points at the answer that opened it
        self._ensure(ctx)
        key = self.partial.key if self.partial is not None else None
        self._queue(
            ctx,
            CreateTask(
                self.session_id,
                msg.task_id,
                msg.agent,
                msg.agent_name,
                msg.description,
                key,
                self.clock(),
            ),
        )

    def _on_task_updated(self, ctx: Context, msg: TaskUpdated) -> None:
        self._update_task(ctx, msg.task_id, percent=msg.percent, status=msg.status)

    def _on_task_completed(self, ctx: Context, msg: TaskCompleted) -> None:
        self._update_task(ctx, msg.task_id, percent=100, status=TaskStatus.DONE)

    def _on_task_failed(self, ctx: Context, msg: TaskFailed) -> None:
        self._update_task(ctx, msg.task_id, status=TaskStatus.FAILED, reason=msg.reason)

    _dispatch: ClassVar[dict[type, Callable[[Any, Context, Any], None]]] = {
        Message: _on_message,
        StreamEnd: _on_end,
        StreamError: _on_error,
        SessionInfo: _on_session,
        TaskCreated: _on_task_created,
        TaskUpdated: _on_task_updated,
        TaskCompleted: _on_task_completed,
        TaskFailed: _on_task_failed,
    }

    # -- turning messages into writes ----------------------------------------------------

    def _adopt(self, ctx: Context, info: SessionInfo) -> None:
        """The published session is the one to write to (it changes on /new and /resume)."""
        if info.session_id != self.session_id:
            log.info("history: now saving to session %s", info.session_id)
            self.session_id = info.session_id
        if info.model and info.model != self.model:
            self.model = info.model
            if self.session_id in self.ensured and not self._lost():
                self._queue(ctx, SetModel(self.session_id, info.model))

    def _lost(self) -> bool:
        """The current session was deleted: until the next one starts, nothing is saved."""
        return self.session_id in self.deleted

    def _ensure(self, ctx: Context, title: str = "", session: str | None = None) -> None:
        """The session's row, created with the write that needs it (titled by its first words)."""
        session = session or self.session_id
        if session not in self.ensured:
            self.ensured.add(session)
            if title:
                self.titled.add(session)
            ops = EnsureSession(session, self.model, self.system_prompt, self.clock(), title)
            self._queue(ctx, ops)
        elif title and session not in self.titled:
            self.titled.add(session)
            self._queue(ctx, SetTitle(session, title, only_if_untitled=True))

    def _insert(
        self,
        ctx: Context,
        message_id: str,
        role: Role,
        content: str,
        state: MessageState,
        metadata: str | None,
    ) -> None:
        if self._lost():
            return
        self._save_partial(ctx)
        self._ensure(ctx, title_from(content) if role is Role.USER else "")
        key = self.store.new_key()
        self.rows[message_id] = key
        self._queue(
            ctx,
            InsertMessage(
                key, self.session_id, role, content, state, metadata, self.clock(), message_id
            ),
        )

    def _save_partial(
        self,
        ctx: Context,
        state: MessageState = MessageState.STREAMING,
        metadata: str | None = None,
    ) -> None:
        """Write the streaming answer's row now (with its text so far), if not written yet."""
        partial = self.partial
        if partial is None or partial.saved:
            return
        partial.saved = True
        if partial.session_id in self.deleted:
            return
        self._ensure(ctx, session=partial.session_id)  # the session may have switched since
        insert = InsertMessage(
            partial.key,
            partial.session_id,
            Role.ASSISTANT,
            partial.text,
            state,
            metadata,
            self.clock(),
            partial.message_id,
        )
        self._queue(ctx, insert)

    def _start_answer(self, ctx: Context, message_id: str, content: str) -> None:
        if self.partial is not None:  # its end never came (a missed message): keep what it had
            self._end_partial(ctx, MessageState.INTERRUPTED)
        if self._lost():
            return
        key = self.store.new_key()
        self.rows[message_id] = key
        self.partial = partial = _Partial(message_id, key, self.session_id, content)
        partial.timer = ctx.schedule(self.checkpoint_interval, _Checkpoint(message_id))

    def _finish(
        self,
        ctx: Context,
        message_id: str,
        content: str,
        state: MessageState,
        metadata: str | None,
    ) -> None:
        partial = self.partial
        if partial is not None and partial.message_id == message_id:
            if partial.timer is not None:
                ctx.cancel(partial.timer)
            if not partial.saved:  # a short answer: one write, whole, once it has ended
                partial.text = content
                self._save_partial(ctx, state, metadata)
                self.partial = None
                self.known.add(message_id)
                return
            self.partial = None
        key = self.rows.get(message_id)
        if key is None:
            self._insert(ctx, message_id, Role.ASSISTANT, content, state, metadata)
        else:
            self._queue(ctx, UpdateMessage(key, content, state, metadata))
        self.known.add(message_id)

    def _end_partial(self, ctx: Context, state: MessageState) -> None:
        partial = self.partial
        if partial is None:
            return
        self._finish(ctx, partial.message_id, partial.text, state, None)

    @handles(_Checkpoint)
    def on_checkpoint(self, ctx: Context, msg: _Checkpoint) -> None:
        """Time to save the streaming answer: ask the registry for its text so far."""
        partial = self.partial
        if partial is not None and partial.message_id == msg.message_id:
            partial.timer = None
            ctx.tell(self.registry, GetStreamingText(ctx.self_ref))

    @handles(StreamingText)
    def on_streaming_text(self, ctx: Context, msg: StreamingText) -> None:
        partial = self.partial
        if partial is None or partial.message_id != msg.message_id:
            return  # it ended meanwhile: its end is saved instead
        self._checkpoint(ctx, partial, msg.text)
        partial.timer = ctx.schedule(self.checkpoint_interval, _Checkpoint(partial.message_id))

    def _checkpoint(self, ctx: Context, partial: _Partial, text: str) -> None:
        if not partial.saved:
            partial.text = text
            self._save_partial(ctx)
            return
        saved = len(partial.text)
        if len(text) == saved:
            return
        # The clean text only grows while it streams: append what is new. Should it
        # ever not start with what was saved, the row is rewritten whole instead.
        if len(text) > saved and text.startswith(partial.text):
            self._queue(ctx, AppendMessage(partial.key, saved, text[saved:]))
        else:
            self._queue(ctx, UpdateMessage(partial.key, text))
        partial.text = text

    def _update_task(
        self,
        ctx: Context,
        task_id: str,
        *,
        percent: int | None = None,
        status: TaskStatus | None = None,
        reason: str | None = None,
    ) -> None:
        if self._lost():
            return
        self._queue(
            ctx,
            UpdateTask(self.session_id, task_id, self.clock(), percent, status, reason),
        )

    def _catch_up(self, ctx: Context, snapshot: StateSnapshot) -> None:
        """The registry resynced us: save what the snapshot has that we never saw."""
        for entry in snapshot.history:
            if entry.id in self.known:
                continue
            log.info("history: saving %s from a snapshot (its messages were missed)", entry.id)
            state = MessageState.of(entry.status)
            if entry.role is Role.ASSISTANT:
                self._finish(ctx, entry.id, entry.content, state, metadata_json(entry.metadata))
            else:
                self._insert(ctx, entry.id, entry.role, entry.content, state, None)
                self.known.add(entry.id)
        streaming = snapshot.streaming
        if streaming is not None:
            partial = self.partial
            if partial is None or partial.message_id != streaming.id:
                self._start_answer(ctx, streaming.id, streaming.content)
            else:
                self._checkpoint(ctx, partial, streaming.content)
        for event in snapshot.tasks:
            match event:
                case TaskCreated():
                    self._on_task_created(ctx, event)
                case TaskUpdated():
                    self._on_task_updated(ctx, event)

    # -- the write path (see writes.py) --------------------------------------------------

    def _queue(self, ctx: Context, op: WriteOp) -> None:
        self.writes.add(ctx, op)

    @handles(Flush)
    def on_flush(self, ctx: Context, msg: Flush) -> None:
        self.writes.flush(ctx)

    @handles(Written)
    def on_written(self, ctx: EdgeContext, msg: Written) -> None:
        self.writes.written(ctx, msg)
        self._run_commands(ctx)

    @handles(Retry)
    def on_retry(self, ctx: Context, msg: Retry) -> None:
        self.writes.retry(ctx)

    def on_stop(self, ctx: Any) -> None:
        """Save the rest: an answer still streaming is kept as interrupted."""
        self._end_partial(ctx, MessageState.INTERRUPTED)
        self.writes.stop()

    def _notify(self, ctx: Context, level: NotifyLevel, text: str) -> None:
        ctx.tell(self.registry, Notify(level, "history", text))

    # -- history commands (see commands.py) ---------------------------------------------

    @handles(StoreCommand)
    def on_command(self, ctx: EdgeContext, msg: StoreCommand) -> None:
        self._commands.append((msg, self.session_id))
        self._run_commands(ctx)

    @handles(Settle)
    def on_settle(self, ctx: EdgeContext, msg: Settle) -> None:
        self._settling.append(msg.reply_to)
        self._run_commands(ctx)

    def _run_commands(self, ctx: EdgeContext) -> None:
        """Start the waiting commands, and answer who waits to ``Settle``, once every
        write queued before them is handed over (the store's thread runs calls in
        order: reads after that see those writes)."""
        if not self._commands and not self._settling:
            return
        self.writes.submit(ctx)  # without waiting out the write delay
        if not self.writes.handed_over:
            return  # after the transaction in flight (on_written)
        settling, self._settling = self._settling, []
        for asker in settling:
            ctx.tell(asker, SETTLED)
        commands, self._commands = self._commands, []
        for msg, current in commands:
            ctx.create_task(
                self._command(ctx.self_ref, msg, current),
                name=f"command {msg.command}",
            )

    async def _command(self, me: ActorRef, msg: StoreCommand, current: str) -> None:
        done = await run_command(
            self.store,
            msg.command,
            msg.args.strip(),
            current=current,
            local=msg.surface_id in self.local_surfaces,
            export_dir=self.export_dir,
            resume_messages=self.resume_messages,
        )
        me.tell(done)

    @handles(CommandDone)
    def on_command_done(self, ctx: Context, msg: CommandDone) -> None:
        if msg.loaded is not None:
            self._remember(msg.loaded)
        if msg.deleted is not None:
            self.deleted.add(msg.deleted)
            self.ensured.discard(msg.deleted)
        if msg.title is not None and not self._lost():
            self._ensure(ctx)
            self.titled.add(self.session_id)
            self._queue(ctx, SetTitle(self.session_id, msg.title))
        if msg.resume is not None:
            ctx.tell(self.conductor, msg.resume)
        if msg.notify is not None:
            ctx.tell(self.registry, msg.notify)

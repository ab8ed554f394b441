"""The Conductor: one conversation's brain. A behaviour: synchronous handlers only.

It owns the session (history, system prompt, model), the state machine, the
tag parser of the answer in flight and the task tracker. A user message
becomes a ``StartStream`` to the StreamManager; each ``StreamChunk`` goes
through the tag parser: clean text is published as ``Token``s, avatar commands
go to the Avatar, task commands become task events. ``StreamEnd`` carries the
clean final text. A message sent while an answer streams is queued and
answered next (the person sees it at once; nothing is cancelled for them).
"""

from __future__ import annotations

import logging
from collections import deque

import attrs

from aiway.actors.commands import NO_CONVENTION, run_command
from aiway.actors.protocol import (
    AnswerStatus,
    Cancel,
    CancelStream,
    ChatTurn,
    ClearHistory,
    Connected,
    ConversationState,
    Disconnected,
    ListMembers,
    ListModels,
    MemberList,
    Message,
    ModelList,
    Notify,
    NotifyLevel,
    PlayReaction,
    Quit,
    QuitRequested,
    Resized,
    ResponseMetadata,
    RestoreHistory,
    Role,
    SessionInfo,
    StartStream,
    State,
    StreamChunk,
    StreamDone,
    StreamEnd,
    StreamError,
    StreamFailed,
    SurfaceNotice,
    TaskCelebrate,
    TaskCompleted,
    TaskCreated,
    TaskDone,
    TaskFail,
    TaskFailed,
    TaskFocus,
    TaskProgress,
    TaskStart,
    TaskUpdated,
    Token,
    UserCommand,
    UserMessage,
    UserTyping,
)
from aiway.actors.protocol.avatar import Anchor, MoveTo
from aiway.actors.protocol.conductor import Progress
from aiway.actors.protocol.stream import CancelPull, PullEnded, PullModel
from aiway.actors.resume import open_task_events, replay_tasks
from aiway.actors.runtime import ActorRef, Behaviour, Context, handles
from aiway.actors.sizes import format_size, utf8_size, utf8_size_over
from aiway.actors.store.messages import ResumeSession, StoreCommand
from aiway.actors.tags import Command, TagParser
from aiway.actors.tasks import DEFAULT_AGENTS, TaskOutcome, TaskTracker

log = logging.getLogger(__name__)


@attrs.frozen(slots=True)
class ConductorSettings:
    """What the Conductor needs to know about the session; every bound explicit."""

    model: str
    backend: str = ""
    backend_reason: str = ""
    system_prompt: str = ""
    session_id: str = "local"
    #: history messages sent to the model with each request
    context_messages: int = 20
    #: messages kept in memory
    history_limit: int = 1000
    #: pending user messages queued while an answer streams; more are refused
    max_queued: int = 16
    #: longest user message (UTF-8 bytes) taken; a longer one is refused unpublished
    max_message_bytes: int = 64 * 1024
    #: longest answer (UTF-8 bytes of clean text); past it the answer is cut and cancelled
    max_answer_bytes: int = 256 * 1024
    max_commands: int = 10
    #: task cards: open at once, in all per session, and how long finished ones are kept
    max_active_tasks: int = 20
    max_tasks: int = 100
    finished_task_ttl: float = 3600.0


@attrs.frozen(slots=True)
class PlacedAgain:
    """Session -> a Conductor created again after its member went away: its placement
    generation (1 for the first re-placement), carried by every id it makes from now on."""

    generation: int


@attrs.define(slots=True)
class Turn:
    """One message of the conversation as the Conductor keeps it."""

    id: str
    role: Role
    content: str
    status: AnswerStatus = AnswerStatus.COMPLETE
    metadata: ResponseMetadata | None = None


class _Answer:
    """The answer in flight."""

    __slots__ = (
        "cancelling",
        "cut",
        "message_id",
        "parser",
        "pieces",
        "request_id",
        "responding",
        "size",
    )

    def __init__(self, request_id: str, message_id: str, parser: TagParser) -> None:
        self.request_id = request_id
        self.message_id = message_id
        self.parser = parser
        self.pieces: list[str] = []
        self.responding = False
        self.cancelling = False
        #: UTF-8 bytes of clean text so far, and whether the cap cut the answer
        self.size = 0
        self.cut = False

    @property
    def closed(self) -> bool:
        """No more text is taken: the person cancelled it, or it reached its cap."""
        return self.cancelling or self.cut


class Conductor(Behaviour):
    """Turns user messages into streamed answers on every surface."""

    def __init__(
        self,
        settings: ConductorSettings,
        *,
        registry: ActorRef,
        stream_manager: ActorRef,
        avatar: ActorRef | None = None,
        agents: dict[str, str] | None = None,
        store: ActorRef | None = None,
        resumed: ResumeSession | None = None,
        whereabouts: ActorRef | None = None,
    ) -> None:
        """``store``: the Store actor (history commands go there); ``resumed``: a saved
        session to continue from the start; ``whereabouts``: the actor in the session's
        process that says where its actors run (``/members``)."""
        #: the Store actor, or None when the history is off
        self.store = store
        self.resumed = resumed
        self.session_id = settings.session_id if resumed is None else resumed.session_id
        self.settings = settings
        self.registry = registry
        self.stream_manager = stream_manager
        self.whereabouts = whereabouts
        self.avatar = avatar
        self.model = settings.model
        self.system_prompt = settings.system_prompt
        self.history: deque[Turn] = deque(maxlen=settings.history_limit)
        self.pending: deque[Turn] = deque()
        self.answer: _Answer | None = None
        self.state = ConversationState.INITIALIZING
        self._agents = agents or DEFAULT_AGENTS
        self.tasks = self._new_tracker()
        self._counter = 0
        #: how many times the core was placed again: ids of each placement differ
        self.generation = 0
        self.dropped_tags = 0
        #: the model /model asked for, until the installed list arrives
        self.wanted_model: str | None = None
        #: the model /pull is fetching, until its PullEnded
        self.pulling: str | None = None

    # -- lifecycle ----------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        self._publish(ctx, self.session_info())
        if self.resumed is not None:
            self._restore(ctx, self.resumed)
        self._set_state(ctx, ConversationState.READY)

    def session_info(self) -> SessionInfo:
        """The live session, model and backend (and why that backend)."""
        return SessionInfo(
            self.session_id,
            self.model,
            self.settings.backend,
            self.settings.backend_reason,
        )

    # -- input -----------------------------------------------------------------------

    @handles(UserMessage)
    def on_user_message(self, ctx: Context, msg: UserMessage) -> None:
        # Checked before anything is published: a refused message reaches no mirror,
        # no store and no other surface, and only its sender hears why.
        limit = self.settings.max_message_bytes
        if utf8_size_over(msg.text, limit):
            self._notify_sender(
                ctx,
                msg.surface_id,
                "message too long",
                f"it is over {format_size(limit)} (conversation.max_message_bytes) and was "
                "not sent: shorten it or send it in parts",
            )
            return
        text = msg.text.strip()
        if not text:
            return
        if text.startswith("/"):
            name, _, args = text[1:].partition(" ")
            self.on_command(ctx, UserCommand(name, args.strip(), msg.surface_id))
            return
        if self.answer is not None and len(self.pending) >= self.settings.max_queued:
            self._notify_sender(
                ctx,
                msg.surface_id,
                "queue full",
                f"{len(self.pending)} messages already wait (conversation.max_queued); this "
                "one was not sent: wait for the answers, or /cancel",
            )
            return
        turn = Turn(self._next_id("u"), Role.USER, text)
        self._publish(ctx, Message(turn.id, Role.USER, text))
        if self.answer is not None:
            # it joins the history when its turn comes, after the answer in flight
            self.pending.append(turn)
            self._notify_sender(
                ctx,
                msg.surface_id,
                "queued",
                "answering this after the current reply",
                NotifyLevel.INFO,
            )
            return
        self.history.append(turn)
        self._start_answer(ctx)

    @handles(UserCommand)
    def on_command(self, ctx: Context, msg: UserCommand) -> None:
        run_command(self, ctx, msg)

    @handles(ResumeSession)
    def on_resume(self, ctx: Context, msg: ResumeSession) -> None:
        """``/resume``, ``/new``: the conversation becomes ``msg``'s session.

        An answer in flight ends first, as cancelled, in the session it began in;
        queued messages are dropped. Then the history, the tasks and every surface
        start over from the saved session.
        """
        answer = self.answer
        if answer is not None:
            ctx.tell(self.stream_manager, CancelStream(answer.request_id))
            metadata = ResponseMetadata(
                model=self.model, backend=self.settings.backend, done_reason="cancelled"
            )
            content = "".join(answer.pieces)
            self._publish(
                ctx, StreamEnd(answer.message_id, content, metadata, AnswerStatus.CANCELLED)
            )
            self.answer = None
        self.pending.clear()
        self.session_id = msg.session_id
        self._publish(ctx, self.session_info())
        self._restore(ctx, msg)
        self._set_state(ctx, ConversationState.READY)
        if msg.note:
            self.notify(ctx, NotifyLevel.INFO, "conversation", msg.note)

    def _restore(self, ctx: Context, msg: ResumeSession) -> None:
        """Seed the history, the task tracker and the registry's snapshot from a saved session."""
        self.session_id = msg.session_id
        self.history.clear()
        self.history.extend(
            Turn(e.id, e.role, e.content, e.status, e.metadata) for e in msg.history
        )
        # new ids continue past the restored ones: a surface that saw an id takes a message
        # with it for one it has shown already
        for entry in msg.history:
            self._counter = max(self._counter, _counter_of(entry.id))
        self.tasks = self._new_tracker()
        replay_tasks(self.tasks, msg.tasks)
        ctx.tell(self.registry, RestoreHistory(msg.history, open_task_events(msg.tasks)))

    @handles(PlacedAgain)
    def on_placed_again(self, ctx: Context, msg: PlacedAgain) -> None:
        """Created again on another member: ids carry the new generation, and the session
        and state are published again (what ``on_start`` told may have gone to the lost
        registry's address, before this cell knew the new one)."""
        self.generation = max(self.generation, msg.generation)
        self._publish(ctx, self.session_info())
        published = State(self.state)
        self._publish(ctx, published)
        if self.avatar is not None:
            ctx.tell(self.avatar, published)

    def _new_tracker(self) -> TaskTracker:
        settings = self.settings
        return TaskTracker(
            agents=self._agents,
            max_active=settings.max_active_tasks,
            max_total=settings.max_tasks,
            prune_after=settings.finished_task_ttl,
        )

    @handles(ModelList)
    def on_model_list(self, ctx: Context, msg: ModelList) -> None:
        """The installed models arrived: list them, or switch to the one /model asked for."""
        wanted, self.wanted_model = self.wanted_model, None
        if msg.error:
            self.notify(ctx, NotifyLevel.ERROR, "models", msg.error)
            return
        installed = ", ".join(msg.models) or "(none)"
        if wanted is None:
            self.notify(
                ctx, NotifyLevel.INFO, "models", f"current: {self.model}; installed: {installed}"
            )
            return
        if wanted not in msg.models and f"{wanted}:latest" not in msg.models:
            self.notify(
                ctx,
                NotifyLevel.ERROR,
                "model not found",
                f"model {wanted!r} not found; installed: {installed}",
            )
            return
        self.model = wanted
        self._publish(ctx, self.session_info())
        self.notify(ctx, NotifyLevel.INFO, "model", f"now answering with {wanted}")

    @handles(MemberList)
    def on_member_list(self, ctx: Context, msg: MemberList) -> None:
        """Where the session's actors run arrived (``/members``): show it."""
        self.notify(ctx, NotifyLevel.INFO, "members", "\n".join(msg.lines))

    # -- what slash commands may do (commands.CommandTarget) ----------------------------

    def clear_conversation(self, ctx: Context) -> None:
        self.cancel_answer(ctx)
        self.history.clear()
        ctx.tell(self.registry, ClearHistory())

    def ask_models(self, ctx: Context, wanted: str | None) -> None:
        self.wanted_model = wanted
        ctx.tell(self.stream_manager, ListModels(ctx.self_ref))

    def ask_members(self, ctx: Context) -> None:
        if self.whereabouts is None:
            self.notify(ctx, NotifyLevel.INFO, "members", NO_CONVENTION)
            return
        ctx.tell(self.whereabouts, ListMembers(ctx.self_ref))

    def set_system_prompt(self, text: str) -> None:
        self.system_prompt = text

    def retry(self, ctx: Context) -> None:
        if self.answer is not None:
            self.notify(ctx, NotifyLevel.INFO, "retry", "an answer is still streaming")
            return
        while self.history and self.history[-1].role is Role.ASSISTANT:
            self.history.pop()
        if not self.history or self.history[-1].role is not Role.USER:
            self.notify(ctx, NotifyLevel.INFO, "retry", "no message to answer again")
            return
        self._start_answer(ctx)

    def quit(self, ctx: Context, reason: str) -> None:
        self.cancel_answer(ctx)
        self._set_state(ctx, ConversationState.SHUTTING_DOWN)
        self._publish(ctx, Quit(reason))

    def send_to_store(self, ctx: Context, command: StoreCommand) -> bool:
        if self.store is None:
            return False
        ctx.tell(self.store, command)
        return True

    @handles(Connected, Disconnected, Resized, UserTyping)
    def on_surface_change(
        self, ctx: Context, msg: Connected | Disconnected | Resized | UserTyping
    ) -> None:
        """Surface events the conversation itself does not act on (the avatar gets Resized)."""
        log.debug("surface event %s", msg)

    @handles(Cancel)
    def on_cancel(self, ctx: Context, msg: Cancel) -> None:
        self.cancel_answer(ctx)
        self.cancel_pull(ctx)

    # -- /pull: progress published as notices that surfaces update in place ------------------

    def pull_model(self, ctx: Context, name: str) -> None:
        if self.pulling is not None:
            self.notify(
                ctx, NotifyLevel.INFO, "pull", f"already pulling {self.pulling}; Esc stops it"
            )
            return
        self.pulling = name
        ctx.tell(self.stream_manager, PullModel(name))

    def cancel_pull(self, ctx: Context) -> bool:
        if self.pulling is None:
            return False
        ctx.tell(self.stream_manager, CancelPull())
        return True

    @handles(Progress)
    def on_pull_progress(self, ctx: Context, msg: Progress) -> None:
        self._publish(ctx, Notify(NotifyLevel.INFO, msg.key, msg.status, msg))

    @handles(PullEnded)
    def on_pull_ended(self, ctx: Context, msg: PullEnded) -> None:
        if msg.name == self.pulling:
            self.pulling = None
        key = f"pull {msg.name}"
        if msg.error:
            level = NotifyLevel.WARNING if msg.cancelled else NotifyLevel.ERROR
            text = f"the pull of {msg.name} was cancelled" if msg.cancelled else msg.error
            status = "cancelled" if msg.cancelled else "failed"
        else:
            level, text, status = (
                NotifyLevel.INFO,
                f"pulled {msg.name}: /model {msg.name} uses it",
                "success",
            )
        self._publish(ctx, Notify(level, key, text, Progress(key, status, done=True)))

    @handles(QuitRequested)
    def on_quit(self, ctx: Context, msg: QuitRequested) -> None:
        self.quit(ctx, "quit requested")

    # -- the stream -------------------------------------------------------------------

    def _start_answer(self, ctx: Context) -> None:
        request_id = self._next_id("r")
        message_id = self._next_id("a")
        self.answer = _Answer(
            request_id,
            message_id,
            TagParser(max_commands=self.settings.max_commands, agents=self._agents),
        )
        ctx.tell(self.stream_manager, StartStream(request_id, self.model, self.context_for_model()))
        self._set_state(ctx, ConversationState.THINKING)
        self._publish(ctx, Message(message_id, Role.ASSISTANT, ""))

    def context_for_model(self) -> tuple[ChatTurn, ...]:
        """System prompt (plus open task ids), then the last N messages of the history."""
        system = self.system_prompt
        open_tasks = self.tasks.open_tasks_context()
        if open_tasks:
            system = f"{system}\n\n{open_tasks}" if system else open_tasks
        turns: list[ChatTurn] = [ChatTurn("system", system)] if system else []
        recent = list(self.history)[-self.settings.context_messages :]
        for turn in recent:
            if turn.role is Role.SYSTEM or not turn.content:
                continue
            turns.append(ChatTurn(turn.role.value, turn.content))
        return tuple(turns)

    @handles(StreamChunk)
    def on_chunk(self, ctx: Context, msg: StreamChunk) -> None:
        answer = self.answer
        if answer is None or answer.request_id != msg.request_id or answer.closed:
            return
        if not answer.responding:
            answer.responding = True
            self._set_state(ctx, ConversationState.RESPONDING)
        text, commands = answer.parser.feed(msg.text)
        if text:
            self._emit(ctx, answer, text)
        if commands and not answer.cut:
            self._apply_commands(ctx, commands)

    def _emit(self, ctx: Context, answer: _Answer, text: str) -> None:
        """Publish clean text of the answer, cutting it at ``max_answer_bytes``."""
        cap = self.settings.max_answer_bytes
        room = cap - answer.size
        if not utf8_size_over(text, room):
            answer.size += utf8_size(text)
            answer.pieces.append(text)
            ctx.tell(self.registry, Token(answer.message_id, text))
            return
        kept = text.encode()[:room].decode(errors="ignore")
        marker = f"\n\n[answer cut at {format_size(cap)}]"
        answer.cut = True
        answer.size = cap
        answer.pieces.append(kept + marker)
        ctx.tell(self.registry, Token(answer.message_id, kept + marker))
        ctx.tell(self.stream_manager, CancelStream(answer.request_id))
        self.notify(
            ctx,
            NotifyLevel.WARNING,
            "answer cut",
            f"the answer reached {format_size(cap)} (conversation.max_answer_bytes) "
            "and was stopped there",
        )

    def _apply_commands(self, ctx: Context, commands: tuple[Command, ...]) -> None:
        for command in commands:
            match command:
                case (
                    TaskStart()
                    | TaskProgress()
                    | TaskDone()
                    | TaskFail()
                    | TaskFocus()
                    | (TaskCelebrate())
                ):
                    for outcome in self.tasks.apply(command, ctx.now()):
                        self._route_task_outcome(ctx, outcome)
                case _:
                    if self.avatar is not None:
                        ctx.tell(self.avatar, command)

    def _route_task_outcome(self, ctx: Context, outcome: TaskOutcome) -> None:
        match outcome:
            case PlayReaction():
                if self.avatar is not None:
                    ctx.tell(self.avatar, outcome)
            case TaskFocus():
                # task cards sit in the panel on the right: the avatar goes next to them
                if self.avatar is not None:
                    ctx.tell(self.avatar, MoveTo(Anchor.TOP_RIGHT))
            case TaskCelebrate():
                pass  # its reaction arrives as a PlayReaction outcome
            case TaskCreated() | TaskUpdated() | TaskCompleted() | TaskFailed():
                self._publish(ctx, outcome)

    def _finish_parser(self, ctx: Context, answer: _Answer) -> str:
        text, commands = answer.parser.finish()
        if text and not answer.closed:
            self._emit(ctx, answer, text)
        if commands and not answer.closed:
            self._apply_commands(ctx, commands)
        self.dropped_tags += answer.parser.dropped_total
        return "".join(answer.pieces)

    @handles(StreamDone)
    def on_done(self, ctx: Context, msg: StreamDone) -> None:
        answer = self.answer
        if answer is None or answer.request_id != msg.request_id:
            return
        content = self._finish_parser(ctx, answer)
        cancelled = answer.closed or msg.metadata.done_reason == "cancelled"
        status = AnswerStatus.CANCELLED if cancelled else AnswerStatus.COMPLETE
        self.history.append(Turn(answer.message_id, Role.ASSISTANT, content, status, msg.metadata))
        self._publish(ctx, StreamEnd(answer.message_id, content, msg.metadata, status))
        self._answer_ended(ctx)

    @handles(StreamFailed)
    def on_failed(self, ctx: Context, msg: StreamFailed) -> None:
        answer = self.answer
        if answer is None or answer.request_id != msg.request_id:
            return
        partial = self._finish_parser(ctx, answer)
        self.history.append(
            Turn(answer.message_id, Role.ASSISTANT, partial, AnswerStatus.ERROR, msg.metadata)
        )
        self._publish(ctx, StreamError(answer.message_id, msg.error, partial))
        self.notify(ctx, NotifyLevel.ERROR, "the model could not answer", msg.error)
        self._set_state(ctx, ConversationState.ERROR)
        self._answer_ended(ctx)

    def _answer_ended(self, ctx: Context) -> None:
        self.answer = None
        self._set_state(ctx, ConversationState.READY)
        if self.pending:
            self.history.append(self.pending.popleft())
            self._start_answer(ctx)

    def cancel_answer(self, ctx: Context) -> bool:
        """Stop the answer in flight; its partial text is kept and marked cancelled."""
        answer = self.answer
        if answer is None or answer.cancelling:
            return False
        answer.cancelling = True
        self.pending.clear()
        ctx.tell(self.stream_manager, CancelStream(answer.request_id))
        return True

    # -- helpers -------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        """``u1``, ``r2``, ``a3``...; once placed again, ``u2.4`` (generation 2, count 4):
        unique in the session even when the count starts over."""
        self._counter += 1
        if self.generation:
            return f"{prefix}{self.generation}.{self._counter}"
        return f"{prefix}{self._counter}"

    def _publish(self, ctx: Context, msg: object) -> None:
        ctx.tell(self.registry, msg)

    def notify(self, ctx: Context, level: NotifyLevel, title: str, text: str) -> None:
        """Publish a notice to every surface."""
        self._publish(ctx, Notify(level, title, text))

    def _notify_sender(
        self,
        ctx: Context,
        surface_id: str,
        title: str,
        text: str,
        level: NotifyLevel = NotifyLevel.WARNING,
    ) -> None:
        """A notice for the surface that sent a message, and no other (not kept or replayed)."""
        ctx.tell(self.registry, SurfaceNotice(surface_id, Notify(level, title, text)))

    def _set_state(self, ctx: Context, state: ConversationState) -> None:
        if state is self.state:
            return
        self.state = state
        published = State(state)
        self._publish(ctx, published)
        if self.avatar is not None:
            ctx.tell(self.avatar, published)


def _counter_of(message_id: str) -> int:
    """The count in an id this Conductor's kind made (``a3``, ``u2.4``), else 0."""
    digits = message_id.rpartition(".")[2].lstrip("uar")
    return int(digits) if digits.isascii() and digits.isdigit() else 0

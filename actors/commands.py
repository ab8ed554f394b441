"""Slash commands of the Conductor: /help, /clear, /model, /models, /system, /cancel, ...

Functions of the Conductor, kept here so that ``conductor.py`` stays about the
stream; like every behaviour handler they act only through the context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiway.actors.protocol import (
    AnswerStatus,
    CancelStream,
    ConversationState,
    NotifyLevel,
    Quit,
    ResponseMetadata,
    Role,
    StreamEnd,
    UserCommand,
)
from aiway.actors.registry import ClearHistory, RestoreHistory
from aiway.actors.runtime import Context
from aiway.actors.store.messages import HISTORY_OFF, STORE_COMMANDS, ResumeSession, StoreCommand
from aiway.actors.store.resume import open_task_events, replay_tasks
from aiway.actors.stream_manager import ListModels, ModelList
from aiway.actors.tasks import TaskTracker

if TYPE_CHECKING:
    from aiway.actors.conductor import Conductor

HELP = """\
/help            this list
/clear           forget the conversation
/model [NAME]    switch model (without a name: list installed models)
/models          list installed models
/backend         which backend answers, and why
/system [TEXT]   show or set the system prompt
/cancel          stop the answer in flight (Esc in the terminal UI)
/retry           answer the last message again
/quit            leave (Ctrl+Q in the terminal UI)
/sessions        saved conversations, newest first
/new             start a new conversation (this one stays saved)
/resume ID|last  continue a saved conversation (an id prefix is enough)
/title TEXT      rename this conversation (without TEXT: show its title)
/export [PATH]   write this conversation as Markdown (default ./aiway-ID.md)
/delete ID       delete a saved conversation: it asks first, then
                 /delete ID confirm  does it
A message sent while an answer streams is queued and answered next."""


def run_command(self: Conductor, ctx: Context, msg: UserCommand) -> None:
    """Carry out one slash command for the Conductor ``self``."""
    name = msg.command.lower().lstrip("/")
    args = msg.args.strip()
    if name == "help":
        self._notify(ctx, NotifyLevel.INFO, "commands", HELP)
    elif name == "clear":
        self.cancel_answer(ctx)
        self.history.clear()
        ctx.tell(self.registry, ClearHistory())
        self._notify(ctx, NotifyLevel.INFO, "cleared", "the conversation was cleared")
    elif name in ("model", "models"):
        self.wanted_model = args if name == "model" and args else None
        ctx.tell(self.stream_manager, ListModels(ctx.self_ref))
    elif name == "backend":
        info = self.session_info()
        reason = f" ({info.backend_reason})" if info.backend_reason else ""
        self._notify(
            ctx, NotifyLevel.INFO, "backend", f"{info.backend}, model {info.model}{reason}"
        )
    elif name == "system":
        if args:
            self.system_prompt = args
            self._notify(ctx, NotifyLevel.INFO, "system prompt", "set for the next answers")
        else:
            self._notify(ctx, NotifyLevel.INFO, "system prompt", self.system_prompt or "(none)")
    elif name == "cancel":
        if not self.cancel_answer(ctx):
            self._notify(ctx, NotifyLevel.INFO, "cancel", "no answer in flight")
    elif name == "retry":
        _retry(self, ctx)
    elif name in ("quit", "exit"):
        quit_session(self, ctx, "/quit")
    elif name in STORE_COMMANDS:
        if self.store is None:
            self._notify(ctx, NotifyLevel.INFO, "history", HISTORY_OFF)
        else:
            ctx.tell(self.store, StoreCommand(name, args, msg.surface_id))
    else:
        self._notify(
            ctx,
            NotifyLevel.ERROR,
            "unknown command",
            f"/{name} is not a command; /help lists them",
        )


def _retry(self: Conductor, ctx: Context) -> None:
    if self.answer is not None:
        self._notify(ctx, NotifyLevel.INFO, "retry", "an answer is still streaming")
        return
    while self.history and self.history[-1].role is Role.ASSISTANT:
        self.history.pop()
    if not self.history or self.history[-1].role is not Role.USER:
        self._notify(ctx, NotifyLevel.INFO, "retry", "no message to answer again")
        return
    self._start_answer(ctx)


def apply_model_list(self: Conductor, ctx: Context, msg: ModelList) -> None:
    """The installed models arrived: list them, or switch to the wanted one."""
    wanted, self.wanted_model = self.wanted_model, None
    if msg.error:
        self._notify(ctx, NotifyLevel.ERROR, "models", msg.error)
        return
    installed = ", ".join(msg.models) or "(none)"
    if wanted is None:
        self._notify(
            ctx, NotifyLevel.INFO, "models", f"current: {self.model}; installed: {installed}"
        )
        return
    if wanted not in msg.models and f"{wanted}:latest" not in msg.models:
        self._notify(
            ctx,
            NotifyLevel.ERROR,
            "model not found",
            f"model {wanted!r} not found; installed: {installed}",
        )
        return
    self.model = wanted
    self._publish(ctx, self.session_info())
    self._notify(ctx, NotifyLevel.INFO, "model", f"now answering with {wanted}")


def quit_session(self: Conductor, ctx: Context, reason: str) -> None:
    """Cancel what streams, tell every surface to close."""
    self.cancel_answer(ctx)
    self._set_state(ctx, ConversationState.SHUTTING_DOWN)
    self._publish(ctx, Quit(reason))


def switch_session(self: Conductor, ctx: Context, msg: ResumeSession) -> None:
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
        self._publish(ctx, StreamEnd(answer.message_id, content, metadata, AnswerStatus.CANCELLED))
        self.answer = None
    self.pending.clear()
    self.session_id = msg.session_id
    self._publish(ctx, self.session_info())
    restore_session(self, ctx, msg)
    self._set_state(ctx, ConversationState.READY)
    if msg.note:
        self._notify(ctx, NotifyLevel.INFO, "conversation", msg.note)


def restore_session(self: Conductor, ctx: Context, msg: ResumeSession) -> None:
    """Seed the history, the task tracker and the registry's snapshot from a saved session."""
    from aiway.actors.conductor import Turn

    self.session_id = msg.session_id
    self.history.clear()
    self.history.extend(Turn(e.id, e.role, e.content, e.status, e.metadata) for e in msg.history)
    tracker = TaskTracker(
        agents=self._agents,
        max_active=self.settings.max_active_tasks,
        max_total=self.settings.max_tasks,
        prune_after=self.settings.finished_task_ttl,
    )
    replay_tasks(tracker, msg.tasks)
    self.tasks = tracker
    ctx.tell(self.registry, RestoreHistory(msg.history, open_task_events(msg.tasks)))

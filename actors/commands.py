"""Slash commands: /help, /clear, /model, /models, /members, /pull, /system, /cancel, ...

``run_command`` parses one ``UserCommand`` and carries it out through a
``CommandTarget``: the few operations of a conversation a command needs (the
Conductor provides them). Commands never reach into the Conductor's state.
"""

from __future__ import annotations

from typing import Protocol

from aiway.actors.protocol import NotifyLevel, SessionInfo, UserCommand
from aiway.actors.runtime import Context
from aiway.actors.store.messages import HISTORY_OFF, STORE_COMMANDS, StoreCommand

HELP = """\
/help            this list
/clear           forget the conversation
/model [NAME]    switch model (without a name: list installed models)
/models          list installed models
/pull NAME       download a model into Ollama, with progress (Esc stops it)
/backend         which backend answers, and why
/members         the convention's members, and which actor runs where
/system [TEXT]   show or set the system prompt
/cancel          stop the answer or the pull in flight (Esc in the terminal UI)
/copy [N]        copy the last answer (N: its Nth code block; terminal UI)
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

#: what ``/members`` says on the asyncio host: one process, no convention
NO_CONVENTION = (
    "no convention: this session runs on the asyncio host, every actor in this process "
    "(start it with --engine thespian to place actors on other processes or machines)"
)


class CommandTarget(Protocol):
    """What a slash command may do to a conversation; each acts only through ``ctx``."""

    @property
    def system_prompt(self) -> str:
        """The system prompt the next answers use."""
        ...

    def session_info(self) -> SessionInfo:
        """The live session, model and backend."""
        ...

    def notify(self, ctx: Context, level: NotifyLevel, title: str, text: str) -> None:
        """Publish a notice to every surface."""
        ...

    def cancel_answer(self, ctx: Context) -> bool:
        """Stop the answer in flight; False when none streams."""
        ...

    def clear_conversation(self, ctx: Context) -> None:
        """Cancel what streams and forget the history (snapshots start empty)."""
        ...

    def ask_models(self, ctx: Context, wanted: str | None) -> None:
        """Ask for the installed models; then list them, or switch to ``wanted``."""
        ...

    def ask_members(self, ctx: Context) -> None:
        """Ask where the session's actors run; then show it (``/members``)."""
        ...

    def pull_model(self, ctx: Context, name: str) -> None:
        """Pull ``name`` into the backend, its progress published as notices."""
        ...

    def cancel_pull(self, ctx: Context) -> bool:
        """Stop the pull in flight; False when none runs."""
        ...

    def set_system_prompt(self, text: str) -> None:
        """Use ``text`` as the system prompt from the next answer on."""
        ...

    def retry(self, ctx: Context) -> None:
        """Answer the last user message again (or say why not)."""
        ...

    def quit(self, ctx: Context, reason: str) -> None:
        """Cancel what streams and tell every surface to close."""
        ...

    def send_to_store(self, ctx: Context, command: StoreCommand) -> bool:
        """Hand a history command to the Store actor; False when the history is off."""
        ...


def run_command(target: CommandTarget, ctx: Context, msg: UserCommand) -> None:
    """Carry out one slash command on ``target``; an unknown one is named in a notice."""
    name = msg.command.lower().lstrip("/")
    args = msg.args.strip()
    match name:
        case "help":
            target.notify(ctx, NotifyLevel.INFO, "commands", HELP)
        case "clear":
            target.clear_conversation(ctx)
            target.notify(ctx, NotifyLevel.INFO, "cleared", "the conversation was cleared")
        case "model" | "models":
            target.ask_models(ctx, args if name == "model" and args else None)
        case "members":
            target.ask_members(ctx)
        case "pull" if args:
            target.pull_model(ctx, args)
        case "pull":
            target.notify(
                ctx, NotifyLevel.ERROR, "pull", "which model? /pull NAME, e.g. /pull llama3.2:1b"
            )
        case "backend":
            info = target.session_info()
            reason = f" ({info.backend_reason})" if info.backend_reason else ""
            target.notify(
                ctx, NotifyLevel.INFO, "backend", f"{info.backend}, model {info.model}{reason}"
            )
        case "system" if args:
            target.set_system_prompt(args)
            target.notify(ctx, NotifyLevel.INFO, "system prompt", "set for the next answers")
        case "system":
            target.notify(ctx, NotifyLevel.INFO, "system prompt", target.system_prompt or "(none)")
        case "cancel":
            pulling = target.cancel_pull(ctx)
            if not target.cancel_answer(ctx) and not pulling:
                target.notify(ctx, NotifyLevel.INFO, "cancel", "no answer or pull in flight")
        case "retry":
            target.retry(ctx)
        case "quit" | "exit":
            target.quit(ctx, "/quit")
        case _ if name in STORE_COMMANDS:
            if not target.send_to_store(ctx, StoreCommand(name, args, msg.surface_id)):
                target.notify(ctx, NotifyLevel.INFO, "history", HISTORY_OFF)
        case _:
            target.notify(
                ctx,
                NotifyLevel.ERROR,
                "unknown command",
                f"/{name} is not a command; /help lists them",
            )

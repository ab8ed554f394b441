"""The history slash commands: ``/sessions``, ``/new``, ``/resume``, ``/export``, ``/delete``,
``/title``.

The Store actor runs each as a task: the reads and the export happen on the
store's thread, and what they found comes back to the actor as one
``CommandDone`` that it applies in its own turn (what to tell the Conductor
and the surfaces, and what it now knows about the sessions).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

import attrs

from aiway.actors.protocol import Notify, NotifyLevel
from aiway.actors.store.errors import SessionNotFound, StoreError
from aiway.actors.store.export import when
from aiway.actors.store.files import remote_export_path
from aiway.actors.store.history import StoreBackend, new_session_id
from aiway.actors.store.messages import ResumeSession
from aiway.actors.store.records import LoadedSession, StoredSession
from aiway.actors.store.resume import resume_message, resumed_note

SESSIONS_LISTED: Final = 20
"""Sessions ``/sessions`` lists (``aiway sessions`` lists them all)."""


@attrs.frozen(slots=True)
class CommandDone:
    """What a history command found, for the Store actor to apply in its own turn."""

    notify: Notify | None = None
    resume: ResumeSession | None = None
    #: the session /resume loaded: its rows are on disk already
    loaded: LoadedSession | None = None
    deleted: str | None = None
    title: str | None = None


@attrs.frozen(slots=True)
class ExportTarget:
    """Where ``/export`` writes, and under which rules (see ``files.write_export``)."""

    path: Path
    force: bool = False
    #: a remote surface's export: only a file name, inside the exports folder
    confined: bool = False


FORCE: Final = "--force"
"""The ``/export`` word that lets it replace an existing file."""


def export_target(
    args: str, *, current: str, local: bool, folder: Path, database: Path
) -> ExportTarget:
    """``/export [--force] [PATH]`` read for the session ``current``.

    A local surface's relative path is taken from ``folder``; a remote
    surface's is a file name in the exports folder beside ``database``
    (raises ``ExportRefused`` otherwise).
    """
    # The path is taken as typed (it may hold spaces); the flag goes first or last.
    name = args.strip()
    force = name == FORCE or name.startswith(f"{FORCE} ") or name.endswith(f" {FORCE}")
    if force:
        name = name.removeprefix(FORCE) if name.startswith(FORCE) else name.removesuffix(FORCE)
        name = name.strip()
    name = name or f"aiway-{current}.md"
    if not local:
        return ExportTarget(remote_export_path(database, name), force, confined=True)
    path = Path(name).expanduser()
    return ExportTarget(path if path.is_absolute() else folder / path, force)


async def run_command(
    store: StoreBackend,
    name: str,
    args: str,
    *,
    current: str,
    local: bool,
    export_dir: Path,
    resume_messages: int,
) -> CommandDone:
    """Carry out one history command for the session ``current``; never raises ``StoreError``.

    ``local``: it came from a surface in this process (see ``LOCAL_SURFACES``).
    """
    try:
        return await _run(store, name, args, current, local, export_dir, resume_messages)
    except StoreError as exc:
        return CommandDone(notify=Notify(NotifyLevel.ERROR, f"/{name}", str(exc)))


async def _run(
    store: StoreBackend,
    name: str,
    args: str,
    current: str,
    local: bool,
    export_dir: Path,
    resume_messages: int,
) -> CommandDone:
    if name == "sessions":
        text = format_sessions(await store.sessions(), current, SESSIONS_LISTED)
        return CommandDone(notify=Notify(NotifyLevel.INFO, "sessions", text))
    if name == "new":
        return CommandDone(resume=_new_session(f"the previous one is saved as {current}"))
    if name == "resume":
        loaded = await store.load_session(args or "last", tail=resume_messages)
        note = "resumed: " + resumed_note(loaded)
        return CommandDone(resume=resume_message(loaded, note), loaded=loaded)
    if name == "export":
        target = export_target(
            args, current=current, local=local, folder=export_dir, database=store.path
        )
        try:
            transcript = await store.export(
                current, target.path, force=target.force, confined=target.confined
            )
        except SessionNotFound:
            text = "nothing to export yet: this conversation has no saved message"
            return CommandDone(notify=Notify(NotifyLevel.INFO, "/export", text))
        text = f"{len(transcript.messages)} messages written to {target.path}"
        return CommandDone(notify=Notify(NotifyLevel.INFO, "export", text))
    if name == "delete":
        return await _delete(store, args, current)
    if name == "title":
        return await _title(store, args, current)
    text = f"/{name} is not a history command"
    return CommandDone(notify=Notify(NotifyLevel.ERROR, "unknown command", text))


async def _delete(store: StoreBackend, args: str, current: str) -> CommandDone:
    """``/delete ID`` asks; ``/delete ID confirm`` deletes (a new conversation if it was this)."""
    selector, _, rest = args.partition(" ")
    if not selector:
        text = "say which: /delete ID (`/sessions` lists the ids)"
        return CommandDone(notify=Notify(NotifyLevel.ERROR, "/delete", text))
    session = await store.session(selector)
    shown = f"“{session.title or 'untitled'}” ({session.id}, {session.message_count} messages)"
    if rest.strip().lower() != "confirm":
        text = f"this deletes {shown} for good. To do it, send: /delete {session.id} confirm"
        return CommandDone(notify=Notify(NotifyLevel.WARNING, "delete?", text))
    await store.delete_session(session.id)
    if session.id != current:
        notify = Notify(NotifyLevel.INFO, "deleted", f"{shown} is deleted")
        return CommandDone(notify=notify, deleted=session.id)
    resume = _new_session(f"{shown} was this conversation and is deleted")
    return CommandDone(resume=resume, deleted=session.id)


async def _title(store: StoreBackend, args: str, current: str) -> CommandDone:
    if args:
        notify = Notify(NotifyLevel.INFO, "title", f"this conversation: {args}")
        return CommandDone(title=args, notify=notify)
    try:
        title = (await store.session(current)).title or "(untitled)"
    except SessionNotFound:
        title = "(untitled: nothing saved yet)"
    return CommandDone(notify=Notify(NotifyLevel.INFO, "title", title))


def _new_session(why: str) -> ResumeSession:
    session_id = new_session_id()
    return ResumeSession(session_id, note=f"a new conversation ({session_id}); {why}")


def format_sessions(sessions: Iterable[StoredSession], current: str, limit: int) -> str:
    """``/sessions``: one line per session, newest first, the current one starred."""
    listed = list(sessions)
    if not listed:
        return "no saved conversations yet"
    lines = []
    for session in listed[:limit]:
        mark = "*" if session.id == current else " "
        lines.append(
            f"{mark} {session.id}  {when(session.updated)[:16]}  {session.message_count:>5} msgs"
            f"  {session.model or '-'}  {session.title or '(untitled)'}"
        )
    if len(listed) > limit:
        lines.append(f"  ... and {len(listed) - limit} older (`aiway sessions` lists them all)")
    lines.append("/resume ID continues one; /export writes this one as Markdown")
    return "\n".join(lines)

"""A saved conversation as Markdown: a title, metadata lines, then each message in turn.

Each message is a second-level heading (who spoke) and its clean text as it
was saved; an answer is followed by one italic line of its figures and how it
ended, and by the task cards it opened. The system prompt closes the file.
Every text in it came from a person, a model or a peer: the document is
stripped of escape sequences and control characters (``strip_controls``), so
that ``cat`` on an export cannot drive the terminal.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from aiway.actors.protocol import Role, TaskStatus
from aiway.actors.store.records import MessageState, StoredMessage, StoredTask, Transcript
from aiway.actors.untrusted import strip_controls

_SPEAKERS = {Role.USER: "You", Role.ASSISTANT: "Yollayah", Role.SYSTEM: "System"}
_STATES = {
    MessageState.CANCELLED: "cancelled",
    MessageState.ERROR: "failed",
    MessageState.INTERRUPTED: "interrupted",
    MessageState.STREAMING: "unfinished (still streaming, or aiway stopped mid-answer)",
}


def when(seconds: float) -> str:
    """A wall-clock time in local time, to the second, with its UTC offset."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(seconds))


def render_markdown(transcript: Transcript) -> str:
    """The whole conversation as one Markdown document, free of control sequences."""
    session = transcript.session
    lines = [
        f"# {session.title or 'Untitled conversation'}",
        "",
        f"- session: `{session.id}`",
        f"- model: {session.model or 'unknown'}",
        f"- started: {when(session.created)}",
        f"- last change: {when(session.updated)}",
        f"- messages: {len(transcript.messages)}",
        f"- tasks: {len(transcript.tasks)}",
        "",
    ]
    opened: dict[int | None, list[StoredTask]] = {}
    for task in transcript.tasks:
        opened.setdefault(task.message_seq, []).append(task)
    for message in transcript.messages:
        lines += _message(message, opened.pop(message.seq, []))
    leftover = [task for tasks in opened.values() for task in tasks]
    if leftover:
        lines += ["## Tasks", "", *(_task(task) for task in leftover), ""]
    if session.system_prompt:
        lines += ["## System prompt", "", "```text", session.system_prompt, "```", ""]
    return strip_controls("\n".join(lines))


def _message(message: StoredMessage, tasks: list[StoredTask]) -> list[str]:
    lines = [f"## {_SPEAKERS[message.role]}", "", message.content or "_(no text)_", ""]
    if message.role is Role.ASSISTANT:
        figures = _figures(message.metadata or {})
        ending = _STATES.get(message.state)
        error = (message.metadata or {}).get("error")
        parts = [*figures, *([ending] if ending else []), *([f"error: {error}"] if error else [])]
        if parts:
            lines += ["_" + " · ".join(parts) + "_", ""]
    if tasks:
        lines += [*(_task(task) for task in tasks), ""]
    return lines


def _figures(metadata: Mapping[str, object]) -> list[str]:
    parts: list[str] = []
    model = metadata.get("model") or metadata.get("backend")
    if model:
        parts.append(str(model))
    tokens = metadata.get("tokens")
    if isinstance(tokens, int) and tokens:
        parts.append(f"{tokens} tokens")
    rate = metadata.get("tokens_per_second")
    if isinstance(rate, int | float) and rate:
        parts.append(f"{rate:.1f} tok/s")
    elapsed = metadata.get("elapsed_ms")
    if isinstance(elapsed, int | float) and elapsed:
        parts.append(f"{elapsed / 1000:.2f} s")
    first = metadata.get("ttft_ms")
    if isinstance(first, int | float):
        parts.append(f"first token {first:.0f} ms")
    return parts


def _task(task: StoredTask) -> str:
    if task.status is TaskStatus.DONE:
        state = "done"
    elif task.status is TaskStatus.FAILED:
        state = f"failed: {task.reason or 'unknown error'}"
    else:
        state = f"{task.percent}%"
    return f"- task {task.task_id} · {task.agent_name} ({task.agent}): {task.description} — {state}"

"""The history from the shell: ``aiway sessions``, ``aiway export``, ``aiway forget``.

Each command takes the settings and the streams to write to (and, for
``forget``, the question to ask), and returns the process's exit code; the
command line in ``ui/cli.py`` wires them to standard output and input.
A ``StoreError`` (locked, damaged, no such session) propagates with its
message for the caller to print.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from aiway.actors.store.export import render_markdown, when
from aiway.actors.store.history import HistoryStore
from aiway.actors.store.messages import HISTORY_OFF
from aiway.config import Settings

Confirm = Callable[[str], bool]
"""Asks the person a yes/no question; True means yes."""


def _history_path(settings: Settings, err: TextIO) -> Path | None:
    if not settings.history.enabled or settings.history.path is None:
        err.write(f"aiway: {HISTORY_OFF}\n")
        return None
    return settings.history.path


async def _open(settings: Settings, path: Path) -> HistoryStore:
    return await HistoryStore.open(path, lock_timeout=settings.history.lock_timeout)


def list_sessions(settings: Settings, out: TextIO, err: TextIO) -> int:
    """``aiway sessions``: every saved conversation, the most recent first."""
    path = _history_path(settings, err)
    if path is None:
        return 1
    if not path.exists():
        out.write(f"no saved conversations yet ({path} does not exist)\n")
        return 0

    async def read() -> str:
        store = await _open(settings, path)
        try:
            sessions = await store.sessions()
            notes = store.notes
        finally:
            await store.close()
        for note in notes:
            err.write(f"aiway: {note}\n")
        if not sessions:
            return f"no saved conversations yet (in {path})\n"
        rows = [("id", "last change", "msgs", "model", "title")]
        rows += [
            (s.id, when(s.updated)[:16], str(s.message_count), s.model or "-", s.title or "-")
            for s in sessions
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [
            "  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]])
            for row in rows
        ]
        lines.append(f"\n{len(sessions)} conversations in {path}")
        lines.append("`aiway --resume ID` continues one; `aiway export ID` writes it as Markdown")
        return "\n".join(line.rstrip() for line in lines) + "\n"

    out.write(asyncio.run(read()))
    return 0


def export_session(
    settings: Settings,
    selector: str,
    target: Path | None,
    out: TextIO,
    err: TextIO,
    *,
    force: bool = False,
) -> int:
    """``aiway export ID [PATH] [--force]``: Markdown to ``PATH``, or to standard output.

    ``PATH`` is a new private (0600) file; an existing one is replaced only
    with ``force``, and never a link, a FIFO or a device (``ExportRefused``).
    """
    path = _history_path(settings, err)
    if path is None:
        return 1
    if not path.exists():
        err.write(f"aiway: no saved conversations yet ({path} does not exist)\n")
        return 1
    file = None if target is None else target.expanduser().absolute()

    async def export() -> str:
        store = await _open(settings, path)
        try:
            if file is None:
                return render_markdown(await store.transcript(selector))
            transcript = await store.export(selector, file, force=force)
        finally:
            await store.close()
        return f"{len(transcript.messages)} messages of {transcript.session.id} written to {file}\n"

    text = asyncio.run(export())
    (out if file is None else err).write(text)
    return 0


def forget(settings: Settings, *, yes: bool, confirm: Confirm, out: TextIO, err: TextIO) -> int:
    """``aiway forget``: delete the history file, its WAL and every backup, after asking."""
    path = _history_path(settings, err)
    if path is None:
        return 1
    count = _count_sessions(path)  # first: reading may leave WAL files behind, listed next
    files = _history_files(path)
    if not files:
        out.write(f"nothing to forget: there is no history at {path}\n")
        return 0
    what = "every saved conversation" if count is None else f"{count} saved conversations"
    backups = sum(1 for file in files if _is_backup(file.name))
    also = f" and {backups} backup files" if backups > 0 else ""
    if not yes and not confirm(f"Delete {what}{also} in {path.parent}? This cannot be undone"):
        out.write("nothing was deleted\n")
        return 1
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
    out.write(f"deleted {what}{also} ({path})\n")
    return 0


def _history_files(path: Path) -> list[Path]:
    """The file, its WAL and shared-memory files, and the backups made beside it."""
    if not path.parent.is_dir():
        return []
    prefix = path.name
    own = (prefix, f"{prefix}-wal", f"{prefix}-shm")
    return sorted(
        entry
        for entry in path.parent.iterdir()
        if entry.name in own
        or (
            entry.name.startswith(f"{prefix}.")
            and (".damaged-" in entry.name or entry.suffix == ".bak")
        )
    )


def _is_backup(name: str) -> bool:
    """A migration backup (``.v1.bak``) or a damaged file set aside (not its WAL)."""
    return name.endswith(".bak") or (".damaged-" in name and not name.endswith(("-wal", "-shm")))


def _count_sessions(path: Path) -> int | None:
    """How many sessions the file holds (read only), or None if it cannot say."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0.5)
    except sqlite3.Error:
        return None
    try:
        return int(conn.execute("SELECT count(*) FROM sessions").fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        conn.close()

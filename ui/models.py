"""``aiway models`` and ``aiway pull NAME``: the backend's models, outside any session.

``list_models`` asks the backend the settings choose (Ollama's ``/api/tags``
with each model's size and date; the embedded backend's one model file) and
writes a table or, with ``--json``, one JSON document. ``pull`` streams
Ollama's ``/api/pull`` and draws its progress: on a terminal one line redrawn
with ``\\r``, elsewhere a plain line each time the status or the tens of the
percent change. Every text from the server was stripped of control sequences
by the backend; both return the process's exit code and raise
``BackendError`` (which the command line prints) when no backend answers.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

import orjson

from aiway.actors.backends.base import BackendError
from aiway.actors.backends.ollama import DEFAULT_PULL_TIMEOUT, ModelInfo, PullUpdate
from aiway.actors.backends.selection import make_embedded, make_ollama
from aiway.config import Settings
from aiway.ui.progress import PullMeter, human_size

EMBEDDED_PULL = (
    "pull applies to Ollama only: the embedded backend serves its one packaged model "
    "(embedded.model_path picks another GGUF file); start Ollama or pass --backend ollama"
)
_REDRAW_EVERY = 0.1


async def list_models(settings: Settings, out: TextIO, *, json_mode: bool) -> int:
    """Write the models of the backend in use; raises ``BackendError`` when none answers."""
    backend, where, models = await _models_of(settings)
    if json_mode:
        document = {
            "backend": backend,
            "where": where,
            "models": [{"name": m.name, "size": m.size, "modified": m.modified} for m in models],
        }
        out.write(orjson.dumps(document).decode() + "\n")
        return 0
    rows = [("NAME", "SIZE", "MODIFIED")]
    rows += [(m.name, human_size(m.size) if m.size else "-", m.modified or "-") for m in models]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
    if not models:
        out.write(f"(no models on {backend} at {where}; `aiway pull NAME` fetches one)\n")
    return 0


async def _models_of(settings: Settings) -> tuple[str, str, list[ModelInfo]]:
    choice = settings.backend
    ollama_error: BackendError | None = None
    if choice in ("auto", "ollama"):
        ollama = make_ollama(settings)
        try:
            if await ollama.health(settings.ollama.health_timeout):
                return "ollama", ollama.base_url, await ollama.list_model_details()
            ollama_error = BackendError(
                f"no Ollama server at {ollama.base_url}",
                "start it with `ollama serve`, set OLLAMA_HOST, or use --backend embedded",
            )
        finally:
            await ollama.close()
        if choice == "ollama":
            raise ollama_error
    try:
        embedded = make_embedded(settings, None)
    except BackendError as exc:
        if ollama_error is None:
            raise
        raise BackendError(
            f"no backend answered: {ollama_error}; and {exc}",
            "start Ollama (`ollama serve`), or install the embedded model",
        ) from None
    try:
        path = await embedded.model_path()  # type: ignore[attr-defined]
        size = path.stat().st_size
        modified = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))
        return "embedded", str(path), [ModelInfo(path.stem, size, modified)]
    finally:
        await embedded.close()


async def pull(
    settings: Settings,
    name: str,
    out: TextIO,
    *,
    timeout: float | None = DEFAULT_PULL_TIMEOUT,
) -> int:
    """Pull ``name`` on Ollama with a progress line; 0 once Ollama says success.

    Raises ``BackendError`` when the pull fails, and says the embedded
    backend has nothing to pull (exit code 2). Cancelling (Ctrl+C) closes the
    download; the caller reports it.
    """
    if settings.backend == "embedded":
        print(f"aiway: {EMBEDDED_PULL}", file=sys.stderr)
        return 2
    ollama = make_ollama(settings)
    meter = PullMeter(name)
    terminal = out.isatty()
    shown: list[object] = [None]
    last_draw = [0.0]
    width = max(20, shutil.get_terminal_size().columns - 1)

    async def on_update(update: PullUpdate) -> None:
        meter.update(update.status, update.digest, update.total, update.completed)
        percent = meter.percent
        if terminal:
            now = time.monotonic()
            done = percent == 100 or update.status == "success"
            if done or now - last_draw[0] >= _REDRAW_EVERY or shown[0] != update.status:
                last_draw[0] = now
                shown[0] = update.status
                out.write("\r" + meter.line(width).ljust(width))
                if done or percent is None:
                    out.write("\n")
                    shown[0] = None
                out.flush()
            return
        key = (update.status, None if percent is None else percent // 10)
        if key != shown[0]:
            shown[0] = key
            out.write(meter.line(200) + "\n")
            out.flush()

    try:
        await ollama.pull(name, on_update, total_timeout=timeout)
    finally:
        if terminal and shown[0] is not None:  # end the redrawn line before any error
            out.write("\n")
            out.flush()
        await ollama.close()
    out.write(f"pulled {name}\n")
    return 0

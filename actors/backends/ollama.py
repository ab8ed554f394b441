"""The Ollama backend: streams answers from an Ollama server over HTTP.

``OllamaBackend`` posts to ``/api/chat`` and reads the NDJSON answer as raw
bytes, handing ``on_text`` one piece of text per network read (all the complete
lines of that read, joined), never one per token. That one request is read by
its own HTTP/1.1 protocol (``http1.ResponseReader``, ``_ChatReader``: each read
is taken apart in the transport's callback, with no task woken per read; why
not aiohttp is in ``http1``'s doc); every other request goes through one
aiohttp session, created on first use and closed by ``close()``. Every failure (no server, no
such model, an error line mid-stream, silence past the idle timeout, an answer
past the total timeout, a stream cut short, a bad line, a redirect, a body past
its cap) becomes a ``BackendError`` that says what and where, with a hint
saying what to do. The server is not trusted further than it must be: no
redirect is ever followed (a 307 would re-send the whole conversation to
wherever it points), every body read is capped, and every text the server
chose (error strings, a redirect's target) is stripped of control sequences
and cut short before it goes anywhere. ``list_model_details`` gives name, size
and date of each installed model; ``pull`` streams ``/api/pull``'s progress
lines (each bounded like a chat line, the whole pull by its own timeout).
``parse_ollama_host`` reads ``OLLAMA_HOST`` the way Ollama does. An
``https`` host is verified with Python's default trust (the system's CAs; a
private CA or a self-signed certificate through ``SSL_CERT_FILE``), one
context per backend for the chat stream and aiohttp alike; a certificate
that is not trusted is a ``BackendError`` naming why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import attrs
import orjson

from aiway.actors.backends.base import BackendError, OnText
from aiway.actors.backends.http1 import EndedEarly, HttpError, ResponseReader
from aiway.actors.backends.ndjson import (
    DEFAULT_MAX_LINE_BYTES,
    JsonObject,
    NdjsonError,
    NdjsonSplitter,
)
from aiway.actors.protocol.conductor import ResponseMetadata
from aiway.actors.protocol.stream import ChatTurn
from aiway.actors.untrusted import capped
from aiway.config.ollama_host import parse_ollama_host

log = logging.getLogger(__name__)
_loads = orjson.loads

_JSON_HEADERS = {"Content-Type": "application/json"}
_UNREACHABLE_HINT = (
    "start it with `ollama serve`, or set OLLAMA_HOST to where it runs, or use the embedded backend"
)
_ERROR_BODY_LIMIT = 64 * 1024
_READ_SLICE = 64 * 1024
_NOT_OLLAMA_HINT = "check that OLLAMA_HOST points at an Ollama server"
_TLS_HINT = "check that the server speaks HTTPS there, or use http:// for a local server"
_CERTIFICATE_HINT = (
    "for a self-signed certificate or a private CA, set SSL_CERT_FILE to its PEM file "
    "(it is trusted then), or use http:// for a local server"
)

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
"""The largest ``/api/tags`` or ``/api/ps`` body read (4 MiB: thousands of models)."""

DEFAULT_PULL_TIMEOUT = 6 * 3600.0
"""The longest a whole ``pull`` may take by default (6 hours: tens of GB on a slow line)."""

_STATUS_LIMIT = 200
_IDLE_HINT = "the model may be stuck or still loading; try again, or raise the idle timeout"
#: how often, per idle timeout, the silence watch looks: silence is caught between the
#: idle timeout and a tick more
_SILENCE_TICKS = 8
#: how long the end of a response may take after its final line before it is dropped
_DRAIN_SECONDS = 1.0
_PULL_HINT = "check the model's name (ollama.com/library), the network and the server's log"


@attrs.frozen(slots=True)
class ModelInfo:
    """One installed model as ``/api/tags`` describes it."""

    name: str
    size: int
    """Bytes on disk (0 when the server did not say)."""
    modified: str
    """When it was last pulled or changed, as the server wrote it (ISO 8601), or ``""``."""


@attrs.frozen(slots=True)
class PullUpdate:
    """One progress line of ``/api/pull``: Ollama's status, and bytes done of one layer."""

    status: str
    """Safe to show: stripped of control sequences and cut short."""
    digest: str = ""
    total: int = 0
    completed: int = 0


OnPullUpdate = Callable[[PullUpdate], Awaitable[None]]
"""Receives each progress line of a pull. Awaiting it is backpressure."""


class OllamaBackend:
    """Streams answers from one Ollama server. One request per ``stream`` call.

    ``connect_timeout`` bounds connecting; ``idle_timeout`` bounds the silence
    between two reads (headers included: a model that loads longer than this
    fails); ``total_timeout`` (None: no limit) bounds a whole request, however
    steadily it streams. ``max_line_bytes`` caps one NDJSON line and
    ``max_body_bytes`` a listing's body. ``options`` and ``keep_alive`` are sent
    as is with every chat request when given.
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        connect_timeout: float = 5.0,
        idle_timeout: float = 120.0,
        total_timeout: float | None = None,
        options: Mapping[str, object] | None = None,
        keep_alive: str | float | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._base_url = parse_ollama_host(host)
        self._url = urlsplit(self._base_url)
        self._where = self._base_url.partition("://")[2]
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._total_timeout = total_timeout
        self._max_body_bytes = max_body_bytes
        self._options = dict(options) if options else None
        self._keep_alive = keep_alive
        self._max_line_bytes = max_line_bytes
        self._session: aiohttp.ClientSession | None = None
        # The chat stream's TLS context, made on first use: asyncio's default (``ssl=True``)
        # makes a new one per connection, loading the system's CA bundle every time (tens
        # of ms before each answer).
        self._tls: ssl.SSLContext | None = None

    @property
    def name(self) -> str:
        return "ollama"

    @property
    def base_url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:11434``."""
        return self._base_url

    async def stream(
        self, model: str, messages: tuple[ChatTurn, ...], on_text: OnText
    ) -> ResponseMetadata:
        """Stream one answer; ``on_text`` is awaited once per network read that holds text.

        ``on_text`` is started inside the transport's callback, as the calling
        task (``current_task()`` is that task); if it waits, reading pauses and
        the calling task finishes it (see ``_ChatReader``). Raises
        ``BackendError`` on any failure, ``total_timeout`` included, and what
        ``on_text`` raises as is. Cancelling the calling task closes the
        connection at once, which makes Ollama stop generating.
        """
        body: dict[str, object] = {
            "model": model,
            "messages": [{"role": turn.role, "content": turn.content} for turn in messages],
            "stream": True,
        }
        if self._options is not None:
            body["options"] = self._options
        if self._keep_alive is not None:
            body["keep_alive"] = self._keep_alive
        request = self._chat_request(orjson.dumps(body))
        started = time.perf_counter()
        # The idle timeout is this watch's: one loop timer that ticks a few times per
        # idle timeout, never re-armed per read.
        watch = _SilenceWatch(self._idle_timeout)
        reader: _ChatReader | None = None
        try:
            async with self._within_total("the answer"):
                reader = _ChatReader(on_text, watch, self._max_line_bytes, request)
                await self._connect(reader)
                outcome = await reader.wait()
        except asyncio.CancelledError:
            if watch.silenced():
                raise BackendError(
                    f"no data from the model for {self._idle_timeout:g}s", _IDLE_HINT
                ) from None
            raise
        except NdjsonError as error:
            raise BackendError(
                f"bad answer from Ollama at {self._where}: {error}",
                "the server sent something that is not Ollama's NDJSON; check OLLAMA_HOST",
            ) from None
        except EndedEarly:
            raise _ended_early() from None
        except HttpError as error:
            raise BackendError(
                f"bad answer from Ollama at {self._where}: {error}", _NOT_OLLAMA_HINT
            ) from None
        finally:
            watch.stop()
            if reader is not None:
                reader.release()
        if isinstance(outcome, tuple):
            raise await self._request_failed(*outcome, model)
        return _metadata(outcome, model, started, reader.first_text_at, reader.pieces)

    async def list_models(self) -> list[str]:
        """Installed model names, from ``/api/tags``. Raises ``BackendError``."""
        return _model_names(await self._get_json("/api/tags"))

    async def list_model_details(self) -> list[ModelInfo]:
        """Installed models with size and date, from ``/api/tags``. Raises ``BackendError``."""
        return _model_details(await self._get_json("/api/tags"))

    async def pull(
        self,
        name: str,
        on_update: OnPullUpdate,
        *,
        total_timeout: float | None = DEFAULT_PULL_TIMEOUT,
    ) -> None:
        """Pull ``name`` through ``/api/pull``, awaiting ``on_update`` for every progress line.

        Returns once Ollama says ``success``. Raises ``BackendError`` on an
        ``error`` line, an HTTP error, a line past ``max_line_bytes``, a
        malformed line, a stream that ends before ``success``, silence past
        the idle timeout, or a pull longer than ``total_timeout`` seconds.
        Cancelling the caller closes the response, which stops the download.
        """
        session = self._open_session()
        failure: tuple[int, str] | None = None
        with self._translate_errors():
            async with (
                self._within(f"pulling {name}", total_timeout, "pass a larger --timeout"),
                session.post(
                    self._base_url + "/api/pull",
                    data=orjson.dumps({"model": name, "stream": True}),
                    headers=_JSON_HEADERS,
                    allow_redirects=False,
                ) as response,
            ):
                if response.status == 200:
                    await self._read_pull(response, name, on_update)
                    return
                failure = (response.status, await _error_text(response))
        status, error = failure
        raise BackendError(
            f"Ollama at {self._where} refused to pull {name!r}: HTTP {status}"
            f"{error if 300 <= status < 400 else ': ' + error}",
            _hint_for(status) if 300 <= status < 400 else _PULL_HINT,
        )

    async def _read_pull(
        self, response: aiohttp.ClientResponse, name: str, on_update: OnPullUpdate
    ) -> None:
        splitter = NdjsonSplitter(self._max_line_bytes)
        read = response.content.readany
        try:
            while True:
                data = await read()
                lines = splitter.split(data) if data else splitter.flush()
                for item in splitter.decode(lines):
                    if "error" in item:
                        raise BackendError(
                            f"Ollama could not pull {name!r}: {capped(str(item['error']))}",
                            _PULL_HINT,
                        )
                    update = _pull_update(item)
                    await on_update(update)
                    if update.status == "success":
                        return
                if not data:
                    raise BackendError(
                        f"the pull of {name!r} ended before Ollama said it succeeded",
                        "the connection to Ollama dropped; run the pull again (it resumes)",
                    )
        except BaseException as error:
            response.close()
            if isinstance(error, NdjsonError):
                raise BackendError(
                    f"bad progress line from Ollama at {self._where}: {error}",
                    _NOT_OLLAMA_HINT,
                ) from None
            raise

    async def loaded_models(self) -> list[str]:
        """Names of the models loaded in memory now, from ``/api/ps``. Raises ``BackendError``."""
        return _model_names(await self._get_json("/api/ps"))

    async def health(self, timeout: float = 2.0) -> bool:
        """Whether the server answers ``/api/tags`` with 200 within ``timeout`` seconds.

        A redirect or a body past ``max_body_bytes`` is not healthy. Never
        raises (except on cancellation of the caller).
        """
        session = self._open_session()
        try:
            async with session.get(
                self._base_url + "/api/tags",
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    return False
                return await _read_capped(response, self._max_body_bytes) is not None
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def close(self) -> None:
        """Close the session and its connections. The backend may be used again after."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=self._connect_timeout, sock_read=self._idle_timeout
            )
            # Over https, aiohttp connects with the chat stream's TLS context too (its own
            # default is made when aiohttp is imported): one trust for every request.
            connector = (
                aiohttp.TCPConnector(ssl=self._tls_context())
                if self._url.scheme == "https"
                else None
            )
            session = self._session = aiohttp.ClientSession(timeout=timeout, connector=connector)
        return session

    def _chat_request(self, body: bytes) -> bytes:
        """The whole ``POST /api/chat`` request, head and body."""
        url = self._url
        path = (url.path.rstrip("/") + "/api/chat").encode()
        host = url.netloc.rpartition("@")[2].encode("idna")
        return b"".join(
            (
                b"POST ", path, b" HTTP/1.1\r\nHost: ", host,
                b"\r\nUser-Agent: aiway\r\nAccept: application/x-ndjson\r\n"
                b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: ",
                str(len(body)).encode(), b"\r\n\r\n", body,
            )
        )  # fmt: skip

    async def _connect(self, reader: _ChatReader) -> None:
        """Open a connection for ``reader`` (which sends its request once connected)."""
        url = self._url
        secure = url.scheme == "https"
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                await loop.create_connection(
                    lambda: reader,
                    url.hostname or "127.0.0.1",
                    url.port or (443 if secure else 80),
                    ssl=self._tls_context() if secure else None,
                )
        except TimeoutError:
            raise BackendError(
                f"no answer from an Ollama server at {self._where} "
                f"within {self._connect_timeout:g}s of connecting",
                _UNREACHABLE_HINT,
            ) from None
        except ssl.SSLCertVerificationError as error:
            reason = error.verify_message or error.reason or "not verified"
            raise BackendError(
                f"the certificate of the Ollama server at {self._where} is not trusted: "
                f"{capped(str(reason))}",
                _CERTIFICATE_HINT,
            ) from None
        except ssl.SSLError as error:
            raise BackendError(
                f"TLS with Ollama at {self._where} failed: {capped(str(error.reason or error))}",
                _TLS_HINT,
            ) from None
        except ConnectionResetError:
            if not secure:
                raise BackendError(
                    f"no Ollama server at {self._where}", _UNREACHABLE_HINT
                ) from None
            # Only the TLS handshake resets inside ``create_connection``: a server did answer.
            raise BackendError(
                f"the server at {self._where} closed the connection during the TLS handshake",
                _TLS_HINT,
            ) from None
        except OSError:
            raise BackendError(f"no Ollama server at {self._where}", _UNREACHABLE_HINT) from None

    def _tls_context(self) -> ssl.SSLContext:
        """Python's default client context (the system's CAs, or ``SSL_CERT_FILE`` as set
        when it is first made), offering HTTP/1.1 only (ALPN), kept for every request."""
        context = self._tls
        if context is None:
            context = self._tls = ssl.create_default_context()
            context.set_alpn_protocols(("http/1.1",))
        return context

    async def _get_json(self, path: str) -> Any:
        session = self._open_session()
        with self._translate_errors():
            async with (
                self._within_total(f"reading {path}"),
                session.get(self._base_url + path, allow_redirects=False) as response,
            ):
                if response.status != 200:
                    status = response.status
                    detail = await _error_text(response)
                    raise BackendError(
                        f"Ollama at {self._where} answered {path} with HTTP {status}"
                        f"{detail if 300 <= status < 400 else ': ' + detail}",
                        _hint_for(status),
                    )
                raw = await _read_capped(response, self._max_body_bytes)
                if raw is None:
                    raise BackendError(
                        f"Ollama at {self._where} answered {path} with a body larger than "
                        f"{_describe_size(self._max_body_bytes)}; it was not read",
                        _NOT_OLLAMA_HINT,
                    )
                try:
                    return orjson.loads(raw)
                except orjson.JSONDecodeError as error:
                    raise BackendError(
                        f"Ollama at {self._where} answered {path} with invalid JSON ({error})",
                        _NOT_OLLAMA_HINT,
                    ) from None

    async def _request_failed(self, status: int, error: str, model: str) -> BackendError:
        if 300 <= status < 400:
            return BackendError(
                f"Ollama at {self._where} answered HTTP {status}{error}", _hint_for(status)
            )
        if status == 404 and "not found" in error:
            try:
                installed = ", ".join(await self.list_models()) or "none"
            except BackendError:
                installed = "(could not list them)"
            return BackendError(
                f"model '{model}' not found; installed: {installed}",
                f"run `ollama pull {model}`, or pick an installed model",
            )
        return BackendError(
            f"Ollama at {self._where} answered HTTP {status}: {error}",
            "see the Ollama server's log",
        )

    def _within_total(self, what: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Bound the block by ``total_timeout``: past it, a ``BackendError`` naming ``what``."""
        return self._within(
            what, self._total_timeout, "raise ollama.total_timeout, or unset it for no limit"
        )

    @contextlib.asynccontextmanager
    async def _within(self, what: str, limit: float | None, hint: str) -> AsyncIterator[None]:
        """Bound the block by ``limit`` seconds: past it, a ``BackendError`` naming ``what``."""
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                yield
        except TimeoutError:
            if not scope.expired():  # an idle or connect timeout: _translate_errors says which
                raise
            raise BackendError(
                f"{what} took longer than the total timeout of {limit:g}s", hint
            ) from None

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn aiohttp's exceptions into ``BackendError`` saying what happened where."""
        try:
            yield
        except aiohttp.ConnectionTimeoutError:
            raise BackendError(
                f"no answer from an Ollama server at {self._where} "
                f"within {self._connect_timeout:g}s of connecting",
                _UNREACHABLE_HINT,
            ) from None
        except aiohttp.ClientConnectorError:
            raise BackendError(f"no Ollama server at {self._where}", _UNREACHABLE_HINT) from None
        except aiohttp.ServerTimeoutError:
            raise BackendError(
                f"no data from the model for {self._idle_timeout:g}s", _IDLE_HINT
            ) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
            raise _ended_early() from None
        except aiohttp.ClientError as error:
            raise BackendError(
                f"talking to Ollama at {self._where} failed: {capped(str(error))}",
                "see the Ollama server's log",
            ) from None


def _ended_early() -> BackendError:
    return BackendError(
        "the stream ended before the model finished",
        "the connection to Ollama dropped; see the Ollama server's log and try again",
    )


class _SilenceWatch:
    """The idle timeout of one answer: cancels the current task after that much silence.

    One loop timer, armed a few times per idle timeout and never per read: the
    reader only sets ``waiting`` around each read and ``heard`` after it (plain
    stores, nothing allocated). The timer counts its ticks with the reader
    waiting and nothing heard; enough of them in a row make the idle timeout
    (caught between it and one tick more). Time the reader spends handing text
    on (backpressure) is not silence, as with aiohttp's ``sock_read``, which
    stops its timer while reading is paused.
    """

    __slots__ = (
        "_cancelling", "_expired", "_handle", "_loop", "_quiet", "_task", "_tick",
        "heard", "waiting",
    )  # fmt: skip

    def __init__(self, idle_timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None  # called from a coroutine
        self._task = task
        self._cancelling = task.cancelling()
        self._tick = idle_timeout / _SILENCE_TICKS
        self._quiet = 0
        self._expired = False
        #: the reader is waiting for the server (the request and its headers count)
        self.waiting = True
        #: something came since the timer last looked
        self.heard = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(self._tick, self._look)

    def _look(self) -> None:
        if self.heard or not self.waiting:
            self.heard = False
            self._quiet = 0
        else:
            self._quiet += 1
            if self._quiet >= _SILENCE_TICKS:
                self._handle = None
                self._expired = True
                self._task.cancel()
                return
        self._handle = self._loop.call_later(self._tick, self._look)

    def silenced(self) -> bool:
        """Whether a ``CancelledError`` now in flight is this watch's (and undone: take it)."""
        return self._expired and self._task.uncancel() <= self._cancelling

    def stop(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()


_Steps = Generator[Any, Any, Any]
"""A started ``on_text`` call: its awaitable's ``__await__`` iterator."""
_RETURNED = object()


_take_read = ResponseReader.take  # called as is: ``super()`` makes an object per read


class _ChatReader(ResponseReader):
    """Reads one ``/api/chat`` response and hands its text to ``on_text`` from the transport.

    Each network read is taken apart inside the transport's callback: the
    chunk framing (``ResponseReader``), the NDJSON lines (a read that is one
    line is not split: ``_line_text``),
    and the read's text joined, given to ``on_text`` there and then. The
    calling task only waits, once per answer, for the outcome: no future is
    made and no task is woken per read.

    ``on_text`` runs as the calling task (``current_task()`` is that task while
    it runs). When it must wait (the Conductor's mailbox is full), reading is
    paused (TCP pushes back on the server) and the calling task takes the
    waiting call over and finishes it (``_Resume``), then reading goes on: the
    same backpressure as awaiting it in the task.

    The outcome is the final line (a dict), a failed request's ``(status,
    text)``, or an exception, which ``wait`` raises: what ``on_text`` raised,
    a ``BackendError`` (an error line, a line not shaped like a chunk), an
    ``NdjsonError`` (a line too long, malformed) or an ``HttpError``.
    """

    def __init__(
        self, on_text: OnText, watch: _SilenceWatch, max_line_bytes: int, request: bytes
    ) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None  # called from a coroutine
        self._task = task
        self._on_text = on_text
        self._watch = watch
        self._request = request
        self._splitter = NdjsonSplitter(max_line_bytes)
        self._answering = False  # a 200: the body is NDJSON
        self._error_body: list[bytes] | None = None  # another status: its body, capped
        self._error_bytes = 0
        self._text: str | None = None  # this read's text so far
        self._textless = 0  # lines split so far that held no text (their count is rare)
        self._last: JsonObject | None = None  # the done or error line, once seen
        self._outcome: JsonObject | tuple[int, str] | BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._suspended: tuple[_Steps, Any] | None = None
        self._backlog: list[bytes] = []
        self._in_task = False
        self._drain: asyncio.TimerHandle | None = None
        self.first_text_at: float | None = None

    @property
    def pieces(self) -> int:
        """Lines with text so far (counted from the lines without: no count per read)."""
        return self._splitter.lines_seen - self._textless

    # -- the calling task's side ----------------------------------------------------------

    async def wait(self) -> JsonObject | tuple[int, str]:
        """The outcome, once there is one (see the class doc); raises a failure."""
        watch = self._watch
        while True:
            suspended = self._suspended
            if suspended is not None:
                self._suspended = None
                watch.waiting = False  # handing text on is not silence
                await _Resume(*suspended)
                watch.waiting = True
                self._delivered()
                continue
            outcome = self._outcome
            if outcome is not None:
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def release(self) -> None:
        """The caller is done: drop the connection (a cancel or a failure stops Ollama).

        After the final line the rest of the response (its last, empty chunk) is
        still read, so the server sees a whole answer taken, for at most
        ``_DRAIN_SECONDS``; then, or on any other outcome, the connection is closed.
        """
        suspended, self._suspended = self._suspended, None
        if suspended is not None:
            suspended[0].close()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if type(self._outcome) is dict and not self.body_ended:
            self._drain = self._loop.call_later(_DRAIN_SECONDS, self._close)
            return
        self._close()

    def _close(self) -> None:
        self.stop()
        drain, self._drain = self._drain, None
        if drain is not None:
            drain.cancel()
        if self.transport is not None:
            self.transport.close()

    # -- the transport's side -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.write(self._request)

    def take(self, data: bytes | bytearray, end: int) -> None:
        self._watch.heard = True
        if self._suspended is not None or self._backlog:
            # Reading is paused, but a transport may still hand over what it had.
            self._backlog.append(bytes(data[:end]))
            return
        _take_read(self, data, end)

    def on_head(self) -> None:
        status = self.status
        if status == 200:
            self._answering = True
        elif 300 <= status < 400:
            self.stop()
            location = capped(self.headers.get("location", "nowhere"), 200)
            self._finish((status, f" (a redirect to {location}, which aiway does not follow)"))
        else:
            self._error_body = []

    def on_body(self, data: bytes | bytearray, begin: int, end: int) -> None:
        if self._answering:
            if self._last is None:
                self._lines(data, begin, end)
        elif self._error_body is not None:
            take = min(end - begin, _ERROR_BODY_LIMIT - self._error_bytes)
            self._error_body.append(bytes(data[begin : begin + take]))
            self._error_bytes += take
            if self._error_bytes >= _ERROR_BODY_LIMIT:
                self.stop()
                self._failed_request()

    def on_read_end(self) -> None:
        if self._outcome is not None and self._answering:
            return
        text = self._text
        if text is not None:
            self._text = None
            if self.first_text_at is None:
                self.first_text_at = time.perf_counter()
            if not self._deliver(text):
                return  # the task finishes the delivery, then ``_delivered``
        self._ended_read()

    def on_body_end(self) -> None:
        if self._drain is not None:
            self._close()
        elif self._answering:
            if self._last is None:
                try:
                    self._take(self._splitter.flush())
                except BaseException as error:
                    self._finish(error)
                    return
                if self._last is None:
                    self._last = {}  # no final line: ``_ended_read`` says it ended early
                    self._ended_early = True
            if self._suspended is None:
                self.on_read_end()
        elif self._error_body is not None:
            self._failed_request()

    def on_failure(self, error: HttpError) -> None:
        if self._drain is not None:
            self._close()
        elif self._outcome is None:
            self._finish(error)

    # -- inside ------------------------------------------------------------------------

    _ended_early = False

    def _lines(self, data: bytes | bytearray, begin: int, end: int) -> None:
        """One stretch of body bytes: its text added to the read's, its last line noted."""
        splitter = self._splitter
        try:
            if splitter.whole_line(data, begin, end):
                # The paced case: one line, not split; an ordinary chunk has only its
                # content decoded (from a view of the buffer: one object, no copy).
                view = self.view if data is self.buffer else memoryview(data)
                text = _chunk_text(data, view, begin, end)
                if text is None:
                    line = view[begin:end]
                    text = _line_text(line)
                if text is not None:
                    if text:
                        self._add(text)
                    else:
                        self._textless += 1
                    return
                lines = [bytes(view[begin : end - 1])]
            else:
                lines = splitter.split(bytes(data[begin:end]))
            self._take(lines)
        except BaseException as error:
            self.stop()
            self._text = None
            self._finish(error)

    def _take(self, lines: list[bytes]) -> None:
        plain = _plain_text(lines)
        if plain is not None:
            text, count = plain
        else:
            text, count, self._last = _take_text(self._splitter.decode(lines))
        self._textless += len(lines) - count
        if count:
            self._add(text)

    def _add(self, text: str) -> None:
        self._text = text if self._text is None else self._text + text

    def _deliver(self, text: str) -> bool:
        """Give ``on_text`` the read's text; False if it waits (the task takes it over)."""
        # Stepped with ``next``: an awaitable that returns ends it without a StopIteration
        # (and its traceback) made and caught here.
        steps = self._on_text(text).__await__()
        in_task = self._in_task
        if not in_task:
            _enter_task(self._loop, self._task)
        try:
            yielded = next(steps, _RETURNED)
            if yielded is _RETURNED:
                return True
        except BaseException as error:
            self.stop()
            self._finish(error)
            if isinstance(error, KeyboardInterrupt | SystemExit):
                raise
            return False
        finally:
            if not in_task:
                _leave_task(self._loop, self._task)
        self._suspended = (steps, yielded)
        if self.transport is not None:
            self.transport.pause_reading()
        self._notify()
        return False

    def _delivered(self) -> None:
        """In the task, once a waiting ``on_text`` returned: go on where the read left off."""
        self._in_task = True
        try:
            self._ended_read()
            if self._outcome is None and self.transport is not None:
                self.transport.resume_reading()
            while self._backlog and self._suspended is None and self._outcome is None:
                data = self._backlog.pop(0)
                _take_read(self, data, len(data))
        finally:
            self._in_task = False

    def _ended_read(self) -> None:
        last = self._last
        if last is None or self._outcome is not None:
            return
        if self._ended_early:
            self._finish(EndedEarly("the stream ended before the model finished"))
        elif "error" in last:
            self._finish(
                BackendError(
                    f"Ollama reported an error mid-answer: {capped(str(last['error']))}",
                    "see the Ollama server's log; try again or pick another model",
                )
            )
        else:
            self._finish(last)

    def _failed_request(self) -> None:
        assert self._error_body is not None
        raw = b"".join(self._error_body)
        self._error_body = None
        self._finish((self.status, _error_body_text(raw, self.reason)))

    def _finish(self, outcome: JsonObject | tuple[int, str] | BaseException) -> None:
        if self._outcome is None:
            self._outcome = outcome
            self._notify()

    def _notify(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _Resume:
    """Awaiting it finishes a coroutine that was started elsewhere and is waiting.

    ``_ChatReader`` starts ``on_text`` inside the transport's callback; when it
    waits, the calling task awaits this to go on with it as if it had awaited
    the call itself: what the coroutine waits on is passed up to the task, and
    what the task is sent or thrown (a cancellation) is passed down.
    """

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: _Steps, yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, None]:
        coro = self._coro
        yielded = self._yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as error:
                try:
                    yielded = coro.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration:
                    return


#: Ollama's ordinary chunk, around its model (M), time (T) and content (C):
#: ``{"model":"M","created_at":"T","message":{"role":"assistant","content":C},"done":false}``
_MODEL_KEY = b'{"model":"'
_TIME_KEY = b'","created_at":"'
_CONTENT_KEY = b'","message":{"role":"assistant","content":'
_CHUNK_END = b'},"done":false}\n'
_MODEL_AT = len(_MODEL_KEY)
_TIME_AT = len(_TIME_KEY)
_CONTENT_AT = len(_CONTENT_KEY)
_CONTENT_AFTER = len(_CHUNK_END)


def _chunk_text(data: bytes | bytearray, view: memoryview, begin: int, end: int) -> str | None:
    """The text of the line ``data[begin:end]`` if it is exactly Ollama's ordinary chunk.

    Only the content is decoded (as UTF-8 when nothing in it is escaped, else
    by orjson, which checks that it is one JSON string: a view and a ``str``,
    where decoding the line makes two dicts and four strings), and everything
    around it is checked to be that shape exactly:
    the keys in Ollama's order, the model and time plain printable ASCII (no
    quote, backslash or control byte), so a line taken here is JSON. The checks
    allocate nothing while offsets stay below 257, as in a paced read (the
    reader's small window). Anything else returns None and is decoded whole
    (the old faster path checked only the line's ends and took a line with a
    non-JSON start for a chunk).
    """
    if not data.startswith(_MODEL_KEY, begin) or not data.endswith(_CHUNK_END, begin, end):
        return None
    model = begin + _MODEL_AT
    model_end = data.find(b'"', model, end)
    if model_end < 0 or not data.startswith(_TIME_KEY, model_end):
        return None
    time_at = model_end + _TIME_AT
    time_end = data.find(b'"', time_at, end)
    if time_end < 0 or not data.startswith(_CONTENT_KEY, time_end):
        return None
    if not (_plain(data, model, model_end) and _plain(data, time_at, time_end)):
        return None
    content = time_end + _CONTENT_AT
    content_end = end - _CONTENT_AFTER
    if (
        data[content] == 34  # a quote
        and data.find(b'"', content + 1, content_end) == content_end - 1
        and data.find(b"\\", content, content_end) < 0
        and _no_controls(data, content, content_end)
    ):
        # A string with nothing escaped is its UTF-8 bytes (checked by the decode).
        try:
            return str(view[content + 1 : content_end - 1], "utf-8")
        except UnicodeDecodeError:
            return None
    try:
        text = _loads(view[content:content_end])
    except orjson.JSONDecodeError:
        return None
    return text if type(text) is str else None


def _no_controls(data: bytes | bytearray, at: int, end: int) -> bool:
    """Whether ``data[at:end]`` holds no control byte (which a JSON string may not)."""
    while at < end:
        if data[at] < 32:
            return False
        at += 1
    return True


def _plain(data: bytes | bytearray, at: int, end: int) -> bool:
    """Whether ``data[at:end]`` is printable ASCII without a backslash (a JSON string's
    inside that needs no decoding); quotes were excluded by the caller's ``find``."""
    while at < end:
        byte = data[at]
        if byte < 32 or byte > 126 or byte == 92:  # 92: a backslash
            return False
        at += 1
    return True


def _line_text(line: bytes | memoryview) -> str | None:
    """The text of one line that is an ordinary chunk (not done, no error), else None.

    The line is decoded whole, so only JSON is ever taken for a chunk. None
    sends the line through ``_take_text``, which names what is wrong with it or
    ends the stream.
    """
    try:
        item = _loads(line)
        if not item["done"]:
            text = item["message"]["content"]
            if type(text) is str:
                return text
    except Exception:
        return None
    return None


def _plain_text(lines: list[bytes]) -> tuple[str, int] | None:
    """The hot path: the joined text of lines that are all ordinary chunks, and their count.

    One decode per line and nothing kept alive but the text (holding every
    decoded object of a read costs more than the decoding, in allocator and
    garbage-collector work). Returns None when any line is not an ordinary
    chunk (the final line, an error line, anything odd): ``_take_text`` then
    goes through that read line by line.
    """
    try:
        texts = [
            item["message"]["content"]
            for line in lines
            if line and not (item := _loads(line))["done"]
        ]
        if len(texts) != len(lines) - lines.count(b""):
            return None
        return "".join(texts), len(texts) - texts.count("")
    except Exception:
        return None


def _take_text(objects: list[JsonObject]) -> tuple[str, int, JsonObject | None]:
    """One read's text joined, how many pieces it had, and the line that ends the stream.

    That last line is the ``done`` line or an ``error`` line; the text is what
    came before it. Raises ``BackendError`` for a line not shaped like Ollama's.
    """
    texts: list[str] = []
    try:
        for item in objects:
            message = item.get("message")
            if message is not None:
                content = message.get("content")
                if content:
                    texts.append(content)
            if "error" in item or item.get("done"):
                return "".join(texts), len(texts), item
        return "".join(texts), len(texts), None
    except (AttributeError, TypeError):
        raise BackendError(
            f"a line from Ollama is not shaped like a chat chunk: {str(objects)[:200]}",
            "check that OLLAMA_HOST points at an Ollama server",
        ) from None


async def _error_text(response: aiohttp.ClientResponse) -> str:
    """Ollama's ``error`` field of a failed response, or the start of its body; safe to show.

    A redirect's body is not read: its note says what it was.
    """
    if 300 <= response.status < 400:
        return _redirect_note(response)
    raw = await response.content.read(_ERROR_BODY_LIMIT)
    return _error_body_text(raw, response.reason or "")


def _error_body_text(raw: bytes, reason: str) -> str:
    """Ollama's ``error`` field of a failed response's body, or the body's start; safe to show."""
    with contextlib.suppress(orjson.JSONDecodeError):
        decoded = orjson.loads(raw)
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
            return capped(str(decoded["error"]))
    return capped(raw.decode("utf-8", "replace").strip() or reason or "no details")


def _redirect_note(response: aiohttp.ClientResponse) -> str:
    """`` (a redirect to X, not followed)`` for a 3xx response, else ``""``."""
    if not 300 <= response.status < 400:
        return ""
    target = capped(response.headers.get("Location", "nowhere"), 200)
    return f" (a redirect to {target}, which aiway does not follow)"


def _hint_for(status: int) -> str:
    if 300 <= status < 400:
        return (
            "point OLLAMA_HOST at the Ollama server itself: aiway never follows a redirect, "
            "which would send the conversation to another address"
        )
    return _NOT_OLLAMA_HINT


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or None (and the connection dropped) as soon as it passes ``limit``."""
    length = response.content_length
    if length is None or length <= limit:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_READ_SLICE):
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
        else:
            return b"".join(chunks)
    response.close()
    return None


def _describe_size(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


def _model_names(document: Any) -> list[str]:
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, list):
        return []
    return [
        capped(str(entry["name"]), 200)
        for entry in models
        if isinstance(entry, dict) and "name" in entry
    ]


def _model_details(document: Any) -> list[ModelInfo]:
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, list):
        return []
    details: list[ModelInfo] = []
    for entry in models:
        if not isinstance(entry, dict) or "name" not in entry:
            continue
        size = entry.get("size")
        modified = entry.get("modified_at")
        details.append(
            ModelInfo(
                capped(str(entry["name"]), _STATUS_LIMIT),
                size if isinstance(size, int) and size >= 0 else 0,
                capped(modified, 64) if isinstance(modified, str) else "",
            )
        )
    return details


def _pull_update(item: JsonObject) -> PullUpdate:
    """One decoded ``/api/pull`` line as a ``PullUpdate``; odd fields read as absent."""
    status = item.get("status")
    digest = item.get("digest")
    total = item.get("total")
    completed = item.get("completed")
    return PullUpdate(
        capped(status, _STATUS_LIMIT) if isinstance(status, str) else "",
        capped(digest, 100) if isinstance(digest, str) else "",
        total if isinstance(total, int) and total > 0 else 0,
        completed if isinstance(completed, int) and completed > 0 else 0,
    )


def _metadata(
    final: JsonObject | None,
    model: str,
    started: float,
    first_text_at: float | None,
    pieces: int,
) -> ResponseMetadata:
    elapsed = time.perf_counter() - started
    final = final or {}
    eval_count = final.get("eval_count")
    eval_duration = final.get("eval_duration")
    prompt_tokens = final.get("prompt_eval_count")
    done_reason = final.get("done_reason")
    tokens = eval_count if isinstance(eval_count, int) else pieces
    if isinstance(eval_count, int) and isinstance(eval_duration, int | float) and eval_duration > 0:
        rate = eval_count / eval_duration * 1e9
    else:
        rate = tokens / elapsed if elapsed > 0 else 0.0
    log.debug(
        "answer from %s: %d tokens, %.1f tok/s, total_duration=%s load_duration=%s",
        model,
        tokens,
        rate,
        final.get("total_duration"),
        final.get("load_duration"),
    )
    return ResponseMetadata(
        model=model,
        backend="ollama",
        elapsed_ms=elapsed * 1000.0,
        ttft_ms=None if first_text_at is None else (first_text_at - started) * 1000.0,
        tokens=tokens,
        tokens_per_second=rate,
        prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
        done_reason=done_reason if isinstance(done_reason, str) else None,
    )

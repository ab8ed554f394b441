"""OllamaBackend.stream's own reader against servers on loopback: the fake Ollama server,
and raw servers that write exactly the bytes a test needs (HTTP framing cut anywhere,
hostile heads and chunks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
import pytest_asyncio

from aiway.actors.backends.base import BackendError
from aiway.actors.backends.ollama import OllamaBackend, _chunk_text
from aiway.actors.protocol.stream import ChatTurn
from tests.fakes import FakeConfig, FakeOllama, Raw, Stall
from tests.fakes.ollama_script import final_line, token_line

MODEL = "smollm2:135m"
PROMPT = (ChatTurn("user", "Hello there"),)


class Collector:
    """An ``on_text`` that records every call."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, text: str) -> None:
        self.texts.append(text)

    @property
    def joined(self) -> str:
        return "".join(self.texts)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as server:
        yield server


Writer = Callable[[asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A loopback server that reads one request head, then runs ``write`` on the connection."""

    def __init__(self, write: Writer) -> None:
        self._write = write
        self._server: asyncio.Server | None = None
        self.closed = asyncio.Event()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await self._write(writer)
            await reader.read()  # until the client closes
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


def chunked(*pieces: bytes) -> bytes:
    """``pieces`` as HTTP chunks, then the last chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
)
LINES = [token_line(MODEL, piece) for piece in ("Hel", "lo", " w\u00f6rld", " \U0001f98e")]
FINAL = final_line(FakeConfig(), MODEL, 4, 3, 10)


async def stream(where: str, on_text: Collector | None = None, **options: object) -> str:
    backend = OllamaBackend(where, idle_timeout=5.0, **options)  # type: ignore[arg-type]
    collector = on_text or Collector()
    try:
        await backend.stream(MODEL, PROMPT, collector)
    finally:
        await backend.close()
    return collector.joined


# -- the fast path's bug ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_line_with_a_non_json_start_is_not_taken_for_a_chunk(fake: FakeOllama) -> None:
    # Alone in its read (nothing follows it), ends like a chunk, and its content is a
    # valid JSON string: only decoding the whole line tells that it is not JSON.
    fake.configure(script=(Raw(b'{oops "content":"sneaky"},"done":false}\n'), Stall(None)))

    with pytest.raises(BackendError, match=r"line 1 is not valid JSON"):
        await stream(fake.url)


# -- HTTP framing ----------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64])
@pytest.mark.asyncio
async def test_a_response_cut_into_any_reads_gives_the_same_text(step: int) -> None:
    whole = HEAD + chunked(*LINES, FINAL)

    async def write(writer: asyncio.StreamWriter) -> None:
        for offset in range(0, len(whole), step):
            writer.write(whole[offset : offset + step])
            await writer.drain()
            await asyncio.sleep(0)

    async with RawServer(write) as where:
        assert await stream(where) == "Hello w\u00f6rld \U0001f98e"


@pytest.mark.asyncio
async def test_reads_large_then_small_then_large_again_give_the_same_text() -> None:
    # The reader offers small reads until one fills them, then large ones: every size
    # of read, and a line cut across the change, must come out the same.
    many = [token_line(MODEL, f" {index}") for index in range(5000)]  # about 500 KiB
    big = token_line(MODEL, "x" * 1000)

    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD + b"".join(b"%x\r\n%s\r\n" % (len(line), line) for line in many))
        await writer.drain()
        for line in (*LINES, big, *LINES):
            writer.write(b"%x\r\n%s\r\n" % (len(line), line))
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(chunked(b"".join(many), FINAL))
        await writer.drain()

    expected = "".join(f" {index}" for index in range(5000))
    words = "Hello w\u00f6rld \U0001f98e"
    async with RawServer(write) as where:
        assert await stream(where) == expected + words + "x" * 1000 + words + expected


@pytest.mark.asyncio
async def test_a_body_framed_by_content_length_or_by_the_close_reads_whole() -> None:
    body = b"".join(LINES) + FINAL
    for head in (
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body),
        b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n",
    ):

        async def write(writer: asyncio.StreamWriter, head: bytes = head) -> None:
            writer.write(head + body)
            await writer.drain()
            writer.close()

        async with RawServer(write) as where:
            assert await stream(where) == "Hello w\u00f6rld \U0001f98e"


@pytest.mark.parametrize(
    ("response", "says"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP/1.1 response"),
        (b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 70_000, "head longer than 64 KiB"),
        (HEAD + b"zz\r\n", "not hexadecimal"),
        (HEAD + b"3\r\nabcXY", "not followed by CRLF"),
        (HEAD + b"1" * 2000, "chunk-size line longer than"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
            "compressed with 'gzip'",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "transfer coding"),
        (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "malformed header"),
        (HEAD + b"0\r\n" + b"X-T: a\r\n" * 2000, "trailers longer than 8192 bytes"),
        (HEAD + b"0\r\nX-T: " + b"a" * 10_000, "trailer line longer than 8192 bytes"),
    ],
    ids=[
        "not-http",
        "huge-head",
        "bad-size",
        "no-crlf",
        "endless-size",
        "gzip",
        "te",
        "header",
        "many-trailers",
        "endless-trailer",
    ],
)
@pytest.mark.asyncio
async def test_a_broken_response_is_refused_saying_what_broke(response: bytes, says: str) -> None:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(response)
        await writer.drain()

    async with RawServer(write) as where:
        with pytest.raises(BackendError, match=says) as caught:
            await stream(where)

    assert "bad answer from Ollama" in str(caught.value)


@pytest.mark.asyncio
async def test_an_endless_line_inside_endless_chunks_stops_at_the_line_cap() -> None:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD)
        while True:  # until the client hangs up
            writer.write(b"1000\r\n" + b"x" * 0x1000 + b"\r\n")
            await writer.drain()

    server = RawServer(write)
    async with server as where:
        with pytest.raises(BackendError, match=r"line 1 is longer than the limit of 64 KiB"):
            await stream(where, max_line_bytes=64 * 1024)
        async with asyncio.timeout(5):
            await server.closed.wait()


@pytest.mark.asyncio
async def test_an_error_status_reads_at_most_the_cap_of_its_body() -> None:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"5\r\nboom!\r\n")
        while True:  # an endless body: only its first 64 KiB are read
            writer.write(b"1000\r\n" + b"." * 0x1000 + b"\r\n")
            await writer.drain()

    server = RawServer(write)
    async with server as where:
        with pytest.raises(BackendError, match=r"HTTP 500: boom!\.\.\.") as caught:
            await stream(where)
        async with asyncio.timeout(5):
            await server.closed.wait()

    # 64 KiB were read, and what is shown of them is cut short.
    shown = str(caught.value).partition("boom!")[2]
    kept, _, rest = shown.partition("… (")
    assert len(kept) + int(rest.split()[0]) == 64 * 1024 - len("boom!")
    assert len(shown) < 2000


@pytest.mark.asyncio
async def test_an_interim_response_is_skipped() -> None:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + HEAD + chunked(*LINES, FINAL))
        await writer.drain()

    async with RawServer(write) as where:
        assert await stream(where) == "Hello w\u00f6rld \U0001f98e"


@pytest.mark.asyncio
async def test_the_request_is_a_post_to_the_hosts_path_with_its_json_body() -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        seen.append(head + await reader.readexactly(length))
        writer.write(HEAD + chunked(*LINES, FINAL))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await stream(f"http://127.0.0.1:{port}/behind/a/proxy/")
    finally:
        server.close()
        await server.wait_closed()

    head, _, body = seen[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /behind/a/proxy/api/chat HTTP/1.1\r\n")
    assert f"\r\nHost: 127.0.0.1:{port}\r\n".encode() in head
    assert orjson.loads(body) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello there"}],
        "stream": True,
    }


# -- handing text on -------------------------------------------------------------------


class Gate:
    """An ``on_text`` that waits for ``open`` before taking each text after the first."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.open = asyncio.Event()
        self.waiting = asyncio.Event()
        self.task: asyncio.Task[object] | None = None

    async def __call__(self, text: str) -> None:
        self.task = asyncio.current_task()
        if self.texts:
            self.waiting.set()
            await self.open.wait()
        self.texts.append(text)


@pytest.mark.asyncio
async def test_a_waiting_on_text_pauses_reading_and_the_text_goes_on_in_order(
    fake: FakeOllama,
) -> None:
    fake.configure(tokens=200, rate=2000.0)
    backend = OllamaBackend(fake.url, idle_timeout=5.0)
    gate = Gate()
    try:
        streaming = asyncio.create_task(backend.stream(MODEL, PROMPT, gate))
        async with asyncio.timeout(5):
            await gate.waiting.wait()
        # on_text runs as the caller's task, in the transport's callback or in the task.
        assert gate.task is streaming
        gate.open.set()
        metadata = await streaming
    finally:
        await backend.close()

    assert "".join(gate.texts) == "".join(f" tok{i}" for i in range(1, 201))
    assert metadata.tokens == 200


@pytest.mark.asyncio
async def test_cancelling_while_on_text_waits_closes_the_connection(fake: FakeOllama) -> None:
    fake.configure(tokens=10_000, rate=2000.0)
    backend = OllamaBackend(fake.url, idle_timeout=5.0)
    gate = Gate()
    try:
        streaming = asyncio.create_task(backend.stream(MODEL, PROMPT, gate))
        async with asyncio.timeout(5):
            await gate.waiting.wait()
        streaming.cancel()
        with pytest.raises(asyncio.CancelledError):
            await streaming
        await fake.wait_for_disconnects(1)
    finally:
        await backend.close()


@pytest.mark.asyncio
async def test_what_on_text_raises_is_what_stream_raises(fake: FakeOllama) -> None:
    fake.configure(script=("one", Stall(0.01), "two", Stall(None)))

    async def refuse(text: str) -> None:
        if text == "two":
            raise LookupError("no room for two")

    backend = OllamaBackend(fake.url, idle_timeout=5.0)
    try:
        with pytest.raises(LookupError, match="no room for two"):
            await backend.stream(MODEL, PROMPT, refuse)
        await fake.wait_for_disconnects(1)
    finally:
        await backend.close()


@pytest.mark.asyncio
async def test_the_server_sees_the_whole_answer_taken(fake: FakeOllama) -> None:
    for _ in range(3):
        assert await stream(fake.url) == "Hello from the fake server."

    await fake.wait_until(lambda: fake.streams_finished == 3)
    assert fake.disconnects == 0


# -- the one-line read's shortcut ------------------------------------------------------


def chunk_text(line: bytes) -> str | None:
    return _chunk_text(line, memoryview(line), 0, len(line))


def test_an_ordinary_chunk_line_has_only_its_content_decoded() -> None:
    for text in (" tok1", "", 'quote " and \\ and \n', "\u0085 \U0001f98e"):
        assert chunk_text(token_line(MODEL, text)) == text


@pytest.mark.parametrize(
    "line",
    [
        b'{oops "content":"sneaky"},"done":false}\n',
        b'{"model":"m","created_at":"t\x01","message":{"role":"assistant","content":"x"},'
        b'"done":false}\n',
        b'{"model":"m\\u0041","created_at":"t","message":{"role":"assistant","content":"x"},'
        b'"done":false}\n',
        b'{"model":"m\xff","created_at":"t","message":{"role":"assistant","content":"x"},'
        b'"done":false}\n',
        b'{"model":"m","created_at":"t","message":{"role":"assistant","content":"x","y":"z"},'
        b'"done":false}\n',
        b'{"model":"m","created_at":"t","message":{"role":"assistant","content":"x"},'
        b'"done":true}\n',
        b'{"model":"m","created_at":"t","message":{"role":"user","content":"x"},"done":false}\n',
        b'{"model":"m","created_at":"t","message":{"role":"assistant","content":"a\tb"},'
        b'"done":false}\n',
        b'{"model":"m","created_at":"t","message":{"role":"assistant","content":"a\xc3("},'
        b'"done":false}\n',
    ],
    ids=[
        "non-json-start",
        "control-byte",
        "escape",
        "not-ascii",
        "two-fields",
        "done",
        "user",
        "content-control",
        "content-not-utf8",
    ],
)
def test_a_line_not_exactly_an_ordinary_chunk_is_left_to_the_whole_decode(line: bytes) -> None:
    assert chunk_text(line) is None

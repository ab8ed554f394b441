"""The chat stream's own reader over HTTPS: the fake Ollama server behind TLS on loopback.

The certificate is made for the test run with the ``openssl`` command (a
self-signed one for ``IP:127.0.0.1``, thrown away with the temporary
directory). aiway has no setting of its own for a CA bundle: a private CA is
trusted through ``SSL_CERT_FILE``, which Python's default context (the one the
chat reader connects with) honours, so the trusted case sets it and the
untrusted case clears it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from aiway.actors.backends.base import BackendError
from aiway.actors.backends.ollama import OllamaBackend
from aiway.actors.protocol.stream import ChatTurn
from tests.fakes import Drop, FakeOllama, Stall
from tests.fakes.ollama_script import script_text
from tests.waiting import wait_until

MODEL = "smollm2:135m"
PROMPT = (ChatTurn("user", "Hello there"),)
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
#: the most any one of these tests may take before it counts as a hang
HANG = 20.0

pytestmark = pytest.mark.skipif(not Path(OPENSSL).exists(), reason="needs the openssl command")


class Collector:
    """An ``on_text`` that records every call."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, text: str) -> None:
        self.texts.append(text)

    @property
    def joined(self) -> str:
        return "".join(self.texts)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=aiway test server", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The certificate, trusted the way a user trusts a private CA: ``SSL_CERT_FILE``."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    yield certificate[0]


@pytest.fixture
def untrusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the system's CAs: the test's certificate is not among them."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest_asyncio.fixture
async def server(certificate: tuple[Path, Path]) -> AsyncIterator[FakeOllama]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    async with FakeOllama(ssl_context=context) as fake:
        yield fake


@pytest_asyncio.fixture
async def backend(server: FakeOllama) -> AsyncIterator[OllamaBackend]:
    ollama = OllamaBackend(server.url, idle_timeout=10.0, connect_timeout=10.0)
    yield ollama
    await ollama.close()


@pytest.mark.asyncio
@pytest.mark.usefixtures("trusted")
async def test_a_trusted_https_server_streams_the_whole_answer(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    assert server.url.startswith("https://127.0.0.1:")
    on_text = Collector()

    async with asyncio.timeout(HANG):
        metadata = await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == "Hello from the fake server."
    assert metadata.tokens == 6
    assert metadata.done_reason == "stop"
    assert server.streams_finished == 1
    assert server.chat_bodies[0]["messages"] == [{"role": "user", "content": "Hello there"}]

    # The backend's TLS context is kept: the next answer connects with it as well.
    again = Collector()
    async with asyncio.timeout(HANG):
        await backend.stream(MODEL, PROMPT, again)
    assert again.joined == "Hello from the fake server."
    assert server.streams_finished == 2


@pytest.mark.asyncio
@pytest.mark.usefixtures("trusted")
async def test_a_long_answer_over_https_arrives_whole_through_large_reads(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    # Written as fast as it goes: TLS records of many lines, reads past the small window.
    server.configure(tokens=5000)
    on_text = Collector()

    async with asyncio.timeout(HANG):
        metadata = await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == script_text(server.config)[0]
    assert metadata.tokens == 5000
    assert len(on_text.texts) < 5000  # lines of one read are handed on together


@pytest.mark.asyncio
@pytest.mark.usefixtures("untrusted")
async def test_an_untrusted_certificate_is_a_backend_error_naming_it(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    on_text = Collector()

    async with asyncio.timeout(HANG):
        with pytest.raises(BackendError) as caught:
            await backend.stream(MODEL, PROMPT, on_text)

    message = caught.value.describe()
    assert "certificate" in message
    assert "self-signed" in message or "self signed" in message
    assert server.url.partition("://")[2] in message
    assert "SSL_CERT_FILE" in message  # what to do about it
    assert "Traceback" not in message
    assert on_text.texts == []
    assert server.chat_bodies == []  # the conversation was not sent


@pytest.mark.asyncio
@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("abort", [True, False], ids=["abort", "clean-close"])
async def test_a_server_that_closes_mid_tls_stream_is_a_clear_error(
    server: FakeOllama, backend: OllamaBackend, abort: bool
) -> None:
    server.configure(script=("Hel", "lo", Drop(abort=abort)))
    on_text = Collector()

    async with asyncio.timeout(HANG):
        with pytest.raises(BackendError, match="ended before the model finished"):
            await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == "Hello"


@pytest.mark.asyncio
@pytest.mark.usefixtures("trusted")
async def test_cancelling_a_tls_stream_closes_it_and_the_server_sees_it(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("Hel", Stall(None)))
    on_text = Collector()
    task = asyncio.create_task(backend.stream(MODEL, PROMPT, on_text))
    await server.wait_for_streams(1, timeout=HANG)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    await server.wait_for_disconnects(1, timeout=HANG)


@pytest.mark.asyncio
@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("tokens", [6, 20000])
async def test_backpressure_over_tls_loses_nothing_when_the_server_finishes_meanwhile(
    server: FakeOllama, backend: OllamaBackend, tokens: int
) -> None:
    # The first text waits (a full mailbox) until the server has written everything it
    # could; the rest (and for a short answer the TLS close and the end of the
    # connection) arrives while reading is paused.
    server.configure(tokens=tokens)
    released = asyncio.Event()
    texts: list[str] = []

    async def on_text(text: str) -> None:
        texts.append(text)
        if len(texts) == 1:
            await released.wait()

    task = asyncio.create_task(backend.stream(MODEL, PROMPT, on_text))
    if tokens < 100:
        await server.wait_until(lambda: server.streams_finished == 1, timeout=HANG)
    else:  # about 2 MB, more than loopback sockets usually hold: pushed back mid-answer
        await server.wait_for_streams(1, timeout=HANG)
        await wait_until(lambda: len(texts) == 1, HANG, "the first text")
    released.set()
    async with asyncio.timeout(HANG):
        metadata = await task

    assert "".join(texts) == script_text(server.config)[0]
    assert metadata.tokens == tokens
    assert server.streams_finished == 1


async def failure(url: str) -> BackendError:
    """The error a stream to ``url`` ends with, within ``HANG`` (never a hang)."""
    backend = OllamaBackend(url, connect_timeout=10.0)
    try:
        async with asyncio.timeout(HANG):
            with pytest.raises(BackendError) as caught:
                await backend.stream(MODEL, PROMPT, Collector())
    finally:
        await backend.close()
    return caught.value


@pytest.mark.asyncio
async def test_https_to_a_plain_http_server_is_a_tls_error_not_a_hang() -> None:
    async with FakeOllama() as plain:
        error = await failure(plain.url.replace("http://", "https://"))

    message = error.describe()
    assert message.startswith(f"TLS with Ollama at 127.0.0.1:{plain.port} failed: ")
    assert "http://" in message  # the hint
    assert plain.chat_bodies == []


@pytest.mark.asyncio
async def test_a_server_that_closes_during_the_handshake_is_named_as_such() -> None:
    accepted = asyncio.Event()

    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        writer.close()

    listener = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        error = await failure(f"https://127.0.0.1:{port}")
    finally:
        listener.close()
        await listener.wait_closed()

    assert accepted.is_set()
    assert error.describe().startswith(
        f"the server at 127.0.0.1:{port} closed the connection during the TLS handshake"
    )


@pytest.mark.asyncio
@pytest.mark.usefixtures("trusted")
async def test_every_request_over_https_trusts_what_the_chat_trusts(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    # The listings go through aiohttp, whose own default context was made at import
    # (before the test set SSL_CERT_FILE): the backend gives it the chat's.
    assert await backend.health()
    assert await backend.list_models() == list(server.config.models)
    with pytest.raises(BackendError, match=re.escape("installed: smollm2:135m, llama3.2:1b")):
        await backend.stream("absent:1b", PROMPT, Collector())

"""The real OllamaBackend against the fake Ollama server over loopback."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.backends.base import BackendError
from aiway.actors.backends.ollama import OllamaBackend, parse_ollama_host
from aiway.actors.protocol.stream import ChatTurn
from tests.fakes import Drop, ErrorLine, FakeOllama, FakeOllamaProcess, HugeLine, Raw, Split, Stall
from tests.fakes.ollama_script import final_line, token_line

MODEL = "smollm2:135m"
PROMPT = (ChatTurn("system", "You are Yollayah."), ChatTurn("user", "Hello there"))


class Collector:
    """An ``on_text`` that records every call and signals the first one."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.first = asyncio.Event()

    async def __call__(self, text: str) -> None:
        self.texts.append(text)
        self.first.set()

    @property
    def joined(self) -> str:
        return "".join(self.texts)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        yield fake


@pytest_asyncio.fixture
async def backend(server: FakeOllama) -> AsyncIterator[OllamaBackend]:
    ollama = OllamaBackend(server.url, idle_timeout=5.0)
    yield ollama
    await ollama.close()


def free_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.asyncio
async def test_happy_stream_delivers_the_text_and_the_models_figures(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(eval_duration_ns=2_000_000_000, prompt_eval_count=31)
    on_text = Collector()

    metadata = await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == "Hello from the fake server."
    assert metadata.model == MODEL
    assert metadata.backend == "ollama"
    assert metadata.tokens == 6
    assert metadata.tokens_per_second == pytest.approx(3.0)
    assert metadata.prompt_tokens == 31
    assert metadata.done_reason == "stop"
    assert metadata.ttft_ms is not None
    assert 0 <= metadata.ttft_ms <= metadata.elapsed_ms


@pytest.mark.asyncio
async def test_request_carries_model_messages_stream_options_and_keep_alive(
    server: FakeOllama,
) -> None:
    ollama = OllamaBackend(
        server.url, options={"temperature": 0.2, "num_ctx": 4096}, keep_alive="5m"
    )
    try:
        await ollama.stream(MODEL, PROMPT, Collector())
    finally:
        await ollama.close()

    assert server.chat_bodies == [
        {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are Yollayah."},
                {"role": "user", "content": "Hello there"},
            ],
            "stream": True,
            "options": {"temperature": 0.2, "num_ctx": 4096},
            "keep_alive": "5m",
        }
    ]


@pytest.mark.asyncio
async def test_all_complete_lines_of_one_network_read_arrive_in_one_call(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    three_lines = b"".join(token_line(MODEL, piece) for piece in ("one", "", " two", " three"))
    server.configure(script=(Raw(three_lines),))
    on_text = Collector()

    await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.texts == ["one two three"]


@pytest.mark.asyncio
async def test_a_multibyte_character_split_across_writes_arrives_whole(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("Yolla", Split(" ¡olé 🦎!"), Split("\u0085 next")))
    on_text = Collector()

    metadata = await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == "Yolla ¡olé 🦎!\u0085 next"
    assert metadata.tokens == 3


@pytest.mark.asyncio
async def test_token_count_falls_back_to_pieces_when_the_model_reports_none(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    bare_done = orjson.dumps({"model": MODEL, "done": True}) + b"\n"
    server.configure(script=("a", "b", "", "c", Raw(bare_done)))

    metadata = await backend.stream(MODEL, PROMPT, Collector())

    assert metadata.tokens == 3
    assert metadata.prompt_tokens is None
    assert metadata.done_reason is None
    assert metadata.tokens_per_second > 0


@pytest.mark.asyncio
async def test_blank_and_whitespace_lines_mid_stream_are_skipped(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("a", Raw(b"\n  \r\n"), "b", Raw(b"\n"), "c"))
    on_text = Collector()

    metadata = await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == "abc"
    assert metadata.tokens == 3


@pytest.mark.asyncio
async def test_a_line_not_shaped_like_a_chat_chunk_raises(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("a", Raw(b'{"message": "flat", "done": false}\n')))

    with pytest.raises(BackendError, match="not shaped like a chat chunk"):
        await backend.stream(MODEL, PROMPT, Collector())


@pytest.mark.asyncio
async def test_an_error_line_mid_stream_raises_after_the_text_before_it(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("partial", ErrorLine("out of memory")))
    on_text = Collector()

    with pytest.raises(BackendError, match="out of memory"):
        await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == "partial"


@pytest.mark.asyncio
async def test_a_stall_past_the_idle_timeout_raises_no_data_error(server: FakeOllama) -> None:
    server.configure(script=("waiting", Stall(None)))
    ollama = OllamaBackend(server.url, idle_timeout=0.2)
    try:
        with pytest.raises(BackendError, match=r"no data from the model for 0\.2s"):
            await ollama.stream(MODEL, PROMPT, Collector())
    finally:
        await ollama.close()


@pytest.mark.asyncio
async def test_a_short_stall_within_the_idle_timeout_is_fine(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("a", Stall(0.05), "b"))
    on_text = Collector()

    await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == "ab"


@pytest.mark.parametrize("abort", [True, False], ids=["reset", "clean-end"])
@pytest.mark.asyncio
async def test_a_stream_dropped_before_done_raises_ended_early(
    server: FakeOllama, backend: OllamaBackend, abort: bool
) -> None:
    server.configure(script=("so far", Drop(abort=abort)))

    with pytest.raises(BackendError, match="the stream ended before the model finished"):
        await backend.stream(MODEL, PROMPT, Collector())


@pytest.mark.asyncio
async def test_a_line_over_the_limit_raises_naming_the_limit(server: FakeOllama) -> None:
    server.configure(script=("ok", HugeLine(5000)))
    ollama = OllamaBackend(server.url, max_line_bytes=4096)
    try:
        with pytest.raises(BackendError, match=r"line 2 is longer than the limit of 4 KiB"):
            await ollama.stream(MODEL, PROMPT, Collector())
    finally:
        await ollama.close()


@pytest.mark.asyncio
async def test_a_malformed_line_raises_naming_its_line_number(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("a", "b", Raw(b"{oops\n")))

    with pytest.raises(BackendError, match=r"line 3 is not valid JSON"):
        await backend.stream(MODEL, PROMPT, Collector())


@pytest.mark.asyncio
async def test_unknown_model_lists_the_installed_ones_and_hints_pull(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(models=("smollm2:135m", "qwen2.5:0.5b"))

    with pytest.raises(BackendError) as caught:
        await backend.stream("llama9", PROMPT, Collector())

    assert str(caught.value) == "model 'llama9' not found; installed: smollm2:135m, qwen2.5:0.5b"
    assert "ollama pull llama9" in caught.value.hint


@pytest.mark.asyncio
async def test_another_http_error_reports_status_and_ollamas_text(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    with pytest.raises(BackendError, match=r"HTTP 400: model is required"):
        await backend.stream("", PROMPT, Collector())


@pytest.mark.asyncio
async def test_refused_connection_names_the_address_and_hints_ollama_serve() -> None:
    port = free_port()
    ollama = OllamaBackend(f"127.0.0.1:{port}")
    try:
        with pytest.raises(BackendError) as caught:
            await ollama.stream(MODEL, PROMPT, Collector())
    finally:
        await ollama.close()

    assert str(caught.value) == f"no Ollama server at 127.0.0.1:{port}"
    assert "ollama serve" in caught.value.hint
    assert "OLLAMA_HOST" in caught.value.hint


@pytest.mark.asyncio
async def test_cancelling_the_caller_closes_the_response_and_the_next_stream_works(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("thinking", Stall(None)))
    on_text = Collector()
    streaming = asyncio.create_task(backend.stream(MODEL, PROMPT, on_text))
    async with asyncio.timeout(5):
        await on_text.first.wait()

    streaming.cancel()

    with pytest.raises(asyncio.CancelledError):
        await streaming
    await server.wait_for_disconnects(1)
    assert server.streams_finished == 0
    # the backend streams again after a cancelled stream
    server.configure(script=("again",))
    on_text = Collector()
    await backend.stream(MODEL, PROMPT, on_text)
    assert on_text.joined == "again"


@pytest.mark.asyncio
async def test_tokens_per_second_follows_the_models_figures_at_a_paced_rate(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(tokens=10, rate=500.0)
    on_text = Collector()

    metadata = await backend.stream(MODEL, PROMPT, on_text)

    assert on_text.joined == "".join(f" tok{i}" for i in range(1, 11))
    assert metadata.tokens == 10
    assert metadata.tokens_per_second == pytest.approx(500.0)


@pytest.mark.asyncio
async def test_health_is_true_for_a_live_server(backend: OllamaBackend) -> None:
    assert await backend.health(timeout=2.0) is True


@pytest.mark.asyncio
async def test_health_is_false_when_nothing_listens() -> None:
    ollama = OllamaBackend(f"127.0.0.1:{free_port()}")
    try:
        assert await ollama.health(timeout=2.0) is False
    finally:
        await ollama.close()


@pytest.mark.asyncio
async def test_list_models_and_loaded_models_read_tags_and_ps(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(models=("a:1b", "b:latest"), loaded=("a:1b",))

    assert await backend.list_models() == ["a:1b", "b:latest"]
    assert await backend.loaded_models() == ["a:1b"]


@pytest.mark.asyncio
async def test_list_models_without_a_server_raises_backend_error() -> None:
    ollama = OllamaBackend(f"127.0.0.1:{free_port()}")
    try:
        with pytest.raises(BackendError, match="no Ollama server at"):
            await ollama.list_models()
    finally:
        await ollama.close()


@pytest.mark.asyncio
async def test_fake_server_answers_stream_false_with_one_document(server: FakeOllama) -> None:
    server.configure(script=("whole", " answer"))

    async with (
        aiohttp.ClientSession() as session,
        session.post(server.url + "/api/chat", json={"model": MODEL, "stream": False}) as reply,
    ):
        document = await reply.json()

    assert document["message"]["content"] == "whole answer"
    assert document["done"] is True
    assert document["eval_count"] == 2


@pytest.mark.asyncio
async def test_fake_server_process_serves_and_stops_cleanly_on_sigterm() -> None:
    process = FakeOllamaProcess("--script", '["from a process", {"stall": null}]')
    await asyncio.to_thread(process.start)
    ollama = OllamaBackend(process.url)
    on_text = Collector()
    try:
        streaming = asyncio.create_task(ollama.stream(MODEL, PROMPT, on_text))
        async with asyncio.timeout(10):
            await on_text.first.wait()

        exit_code = await asyncio.to_thread(process.stop)

        with pytest.raises(BackendError, match="ended before the model finished"):
            await streaming
    finally:
        await asyncio.to_thread(process.stop)
        await ollama.close()
    assert exit_code == 0
    assert on_text.joined == "from a process"


def test_final_line_reports_realistic_figures() -> None:
    from tests.fakes import FakeConfig

    document = orjson.loads(final_line(FakeConfig(), MODEL, 7, 12, 3_500_000))

    assert document["done"] is True
    assert document["eval_count"] == 7
    assert document["eval_duration"] == 3_500_000
    assert document["prompt_eval_count"] == 12
    assert document["total_duration"] > document["load_duration"] > 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("  ", "http://127.0.0.1:11434"),
        ("example.com", "http://example.com:11434"),
        ("example.com:8080", "http://example.com:8080"),
        ("http://example.com", "http://example.com:80"),
        ("https://example.com", "https://example.com:443"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("HTTP://10.0.0.2:9000", "http://10.0.0.2:9000"),
        (":56789", "http://127.0.0.1:56789"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:1234", "http://127.0.0.1:1234"),
        ("[::1]", "http://[::1]:11434"),
        ("[::1]:1234", "http://[::1]:1234"),
        ("[::]:1234", "http://[::1]:1234"),
        ("example.com/ollama/", "http://example.com:11434/ollama"),
    ],
)
def test_parse_ollama_host_accepts_ollamas_forms(value: str | None, expected: str) -> None:
    assert parse_ollama_host(value) == expected


@pytest.mark.parametrize("value", ["ftp://example.com", "host:abc", "host:70000", "host:0"])
def test_parse_ollama_host_rejects_a_bad_scheme_or_port(value: str) -> None:
    with pytest.raises(BackendError, match=r"OLLAMA_HOST .* (scheme|port)"):
        parse_ollama_host(value)


_hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)


@given(
    _hostnames,
    st.integers(min_value=1, max_value=65535),
    st.sampled_from(["", "http://", "https://"]),
)
def test_parse_ollama_host_keeps_host_and_port_and_is_idempotent(
    host: str, port: int, scheme: str
) -> None:
    parsed = parse_ollama_host(f"{scheme}{host}:{port}")

    assert parsed == f"{scheme or 'http://'}{host}:{port}"
    assert parse_ollama_host(parsed) == parsed


# -- hostile servers: each of these failed before the fix it guards --


@pytest.mark.asyncio
async def test_a_redirect_is_refused_and_the_conversation_goes_nowhere_else(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    async with FakeOllama() as elsewhere:
        server.configure(redirect_to=elsewhere.url)

        with pytest.raises(BackendError, match=r"answered HTTP 307 \(a redirect to http"):
            await backend.stream(MODEL, PROMPT, Collector())

        assert elsewhere.chat_bodies == []


@pytest.mark.parametrize("path", ["/api/tags", "/api/ps"])
@pytest.mark.asyncio
async def test_a_redirect_of_a_listing_is_refused_and_not_followed(
    server: FakeOllama, backend: OllamaBackend, path: str
) -> None:
    async with FakeOllama() as elsewhere:
        server.configure(redirect_to=elsewhere.url)
        listing = backend.list_models if path == "/api/tags" else backend.loaded_models

        with pytest.raises(BackendError, match="redirect"):
            await listing()
        healthy = await backend.health(timeout=2.0)

        assert healthy is False
        assert elsewhere.requests == []


@pytest.mark.parametrize("path", ["/api/tags", "/api/ps"])
@pytest.mark.asyncio
async def test_a_listing_body_past_the_cap_is_refused_in_bounded_memory(
    server: FakeOllama, path: str
) -> None:
    server.configure(padding=64 * 1024 * 1024, loaded=("a:1b",))
    ollama = OllamaBackend(server.url, max_body_bytes=1024 * 1024)
    listing = ollama.list_models if path == "/api/tags" else ollama.loaded_models
    tracemalloc.start()
    try:
        with pytest.raises(BackendError, match=rf"{path} with a body larger than 1 MiB"):
            await listing()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await ollama.close()

    assert peak < 8 * 1024 * 1024


@pytest.mark.asyncio
async def test_health_reads_no_more_than_the_cap(server: FakeOllama) -> None:
    server.configure(padding=64 * 1024 * 1024)
    ollama = OllamaBackend(server.url, max_body_bytes=1024 * 1024)
    try:
        assert await ollama.health(timeout=5.0) is False
    finally:
        await ollama.close()


@pytest.mark.asyncio
async def test_a_listing_within_the_cap_still_reads(server: FakeOllama) -> None:
    server.configure(padding=100_000, models=("a:1b",))
    ollama = OllamaBackend(server.url, max_body_bytes=1024 * 1024)
    try:
        assert await ollama.list_models() == ["a:1b"]
    finally:
        await ollama.close()


@pytest.mark.asyncio
async def test_an_answer_that_streams_past_the_total_timeout_is_cut_and_closed(
    server: FakeOllama,
) -> None:
    # Steady tokens never trip the idle timeout; only the total bounds them.
    server.configure(tokens=10_000, rate=50)
    ollama = OllamaBackend(server.url, idle_timeout=5.0, total_timeout=0.3)
    on_text = Collector()
    try:
        with pytest.raises(BackendError, match=r"longer than the total timeout of 0\.3s"):
            await ollama.stream(MODEL, PROMPT, on_text)
        await server.wait_for_disconnects(1)
    finally:
        await ollama.close()

    assert on_text.texts  # it streamed until the limit


@pytest.mark.asyncio
async def test_an_error_line_with_escape_sequences_reaches_no_one_with_them(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(script=("a", ErrorLine("boom \x1b]0;pwned\x07\x1b[2J\x1b]52;c;aGk=\x07 end")))

    with pytest.raises(BackendError) as caught:
        await backend.stream(MODEL, PROMPT, Collector())

    assert "\x1b" not in caught.value.describe()
    assert "boom" in str(caught.value) and "end" in str(caught.value)


@pytest.mark.asyncio
async def test_model_names_with_escape_sequences_are_stripped_in_listings_and_errors(
    server: FakeOllama, backend: OllamaBackend
) -> None:
    server.configure(models=("\x1b]0;pwned\x07evil:latest", "\x1b[2Jok:1b"))

    with pytest.raises(BackendError) as caught:
        await backend.stream("llama9", PROMPT, Collector())
    names = await backend.list_models()

    assert "\x1b" not in caught.value.describe() and "\x07" not in caught.value.describe()
    assert names == ["evil:latest", "ok:1b"]

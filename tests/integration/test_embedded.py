"""The embedded backend on the real model: streaming, metadata, cancel, a responsive loop.

These tests check the shape of answers (non-empty, streamed, figures filled),
never their wording: a 135M model's answers differ between builds. One loaded
backend is shared by the module (loading takes a fraction of a second, but it
adds up); the tests that are about loading make their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiway.actors.backends.base import BackendError
from aiway.actors.backends.embedded import EmbeddedBackend, locate_model
from aiway.actors.protocol.stream import ChatTurn

pytestmark = pytest.mark.embedded

# Greedy decoding of a request for something long: the answer runs to
# max_tokens, so there is always an answer in flight to cancel or to time.
STORY = (ChatTurn("user", "Tell me a long story about an axolotl who learns to swim."),)
MAX_TOKENS = 24

# Responsiveness bounds, not performance figures: a token takes tens of ms.
LOOP_LATENESS_BOUND_S = 0.1
CANCEL_BOUND_S = 2.0


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    # Synchronous on purpose: the backend belongs to no loop (the model lives in
    # its worker thread), so each test's own loop can use it.
    shared = EmbeddedBackend(max_tokens=MAX_TOKENS, temperature=0.0)
    yield shared
    asyncio.run(shared.close())


def test_locate_model_finds_the_packaged_gguf_file() -> None:
    path = locate_model()

    assert path.suffix == ".gguf"
    assert path.is_file()


@pytest.mark.asyncio
async def test_answer_streams_in_several_pieces_with_its_metadata(
    backend: EmbeddedBackend,
) -> None:
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    metadata = await backend.stream("any-model-name", STORY, collect)

    assert len(pieces) > 1
    assert all(pieces)
    assert "".join(pieces).strip()
    assert metadata.backend == "embedded"
    assert metadata.model == locate_model().stem
    assert metadata.tokens > 0
    assert metadata.tokens_per_second > 0
    assert metadata.prompt_tokens is not None and metadata.prompt_tokens > 0
    assert metadata.ttft_ms is not None
    assert metadata.elapsed_ms >= metadata.ttft_ms
    assert metadata.done_reason in ("stop", "length")
    assert not backend.busy


@pytest.mark.asyncio
async def test_cancel_mid_answer_stops_promptly_and_the_next_answer_works(
    backend: EmbeddedBackend,
) -> None:
    loop = asyncio.get_running_loop()
    first_piece = asyncio.Event()
    pieces_after_cancel: list[str] = []
    cancel_requested = False

    async def note(text: str) -> None:
        if cancel_requested:
            pieces_after_cancel.append(text)
        first_piece.set()

    async def ignore(text: str) -> None:
        pass

    answer = asyncio.create_task(backend.stream("m", STORY, note))
    await first_piece.wait()
    cancelled_at = loop.time()
    cancel_requested = answer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await answer
    cancel_took = loop.time() - cancelled_at

    assert cancel_requested
    assert answer.cancelled()
    assert cancel_took < CANCEL_BOUND_S
    assert not backend.busy
    assert pieces_after_cancel == []
    following = await backend.stream("m", STORY, ignore)
    assert following.tokens > 0
    assert following.done_reason in ("stop", "length")


@pytest.mark.asyncio
async def test_event_loop_keeps_firing_timers_while_the_model_generates(
    backend: EmbeddedBackend,
) -> None:
    loop = asyncio.get_running_loop()
    period = 0.01
    lateness: list[float] = []
    due = loop.time() + period
    timer: asyncio.TimerHandle | None = None

    def tick() -> None:
        nonlocal due, timer
        lateness.append(loop.time() - due)
        due = loop.time() + period
        timer = loop.call_later(period, tick)

    async def ignore(text: str) -> None:
        pass

    timer = loop.call_later(period, tick)
    try:
        metadata = await backend.stream("m", STORY, ignore)
    finally:
        timer.cancel()

    assert metadata.tokens > 0
    assert len(lateness) >= 3
    assert max(lateness) < LOOP_LATENESS_BOUND_S


@pytest.mark.asyncio
@pytest.mark.parametrize("content", [None, b"this is not a GGUF model\n"])
async def test_bad_model_path_raises_a_clear_backend_error(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "broken.gguf"
    if content is not None:
        path.write_bytes(content)
    broken = EmbeddedBackend(model_path=path)

    async def ignore(text: str) -> None:
        pass

    try:
        with pytest.raises(BackendError) as raised:
            await broken.stream("m", STORY, ignore)
    finally:
        await broken.close()

    assert str(path) in str(raised.value)
    assert raised.value.hint
    assert not broken.loaded


@pytest.mark.asyncio
async def test_too_long_conversation_raises_a_clear_error_and_the_next_answer_works() -> None:
    small = EmbeddedBackend(n_ctx=256, max_tokens=4, temperature=0.0)
    too_long = (ChatTurn("user", "axolotl " * 400),)

    async def ignore(text: str) -> None:
        pass

    try:
        with pytest.raises(BackendError) as raised:
            await small.stream("m", too_long, ignore)
        following = await small.stream("m", STORY, ignore)
    finally:
        await small.close()

    assert "context" in str(raised.value)
    assert raised.value.hint
    assert following.tokens > 0


@pytest.mark.asyncio
async def test_close_during_an_answer_ends_it_as_cancelled() -> None:
    closing = EmbeddedBackend(max_tokens=256, temperature=0.0)
    first_piece = asyncio.Event()

    async def note(text: str) -> None:
        first_piece.set()

    answer = asyncio.create_task(closing.stream("m", STORY, note))
    await first_piece.wait()
    await closing.close()
    metadata = await answer

    assert metadata.done_reason == "cancelled"
    assert 0 < metadata.tokens < 256
    assert not closing.busy
    assert not closing.loaded


@pytest.mark.asyncio
async def test_progress_notes_arrive_on_the_loop_thread_while_the_model_loads() -> None:
    notes: list[tuple[int, str]] = []
    fresh = EmbeddedBackend(on_progress=lambda note: notes.append((threading.get_ident(), note)))
    try:
        await fresh.load()
        loaded = fresh.loaded
    finally:
        await fresh.close()

    assert loaded
    assert len(notes) == 2
    assert {thread for thread, _ in notes} == {threading.get_ident()}
    assert locate_model().stem in notes[0][1]


@pytest.mark.asyncio
async def test_list_models_names_the_model_file_without_loading_it() -> None:
    fresh = EmbeddedBackend()
    try:
        names = await fresh.list_models()
        loaded = fresh.loaded
    finally:
        await fresh.close()

    assert names == [locate_model().stem]
    assert not loaded


def _site_without_llama_cpp(into: Path) -> Path:
    """A site directory holding everything of this environment's but llama-cpp-python."""
    import site
    import sysconfig

    packages = Path(sysconfig.get_paths()["purelib"])
    into.mkdir()
    for entry in packages.iterdir():
        if entry.name.startswith(("llama_cpp", "llama-cpp")):
            continue
        (into / entry.name).symlink_to(entry)
    assert site  # imported for its addsitedir in the child
    return into


def test_without_the_extra_or_a_server_one_message_names_both_ways(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.fakes.isolated import isolated_env

    packages = _site_without_llama_cpp(tmp_path / "site")
    launcher = (
        "import site, sys; site.addsitedir(sys.argv.pop(1)); "
        "from aiway.ui.cli import main; sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", launcher, str(packages), "headless", "--prompt", "hi"],
        env=isolated_env(tmp_path, OLLAMA_HOST="127.0.0.1:9"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 3, result.stderr
    assert "no backend can run" in result.stderr
    assert "llama-cpp-python, which is not installed" in result.stderr
    assert "ollama serve" in result.stderr and "OLLAMA_HOST" in result.stderr
    assert "pip install 'aiway-assistant[embedded]'" in result.stderr
    assert ".ci/just" not in result.stderr and "Traceback" not in result.stderr


# -- the evaluated persona kept on disk: a new process starts from it --

_PERSONA_CHILD = """
import asyncio, json, sys
from pathlib import Path
from aiway.actors.backends.embedded import EmbeddedBackend
from aiway.actors.protocol.stream import ChatTurn
from aiway.config.persona import packaged_persona

async def main() -> None:
    backend = EmbeddedBackend(max_tokens=16, temperature=0.0, cache_dir=Path(sys.argv[1]))
    pieces = []
    async def collect(text: str) -> None:
        pieces.append(text)
    turns = (ChatTurn("system", packaged_persona()), ChatTurn("user", "Who are you?"))
    try:
        await backend.stream("m", turns, collect)
    finally:
        await backend.close()
    state = backend.persona_state
    print(json.dumps({"text": "".join(pieces), "loads": state.loads, "saves": state.saves,
                      "failures": state.load_failures, "evaluated": state.evaluated}))

asyncio.run(main())
"""


def _answer_in_a_new_process(cache: Path) -> dict[str, object]:
    import subprocess
    import sys

    import orjson

    result = subprocess.run(
        [sys.executable, "-c", _PERSONA_CHILD, str(cache)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=180,
        check=True,
    )
    document: dict[str, object] = orjson.loads(result.stdout.splitlines()[-1])
    return document


@pytest.mark.embedded
def test_a_second_process_loads_the_persona_state_and_answers_the_same(tmp_path: Path) -> None:
    import stat

    cold = _answer_in_a_new_process(tmp_path)
    warm = _answer_in_a_new_process(tmp_path)

    assert (cold["saves"], cold["loads"]) == (1, 0)
    evaluated = cold["evaluated"]
    assert isinstance(evaluated, int) and evaluated > 100  # the persona: hundreds of tokens
    assert (warm["loads"], warm["saves"], warm["evaluated"]) == (1, 0, 0)
    assert warm["text"] == cold["text"] and cold["text"]
    (state,) = (tmp_path / "llama-state").glob("*.state")
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


@pytest.mark.embedded
@pytest.mark.asyncio
async def test_a_state_file_that_will_not_load_is_evaluated_again_with_the_same_answer(
    tmp_path: Path,
) -> None:
    from aiway.config.persona import packaged_persona

    turns = (ChatTurn("system", packaged_persona()), ChatTurn("user", "Who are you?"))

    async def answer() -> tuple[str, EmbeddedBackend]:
        backend = EmbeddedBackend(max_tokens=16, temperature=0.0, cache_dir=tmp_path)
        pieces: list[str] = []

        async def collect(text: str) -> None:
            pieces.append(text)

        try:
            await backend.stream("m", turns, collect)
        finally:
            await backend.close()
        return "".join(pieces), backend

    first, _ = await answer()
    (state,) = (tmp_path / "llama-state").glob("*.state")
    state.write_bytes(b"not a llama.cpp state")

    again, backend = await answer()

    assert backend.persona_state.load_failures == 1
    assert backend.persona_state.saves == 1
    assert again == first

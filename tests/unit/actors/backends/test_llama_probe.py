"""The llama.cpp build probe: a crashing build gives a clear error, never a segfault; verdicts kept.

The probe child is real (``python -m aiway.actors.backends.llama_probe``); its
crash path is made real by ``AIWAY_LLAMA_PROBE_CRASH=1``, which makes the
child kill itself with SIGSEGV before it loads anything.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from aiway.actors.backends.base import BackendError
from aiway.actors.backends.embedded import EmbeddedBackend, locate_model
from aiway.actors.backends.llama_probe import (
    CRASH_HOOK,
    build_identity,
    check_llama_build,
    portable_flags,
    reinstall_command,
)

ROOT = Path(__file__).resolve().parents[4]

pytestmark = pytest.mark.skipif(build_identity() is None, reason="llama-cpp-python not installed")


def _verdict_files(cache: Path) -> list[Path]:
    return sorted((cache / "llama-probe").glob("*.json"))


def test_a_crashing_build_raises_with_the_portable_reinstall_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRASH_HOOK, "1")
    version = str(build_identity()["version"])  # type: ignore[index]

    with pytest.raises(BackendError) as caught:
        check_llama_build(Path("/nonexistent.gguf"), tmp_path)

    assert "crashes on its first decode (killed by SIGSEGV)" in str(caught.value)
    assert caught.value.hint.endswith(reinstall_command(version))
    assert f'CMAKE_ARGS="{portable_flags()}"' in caught.value.hint
    assert "-DGGML_NATIVE=OFF" in caught.value.hint
    assert f"--force-reinstall --no-cache-dir llama-cpp-python=={version}" in caught.value.hint
    assert ".ci/" not in caught.value.describe()


def test_a_crash_verdict_is_kept_0600_and_answers_without_a_new_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRASH_HOOK, "1")
    with pytest.raises(BackendError):
        check_llama_build(Path("/nonexistent.gguf"), tmp_path)
    monkeypatch.delenv(CRASH_HOOK)

    # A new probe would now fail differently (no such model file): the crash is remembered.
    with pytest.raises(BackendError, match="killed by SIGSEGV"):
        check_llama_build(Path("/nonexistent.gguf"), tmp_path)

    (verdict,) = _verdict_files(tmp_path)
    assert stat.S_IMODE(verdict.stat().st_mode) == 0o600


def test_a_probe_that_fails_without_crashing_says_so_and_is_not_kept(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"probing llama-cpp-python .* failed \(exit 1\)"):
        check_llama_build(tmp_path / "missing.gguf", tmp_path)

    assert _verdict_files(tmp_path) == []


@pytest.mark.embedded
def test_a_working_build_is_probed_once_then_known(tmp_path: Path) -> None:
    model = locate_model()

    first = check_llama_build(model, tmp_path)
    second = check_llama_build(model, tmp_path)

    assert (first.probes_run, second.probes_run) == (1, 0)
    assert first.verdict_path == second.verdict_path


@pytest.mark.embedded
def test_a_verdict_for_another_build_is_not_trusted(tmp_path: Path) -> None:
    model = locate_model()
    first = check_llama_build(model, tmp_path)
    assert first.verdict_path is not None
    text = first.verdict_path.read_text()
    first.verdict_path.write_text(text.replace('"version":"', '"version":"9'))

    again = check_llama_build(model, tmp_path)

    assert again.probes_run == 1


@pytest.mark.asyncio
async def test_the_embedded_backend_fails_to_load_with_the_error_not_a_segfault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRASH_HOOK, "1")
    backend = EmbeddedBackend(tmp_path / "any.gguf", cache_dir=tmp_path)
    (tmp_path / "any.gguf").write_bytes(b"GGUF")
    try:
        with pytest.raises(BackendError, match="crashes on its first decode"):
            await backend.load()
    finally:
        await backend.close()
    assert not backend.loaded


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_flags_are_those_of_the_ci_wheel_script(machine: str) -> None:
    script = (ROOT / ".ci" / "llama-wheel").read_text()
    pattern = (
        r"x86_64\|amd64\)\s+flags=\"([^\"]+)\""
        if machine == "x86_64"
        else r"\*\)\s+flags=\"([^\"]+)\""
    )
    match = re.search(pattern, script)

    assert match is not None
    assert portable_flags(machine) == match.group(1)

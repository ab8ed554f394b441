"""Is this llama.cpp build safe to run? Asked once, in a child process, and remembered.

A plain ``pip install llama-cpp-python`` compiles llama.cpp with native CPU
flags; on CPUs that report AMX, ggml then picks kernels that crash the process
(SIGSEGV) on the first decode, while loading and tokenising still work. A
crash inside aiway would take the whole session (and the terminal's state)
with it, so before the first use of a build ``check_llama_build`` runs
``python -m aiway.actors.backends.llama_probe MODEL`` once: the child loads the
model and decodes one token. A child killed by a signal means the build
crashes: a ``BackendError`` gives the exact reinstall command with portable
flags for this machine (``uname -m``), never a segfault. The verdict (works, or
crashes) is kept in the cache directory, keyed on the llama-cpp-python version
and the path, size and modification time of each of its shared libraries, so a
reinstall is probed afresh and an unchanged build never again.

For tests only: ``AIWAY_LLAMA_PROBE_CRASH=1`` in the child's environment makes
it kill itself with SIGSEGV before loading anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import attrs
import orjson

from aiway.actors.backends.base import BackendError
from aiway.actors.untrusted import capped

log = logging.getLogger(__name__)

PACKAGE = "llama-cpp-python"
CRASH_HOOK = "AIWAY_LLAMA_PROBE_CRASH"
"""Environment variable that makes the probe child crash on purpose (tests)."""
PROBE_TIMEOUT = 120.0
"""Seconds the child may take to load the model and decode one token."""

# The flags .ci/llama-wheel builds with (tests check that the two agree): portable
# SIMD, never -march=native, no AMX.
_X86_64_FLAGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF "
    "-DGGML_CCACHE=OFF -DLLAVA_BUILD=OFF"
)
_OTHER_FLAGS = "-DGGML_NATIVE=OFF -DGGML_CCACHE=OFF -DLLAVA_BUILD=OFF"
_LIBRARY_SUFFIXES = (".so", ".dylib", ".dll")


@attrs.frozen(slots=True)
class ProbeStats:
    """What ``check_llama_build`` did, for tests and logs."""

    probes_run: int
    """Child processes started (0 when the verdict came from the cache)."""
    verdict_path: Path | None
    """The file that holds the verdict, None when none could be kept."""


def portable_flags(machine: str | None = None) -> str:
    """The ``CMAKE_ARGS`` of a portable build for ``machine`` (default: this one's ``uname -m``)."""
    machine = (machine or platform.machine()).lower()
    return _X86_64_FLAGS if machine in ("x86_64", "amd64") else _OTHER_FLAGS


def reinstall_command(version: str, machine: str | None = None) -> str:
    """The shell command that replaces the installed llama-cpp-python with a portable build."""
    return (
        f'CMAKE_ARGS="{portable_flags(machine)}" pip install --force-reinstall '
        f"--no-cache-dir {PACKAGE}=={version}"
    )


def build_identity() -> dict[str, object] | None:
    """The installed build: its version and each shared library's path, size and mtime.

    None when llama-cpp-python is not installed.
    """
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    libraries = []
    for path in sorted(package.rglob("*")):
        if path.suffix in _LIBRARY_SUFFIXES or ".so." in path.name:
            with contextlib.suppress(OSError):
                info = path.stat()
                libraries.append([str(path), info.st_size, info.st_mtime_ns])
    return {"version": version, "python": sys.executable, "libraries": libraries}


def check_llama_build(model_path: Path, cache_dir: Path) -> ProbeStats:
    """Return once this llama.cpp build is known to decode; raise ``BackendError`` if it crashes.

    Blocking (call it from a worker thread): the first time for a build it
    runs the probe child, up to ``PROBE_TIMEOUT`` seconds. A crash verdict is
    remembered too, so the error comes at once until the build changes. A
    probe that fails without crashing (a bad model file, a timeout) is not
    remembered: its ``BackendError`` says what happened.
    """
    identity = build_identity()
    if identity is None:
        raise BackendError(
            f"the embedded model needs {PACKAGE}, which is not installed",
            hint=INSTALL_EXTRA_HINT,
        )
    version = str(identity["version"])
    digest = hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()
    verdict_path = cache_dir / "llama-probe" / f"{digest[:32]}.json"
    verdict = _read_verdict(verdict_path, identity)
    probes = 0
    if verdict is None:
        probes = 1
        verdict = _run_probe(model_path, version)
        _write_verdict(verdict_path, identity, verdict)
    if verdict != "ok":
        raise BackendError(
            f"this build of {PACKAGE} {version} crashes on its first decode ({verdict}): "
            "it was compiled for this CPU's native instructions (AMX kernels crash)",
            hint=f"reinstall it with portable flags: {reinstall_command(version)}",
        )
    return ProbeStats(probes, verdict_path)


INSTALL_EXTRA_HINT = "install it with: pip install 'aiway-assistant[embedded]'"


def _run_probe(model_path: Path, version: str) -> str:
    """ "ok", or the crash (``"killed by SIGSEGV"``); raises ``BackendError`` on other failures."""
    command = [sys.executable, "-m", "aiway.actors.backends.llama_probe", str(model_path)]
    log.info("probing llama-cpp-python %s in a child process: %s", version, command)
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackendError(
            f"probing {PACKAGE} {version} took longer than {PROBE_TIMEOUT:g}s",
            hint="the machine may be very busy; try again",
        ) from None
    if result.returncode == 0:
        return "ok"
    if result.returncode < 0:
        return f"killed by {signal.Signals(-result.returncode).name}"
    last = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    raise BackendError(
        f"probing {PACKAGE} {version} failed (exit {result.returncode}): {capped(last[0], 300)}",
        hint="check that the model file is a GGUF chat model and the package is installed whole",
    )


def _read_verdict(path: Path, identity: dict[str, object]) -> str | None:
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(document, dict) or document.get("identity") != identity:
        return None
    verdict = document.get("verdict")
    return verdict if isinstance(verdict, str) else None


def _write_verdict(path: Path, identity: dict[str, object], verdict: str) -> None:
    """Keep the verdict (0600, written whole or not at all); a cache that cannot be written is
    only a slower next start."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".probe-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(orjson.dumps({"identity": identity, "verdict": verdict}))
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        log.warning("could not keep the llama.cpp probe verdict in %s: %s", path, error)


def _probe_main(model_path: str) -> int:
    """The child: load the model, decode one token. A crash here is the verdict."""
    if os.environ.get(CRASH_HOOK) == "1":
        os.kill(os.getpid(), signal.SIGSEGV)
    from llama_cpp import Llama

    llama = Llama(model_path=model_path, n_ctx=256, n_threads=1, verbose=False)
    try:
        tokens = llama.tokenize(b"Hello", add_bos=True)
        llama.eval(tokens)
        llama.sample(temp=0.0)
    finally:
        llama.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m aiway.actors.backends.llama_probe MODEL.gguf", file=sys.stderr)
        sys.exit(2)
    sys.exit(_probe_main(sys.argv[1]))

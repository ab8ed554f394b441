"""What the fake Ollama server plays: script steps, its config, and Ollama's NDJSON lines.

A script is a sequence of steps. A plain ``str`` is one token: one NDJSON line
written as its own chunk. The other steps misbehave on purpose; see each
class. ``FakeConfig`` holds everything a test may change between requests.
Scripts and configs also have a JSON form (for the subprocess and for
``POST /_fake/config``): a step is a string, or one of ``{"raw": text}``,
``{"raw_hex": hex}``, ``{"split": text, "at": n, "pause": s}``,
``{"stall": seconds or null}``, ``{"error": message}``,
``{"drop": "abort" | "clean"}``, ``{"huge": size}``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import Any

import orjson

CREATED_AT = "2025-01-01T12:00:00.000000000Z"


@dataclasses.dataclass(frozen=True)
class Raw:
    """Bytes written verbatim as one chunk (partial lines, blank lines, bad JSON...)."""

    data: bytes


@dataclasses.dataclass(frozen=True)
class Split:
    """One token line written as two chunks, cut at byte ``at`` of the line.

    By default the cut falls inside the first multibyte UTF-8 character.
    ``pause`` seconds pass between the two writes so the client reads them
    separately.
    """

    text: str
    at: int | None = None
    pause: float = 0.02


@dataclasses.dataclass(frozen=True)
class Stall:
    """Write nothing for ``seconds`` (None: until the client leaves or the server stops)."""

    seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class ErrorLine:
    """Ollama's mid-stream failure: a ``{"error": message}`` line (the status stays 200)."""

    message: str


@dataclasses.dataclass(frozen=True)
class Drop:
    """End the stream without the final line: reset the connection, or end the body cleanly."""

    abort: bool = True


@dataclasses.dataclass(frozen=True)
class HugeLine:
    """One token whose content is ``size`` bytes long (for line-limit tests)."""

    size: int


Step = str | Raw | Split | Stall | ErrorLine | Drop | HugeLine


@dataclasses.dataclass(frozen=True)
class FakeConfig:
    """Everything that shapes the fake server's answers."""

    models: tuple[str, ...] = ("smollm2:135m", "llama3.2:1b")
    """Installed models (``/api/tags``); a chat with any other model gets Ollama's 404."""
    loaded: tuple[str, ...] = ()
    """Models reported by ``/api/ps``."""
    script: tuple[Step, ...] = ("Hello", " from", " the", " fake", " server", ".")
    """The reply, step by step (ignored when ``tokens`` is set)."""
    tokens: int | None = None
    """Generate this many tokens (`` tok1``, `` tok2``, ...) instead of the script."""
    rate: float = 0.0
    """Tokens per second; 0 writes as fast as possible (generated tokens in 64 KiB writes)."""
    line_per_write: bool = False
    """Write each generated line alone and wait until it has left for the socket (the
    transport's buffer drained) before the next: with a pace, each read the client makes
    then holds one line, a fixed schedule for counting per-read costs. Off by default."""
    lockstep: bool = False
    """With generated tokens: write each line only once the client acknowledged the one
    before (a UDP datagram to ``ack_port`` in ``/_fake/stats``; each datagram is one
    acknowledgement, waited for at most ``LOCKSTEP_PATIENCE`` seconds), and no sooner than
    the pace says. The client reads every line alone, after it has finished with the one
    before: the paced regime with nothing amortised, whatever the machine's load. Off by
    default."""
    eval_count: int | None = None
    """Overrides the final line's ``eval_count`` (default: the tokens written)."""
    eval_duration_ns: int | None = None
    """Overrides the final ``eval_duration`` (default: the time spent writing tokens)."""
    prompt_eval_count: int | None = None
    """Overrides ``prompt_eval_count`` (default: about a token per four prompt characters)."""
    load_duration_ns: int = 12_345_678
    prompt_eval_duration_ns: int = 23_456_789
    done_reason: str = "stop"
    version: str = "0.6.8"
    redirect_to: str | None = None
    """A base URL: every ``/api`` request is answered ``307`` to the same path there."""
    padding: int = 0
    """Bytes of filler streamed inside ``/api/tags`` and ``/api/ps`` bodies (size-cap tests)."""
    pull_layers: int = 2
    """Layers ``/api/pull`` reports downloading, each ``pull_layer_bytes`` long."""
    pull_layer_bytes: int = 50_000_000
    pull_steps: int = 4
    """Progress lines per layer (the last one says the layer is complete)."""
    pull_interval: float = 0.0
    """Seconds between two progress lines (0: as fast as possible)."""
    pull_error: str | None = None
    """When set, ``/api/pull`` sends ``{"error": pull_error}`` after the first layer, status 200."""
    pull_raw: str | None = None
    """When set, this text is written verbatim as one progress chunk before the first layer."""


def is_installed(model: str, installed: tuple[str, ...]) -> bool:
    """Whether ``model`` names an installed model; a missing tag means ``:latest``, as in Ollama."""
    return _with_tag(model) in {_with_tag(name) for name in installed}


def _with_tag(name: str) -> str:
    return name if ":" in name.rpartition("/")[2] else f"{name}:latest"


def token_line(model: str, text: str) -> bytes:
    """One streamed chunk as Ollama writes it, newline included."""
    return (
        orjson.dumps(
            {
                "model": model,
                "created_at": CREATED_AT,
                "message": {"role": "assistant", "content": text},
                "done": False,
            }
        )
        + b"\n"
    )


def final_line(
    config: FakeConfig, model: str, count: int, prompt_tokens: int, eval_ns: int | None
) -> bytes:
    """The closing ``done: true`` line with Ollama's figures, newline included."""
    eval_duration = config.eval_duration_ns or eval_ns or max(1, count) * 10_000_000
    total = config.load_duration_ns + config.prompt_eval_duration_ns + eval_duration + 1_000_000
    return (
        orjson.dumps(
            {
                "model": model,
                "created_at": CREATED_AT,
                "message": {"role": "assistant", "content": ""},
                "done_reason": config.done_reason,
                "done": True,
                "total_duration": total,
                "load_duration": config.load_duration_ns,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": config.prompt_eval_duration_ns,
                "eval_count": count if config.eval_count is None else config.eval_count,
                "eval_duration": eval_duration,
            }
        )
        + b"\n"
    )


@functools.lru_cache(maxsize=4)
def generated_body(model: str, tokens: int) -> bytes:
    """``tokens`` generated token lines, built once and shared (the benchmark's reply)."""
    return b"".join(token_line(model, f" tok{index}") for index in range(1, tokens + 1))


def inside_first_multibyte(line: bytes) -> int:
    """A byte offset just after the lead byte of the first non-ASCII character (else mid-line)."""
    for offset, byte in enumerate(line):
        if byte >= 0xC0:
            return offset + 1
    return len(line) // 2


def model_entry(name: str) -> dict[str, object]:
    """One model as ``/api/tags`` lists it."""
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-01T00:00:00Z",
        "size": 101_000_000,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {
            "format": "gguf",
            "family": "llama",
            "parameter_size": "135M",
            "quantization_level": "Q4_1",
        },
    }


def pull_lines(config: FakeConfig, name: str) -> list[bytes]:
    """The NDJSON lines of a successful ``/api/pull`` of ``name``, newline each, in order."""
    lines: list[dict[str, object]] = [{"status": "pulling manifest"}]
    for layer in range(config.pull_layers):
        digest = "sha256:" + hashlib.sha256(f"{name}/{layer}".encode()).hexdigest()
        total = config.pull_layer_bytes
        for step in range(1, config.pull_steps + 1):
            completed = total * step // config.pull_steps
            lines.append(
                {
                    "status": f"pulling {digest[7:19]}",
                    "digest": digest,
                    "total": total,
                    "completed": completed,
                }
            )
    lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
    lines.append({"status": "success"})
    return [orjson.dumps(line) + b"\n" for line in lines]


def script_text(config: FakeConfig) -> tuple[str, int]:
    """The whole reply text of a config and its token count (for ``stream: false``)."""
    if config.tokens is not None:
        return "".join(f" tok{i}" for i in range(1, config.tokens + 1)), config.tokens
    pieces = [
        step if isinstance(step, str) else step.text if isinstance(step, Split) else "x" * step.size
        for step in config.script
        if isinstance(step, str | Split | HugeLine)
    ]
    return "".join(pieces), len(pieces)


def prompt_token_count(body: dict[str, Any]) -> int:
    """A plausible prompt token count: a token per four characters of the messages."""
    messages = body.get("messages") or []
    characters = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    return max(1, characters // 4)


def step_from_json(item: object) -> Step:
    """A step from its JSON form (see the module doc); raises ``ValueError`` for anything else."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and len(item.keys() - {"at", "pause"}) == 1:
        if "raw" in item:
            return Raw(str(item["raw"]).encode())
        if "raw_hex" in item:
            return Raw(bytes.fromhex(str(item["raw_hex"])))
        if "split" in item:
            return Split(str(item["split"]), item.get("at"), float(item.get("pause", 0.02)))
        if "stall" in item:
            return Stall(None if item["stall"] is None else float(item["stall"]))
        if "error" in item:
            return ErrorLine(str(item["error"]))
        if "drop" in item:
            return Drop(abort=item["drop"] != "clean")
        if "huge" in item:
            return HugeLine(int(item["huge"]))
    raise ValueError(f"not a script step: {item!r}")


def config_changes_from_json(document: object) -> dict[str, Any]:
    """``FakeConfig`` field changes from their JSON form; raises ``ValueError`` for unknown keys."""
    if not isinstance(document, dict):
        raise ValueError("a config must be a JSON object")
    known = {field.name for field in dataclasses.fields(FakeConfig)}
    unknown = document.keys() - known
    if unknown:
        raise ValueError(f"unknown config keys: {sorted(unknown)}")
    changes = dict(document)
    for key in ("models", "loaded"):
        if key in changes:
            changes[key] = tuple(changes[key])
    if "script" in changes:
        changes["script"] = tuple(step_from_json(step) for step in changes["script"])
    return changes

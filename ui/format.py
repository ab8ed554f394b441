"""Text shared by every surface: how an answer's figures read."""

from __future__ import annotations

from aiway.actors.protocol import ResponseMetadata


def metadata_line(meta: ResponseMetadata) -> str:
    """``model · 42 tokens · 85.1 tok/s · 1.23 s · first token 80 ms``."""
    parts = [meta.model or meta.backend or "model"]
    if meta.tokens:
        parts.append(f"{meta.tokens} tokens")
    if meta.tokens_per_second:
        parts.append(f"{meta.tokens_per_second:.1f} tok/s")
    parts.append(f"{meta.elapsed_ms / 1000:.2f} s")
    if meta.ttft_ms is not None:
        parts.append(f"first token {meta.ttft_ms:.0f} ms")
    return " · ".join(parts)

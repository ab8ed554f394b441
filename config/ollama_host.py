"""Reading an Ollama host the way OLLAMA_HOST writes it, into a base URL."""

from __future__ import annotations

from urllib.parse import urlsplit

OLLAMA_DEFAULT_PORT = 11434


def ollama_base_url(host: str) -> str:
    """The base URL for an Ollama host written the way OLLAMA_HOST is.

    Accepts "host", "host:port" or a URL with an http or https scheme; a missing
    port is 11434 (443 for https). Raises ValueError for anything else.
    """
    text = host.strip()
    if not text or any(char.isspace() for char in text):
        raise ValueError(f"not a host: {host!r}")
    split = urlsplit(text if "://" in text else f"http://{text}")
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ValueError(f"not a host: {host!r}")
    port = split.port  # raises ValueError for a port that is not a number in range
    if port is None:
        port = 443 if split.scheme == "https" else OLLAMA_DEFAULT_PORT
    hostname = f"[{split.hostname}]" if ":" in split.hostname else split.hostname
    return f"{split.scheme}://{hostname}:{port}{split.path.rstrip('/')}"

"""Reading ``OLLAMA_HOST`` the way Ollama does, into a base URL.

One parser for the settings (validation of ``ollama.host``) and the Ollama
backend: ``host``, ``host:port``, ``:port``, ``http(s)://host[:port]``,
bracketed IPv6, and a path after the address.
"""

from __future__ import annotations

from aiway.actors.errors import BackendError

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
"""Where Ollama listens when ``OLLAMA_HOST`` is not set."""

_DEFAULT_PORT = 11434
_SCHEME_PORTS = {"http": 80, "https": 443}


class OllamaHostError(BackendError, ValueError):
    """An ``OLLAMA_HOST`` value Ollama would not accept (a ValueError for the settings)."""


def parse_ollama_host(value: str | None) -> str:
    """The base URL (``scheme://host:port``, no trailing slash) for an ``OLLAMA_HOST`` value.

    Accepts what Ollama accepts: ``host``, ``host:port``, ``:port``,
    ``http://host[:port]``, ``https://host[:port]``, bracketed IPv6, and a
    path after the address. Without a scheme the port defaults to 11434; with
    one, to the scheme's port (as Ollama does). ``None`` or blank gives
    ``http://127.0.0.1:11434``. A listen-everywhere address (``0.0.0.0``,
    ``::``, empty) means this machine. Raises ``BackendError`` for an unknown
    scheme or a port that is not a number from 1 to 65535.
    """
    text = (value or "").strip()
    if not text:
        return DEFAULT_OLLAMA_HOST
    if any(char.isspace() for char in text):
        raise OllamaHostError(
            f"OLLAMA_HOST {value!r} has spaces in it",
            "set OLLAMA_HOST to host:port, e.g. 127.0.0.1:11434",
        )
    scheme, separator, rest = text.partition("://")
    if separator:
        scheme = scheme.lower()
        if scheme not in _SCHEME_PORTS:
            raise OllamaHostError(
                f"OLLAMA_HOST {value!r} has scheme {scheme!r}; only http and https work",
                "set OLLAMA_HOST to host:port, e.g. 127.0.0.1:11434",
            )
        default_port = _SCHEME_PORTS[scheme]
    else:
        scheme, rest, default_port = "http", text, _DEFAULT_PORT
    address, _, path = rest.partition("/")
    host, port_text = _split_host_port(address)
    port = _parse_port(port_text, default_port, value)
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    path = path.strip("/")
    return f"{scheme}://{host}:{port}" + (f"/{path}" if path else "")


def _split_host_port(address: str) -> tuple[str, str]:
    if address.startswith("["):
        host, _, after = address[1:].partition("]")
        return host, after[1:] if after.startswith(":") else ""
    if address.count(":") > 1:  # a bare IPv6 address: no port can be told apart
        return address, ""
    host, _, port = address.partition(":")
    return host, port


def _parse_port(text: str, default: int, value: str | None) -> int:
    if not text:
        return default
    if text.isdigit() and 0 < int(text) <= 65535:
        return int(text)
    raise OllamaHostError(
        f"OLLAMA_HOST {value!r} has port {text!r}, which is not a number from 1 to 65535",
        "set OLLAMA_HOST to host:port, e.g. 127.0.0.1:11434",
    )


def ollama_base_url(host: str) -> str:
    """The base URL of an Ollama host as the settings hold it (see ``parse_ollama_host``)."""
    return parse_ollama_host(host)

"""ollama_base_url: OLLAMA_HOST's forms, read into a base URL (as Ollama reads them)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiway.config.ollama_host import ollama_base_url


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("example.lan", "http://example.lan:11434"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("http://example.lan:8080/ollama/", "http://example.lan:8080/ollama"),
        ("[::1]:11500", "http://[::1]:11500"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
    ],
)
def test_ollama_base_url_fills_in_scheme_and_port(host: str, url: str) -> None:
    assert ollama_base_url(host) == url


@pytest.mark.parametrize("host", ["two words", "ftp://x", "x:port", "x:70000"])
def test_ollama_base_url_refuses_what_is_not_a_host(host: str) -> None:
    with pytest.raises(ValueError):
        ollama_base_url(host)


@given(st.text(max_size=40))
def test_ollama_base_url_either_raises_value_error_or_returns_an_http_url(host: str) -> None:
    try:
        url = ollama_base_url(host)
    except ValueError:
        return
    assert url.startswith(("http://", "https://"))

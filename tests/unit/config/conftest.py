"""Helpers for the config tests: a config file in a temporary directory, and an isolated env."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a config.toml under tmp_path and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose XDG directories all point into tmp_path (no user files are read)."""
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
    }

"""Where aiway keeps its files by default: the XDG directories, read from a given environment.

Each function takes the environment as a mapping, so a test (or a daemon
started for another user) decides what it sees. An XDG variable present in that
mapping wins when it holds an absolute path (the XDG spec says to ignore a
relative one); otherwise platformdirs picks the platform's usual place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "aiway"


def _xdg_dir(env: Mapping[str, str], variable: str, fallback: Path) -> Path:
    value = env.get(variable, "")
    if value and Path(value).is_absolute():
        return Path(value) / APP_NAME
    return fallback


def default_config_path(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/aiway/config.toml`` (usually ``~/.config/aiway/config.toml``)."""
    directory = _xdg_dir(env, "XDG_CONFIG_HOME", platformdirs.user_config_path(APP_NAME))
    return directory / "config.toml"


def default_history_path(env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/aiway/aiway.sqlite3`` (usually under ``~/.local/share``)."""
    directory = _xdg_dir(env, "XDG_DATA_HOME", platformdirs.user_data_path(APP_NAME))
    return directory / "aiway.sqlite3"


def default_log_file(env: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/aiway/aiway.log`` (usually under ``~/.local/state``)."""
    directory = _xdg_dir(env, "XDG_STATE_HOME", platformdirs.user_state_path(APP_NAME))
    return directory / "aiway.log"


def default_input_history(env: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/aiway/input_history`` (usually under ``~/.local/state``)."""
    directory = _xdg_dir(env, "XDG_STATE_HOME", platformdirs.user_state_path(APP_NAME))
    return directory / "input_history"


def default_socket_path(env: Mapping[str, str]) -> Path:
    """``$XDG_RUNTIME_DIR/aiway/aiway.sock``; without it, a per-user directory under /tmp.

    The fallback is not platformdirs' guess (``/run/user/<uid>``), which may not
    exist when no login session created it.
    """
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_absolute():
        return Path(runtime) / APP_NAME / "aiway.sock"
    owner = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"{APP_NAME}-{owner}" / "aiway.sock"

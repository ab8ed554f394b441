"""One environment for every ``aiway`` process a test or a benchmark starts.

``isolated_env(home)`` copies this process's environment, points every XDG
directory (config, state, data, runtime, cache) under ``home`` so nothing touches the
user's own files, and drops what would leak in from outside: ``AIWAY_*``
settings, ``OLLAMA_HOST``, ``NO_COLOR`` and tmux's ``TMUX``. ``extra`` is set
last, so a test states exactly what differs.
"""

from __future__ import annotations

import os
from pathlib import Path

_DROPPED_PREFIXES = ("AIWAY_",)
_DROPPED = frozenset({"OLLAMA_HOST", "TMUX", "NO_COLOR"})


def isolated_env(home: Path | str, **extra: str) -> dict[str, str]:
    """This process's environment with every XDG directory under ``home`` and ``extra`` on top."""
    home = Path(home)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED and not key.startswith(_DROPPED_PREFIXES)
    }
    env |= {
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    env |= extra
    return env

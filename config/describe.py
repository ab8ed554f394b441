"""What `aiway config` prints: the effective settings, one line per key, and where each came from.

Values are written the way the config file writes them (strings quoted,
booleans lower-case, tables inline), so a line can be pasted into a config file
once its ``(source)`` is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aiway.config.settings import SETTING_KEYS, value_of
from aiway.config.specs import OrUnset

if TYPE_CHECKING:
    from aiway.config.loader import LoadedSettings

#: longer text (a long system prompt) is cut short in the listing; paths never are
MAX_SHOWN_CHARS = 60
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _quote(text: str, *, cut: bool = True) -> str:
    if cut and len(text) > MAX_SHOWN_CHARS:
        return json.dumps(text[:MAX_SHOWN_CHARS], ensure_ascii=False) + f"... ({len(text)} chars)"
    return json.dumps(text, ensure_ascii=False)


def format_value(value: object) -> str:
    """A value as TOML writes it; "none" for an unset one."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, Path):
        return _quote(str(value), cut=False)
    if isinstance(value, Mapping):
        items = (
            f"{key if _BARE_KEY.fullmatch(str(key)) else _quote(str(key))} = {format_value(item)}"
            for key, item in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    return repr(value)


def describe(loaded: LoadedSettings) -> str:
    """The listing of `aiway config`: the config file, then ``key = value  (source)`` lines."""
    state = "" if loaded.config_found else " (not found; defaults apply)"
    lines = [f"# config file: {loaded.config_path}{state}"]
    for setting in SETTING_KEYS:
        value = value_of(loaded.settings, setting.key)
        shown = format_value(value)
        if value is None and isinstance(setting.spec, OrUnset):
            shown += f" ({setting.spec.unset})"
        lines.append(f"{setting.key} = {shown}  ({loaded.sources[setting.key]})")
    return "\n".join(lines)

"""Values written the way a TOML config file writes them: strings quoted, booleans lower-case.

Used by `aiway config` (config/describe.py) to list the settings and by the
loader (config/loader.py) to quote a bad value back in an error, so both show
a value the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

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

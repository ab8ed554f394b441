"""What `aiway config` prints: the effective settings, one line per key, and where each came from.

Values are written the way the config file writes them (strings quoted,
booleans lower-case, tables inline), so a line can be pasted into a config file
once its ``(source)`` is dropped.
"""

from __future__ import annotations

from aiway.config.loader import LoadedSettings
from aiway.config.settings import SETTING_KEYS, value_of
from aiway.config.specs import OrUnset
from aiway.config.toml_text import MAX_SHOWN_CHARS, format_value

__all__ = ["MAX_SHOWN_CHARS", "describe", "format_value"]


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

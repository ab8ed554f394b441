"""The persona: Yollayah's system prompt, config/persona.md, unless the settings give one."""

from __future__ import annotations

import functools
from importlib import resources

from aiway.config.settings import Settings

PERSONA_FILE = "persona.md"


@functools.cache
def packaged_persona() -> str:
    """The persona that ships inside the package (read once, then cached)."""
    return (
        resources.files("aiway.config").joinpath(PERSONA_FILE).read_text(encoding="utf-8").strip()
    )


def load_persona(settings: Settings) -> str:
    """The system prompt: ``settings.system_prompt`` when set, otherwise the packaged persona.

    Reads a small package file on first use; call it at start-up, not in a handler.
    """
    if settings.system_prompt is not None:
        return settings.system_prompt
    return packaged_persona()

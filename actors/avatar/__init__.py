"""Yollayah the axolotl: sprites, the frame cache and the Avatar actor."""

from actors.avatar.behaviour import Avatar
from actors.avatar.errors import SpriteError
from actors.avatar.frames import FrameCache, Strip
from actors.avatar.render import frame_text
from actors.avatar.sprites import (
    COLOURS,
    Rows,
    Run,
    SpriteFrame,
    SpriteSet,
    SpriteSheet,
    default_sprites,
    load_sheet,
    load_sprites,
    parse_sheet,
)

__all__ = [
    "COLOURS",
    "Avatar",
    "FrameCache",
    "Rows",
    "Run",
    "SpriteError",
    "SpriteFrame",
    "SpriteSet",
    "SpriteSheet",
    "Strip",
    "default_sprites",
    "frame_text",
    "load_sheet",
    "load_sprites",
    "parse_sheet",
]

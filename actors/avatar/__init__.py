"""Yollayah the axolotl: sprites, the frame cache and the Avatar actor."""

from aiway.actors.avatar.behaviour import Avatar
from aiway.actors.avatar.errors import SpriteError
from aiway.actors.avatar.frames import FrameCache, Strip
from aiway.actors.avatar.render import frame_text
from aiway.actors.avatar.sprites import (
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

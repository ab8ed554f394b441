"""Sprite files: the packaged art, colour runs, and every validation error naming file and line."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.avatar import COLOURS, SpriteError, default_sprites, load_sheet, load_sprites
from aiway.actors.avatar.sprites import colour_runs
from aiway.actors.errors import AiwayError
from aiway.actors.protocol import Animation, AvatarSize

GOOD = """\
# a two-frame test sheet
size tiny 4 2

palette
B # salmon
e o black

animation idle
frame 500
|B  B|
|BeeB|
frame 100
| BB |
|BeeB|
"""

EXPECTED_DIMENSIONS = {
    AvatarSize.TINY: (6, 2),
    AvatarSize.SMALL: (10, 3),
    AvatarSize.MEDIUM: (14, 5),
    AvatarSize.LARGE: (24, 8),
}


def write(tmp_path: Path, text: str, name: str = "tiny.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> SpriteError:
    path = write(tmp_path, text)
    with pytest.raises(SpriteError) as caught:
        load_sheet(path)
    assert str(caught.value).startswith(f"{path}:{caught.value.line}: ")
    return caught.value


def test_packaged_sprites_have_every_size_at_its_dimensions_and_every_animation() -> None:
    sprites = default_sprites()
    for size, (width, height) in EXPECTED_DIMENSIONS.items():
        sheet = sprites.sheet(size)
        assert (sheet.size, sheet.width, sheet.height) == (size, width, height)
        assert set(sheet.animations) == set(Animation)
        for frames in sheet.animations.values():
            assert frames
            for frame in frames:
                assert len(frame.rows) == height
                assert frame.duration > 0


def test_packaged_idle_breathes_and_blinks() -> None:
    for size in AvatarSize:
        idle = default_sprites().sheet(size).frames(Animation.IDLE)
        assert len(idle) >= 3
        assert len({frame.rows for frame in idle}) >= 3, f"{size}: idle frames barely differ"


def test_default_sprites_are_loaded_once() -> None:
    assert default_sprites() is default_sprites()


def test_runs_split_at_colour_changes_and_transparent_cells() -> None:
    palette = {"a": ("▀", "red"), "b": ("█", "salmon"), "c": ("•", "white")}
    assert colour_runs("aab bcb  a", palette) == (
        (0, "▀▀", "red"),
        (2, "█", "salmon"),
        (4, "█", "salmon"),
        (5, "•", "white"),
        (6, "█", "salmon"),
        (9, "▀", "red"),
    )
    assert colour_runs("    ", palette) == ()


@given(st.text(alphabet="abc ", max_size=30))
def test_runs_redraw_exactly_the_row(cells: str) -> None:
    palette = {"a": ("x", "red"), "b": ("y", "red"), "c": ("z", "blue")}
    runs = colour_runs(cells, palette)
    grid = [" "] * len(cells)
    for column, text, colour in runs:
        assert " " not in text
        for offset, glyph in enumerate(text):
            key = cells[column + offset]
            assert palette[key] == (glyph, colour)
            grid[column + offset] = glyph
    assert "".join(grid) == "".join(palette[k][0] if k != " " else " " for k in cells)
    for (col_a, text_a, colour_a), (col_b, _, colour_b) in itertools.pairwise(runs):
        # neighbours of one colour would have been one run
        assert col_a + len(text_a) < col_b or colour_a != colour_b


def test_identical_rows_share_one_tuple(tmp_path: Path) -> None:
    sheet = load_sheet(write(tmp_path, GOOD))
    first, second = sheet.frames(Animation.IDLE)
    assert first.rows[1] is second.rows[1]
    assert (first.duration, second.duration) == (0.5, 0.1)


def test_missing_animation_falls_back_to_idle(tmp_path: Path) -> None:
    sheet = load_sheet(write(tmp_path, GOOD))
    assert sheet.frames(Animation.WINK) is sheet.frames(Animation.IDLE)
    assert sheet.drawn(Animation.WINK) is Animation.IDLE


def test_ragged_row_names_file_and_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD.replace("|BeeB|\nframe", "|BeeBB|\nframe"))
    assert error.line == 11
    assert "ragged row: 5 cells wide" in error.problem


def test_row_without_closing_bar_is_ragged(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD.replace("| BB |", "| BB"))
    assert error.line == 13
    assert "must end with '|'" in error.problem


def test_unknown_palette_key_names_file_line_and_column(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD.replace("| BB |", "| BX |"))
    assert error.line == 13
    assert "unknown palette key 'X' at column 3" in error.problem


def test_empty_animation_names_its_line(tmp_path: Path) -> None:
    error = error_for(
        tmp_path, GOOD + "\nanimation wink\n\nanimation happy\nframe 100\n|BBBB|\n|BBBB|\n"
    )
    assert error.line == 16
    assert "animation 'wink' has no frames" in error.problem


@pytest.mark.parametrize("duration", ["0", "-5", "fast", "1.5", "60001", ""])
def test_bad_duration_names_its_line(tmp_path: Path, duration: str) -> None:
    error = error_for(tmp_path, GOOD.replace("frame 100", f"frame {duration}"))
    assert error.line == 12
    assert "duration" in error.problem


def test_frame_with_too_few_rows_names_the_frame_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD.replace("|B  B|\n", ""))
    assert error.line == 9
    assert "frame has 1 rows, the size line says 2" in error.problem


def test_frame_with_too_many_rows_names_the_extra_row(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD + "|BBBB|\n")
    assert error.line == 15
    assert "more than 2 rows" in error.problem


def test_unknown_colour_lists_the_known_ones(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD.replace("B # salmon", "B # chartreuse"))
    assert error.line == 5
    assert "unknown colour 'chartreuse'" in error.problem
    assert "salmon" in error.problem


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("B # salmon extra", "must be 'KEY GLYPH COLOUR'"),
        ("BB # salmon", "one character other than # and |"),
        ("B salmon", "must be 'KEY GLYPH COLOUR'"),
        ("B ## salmon", "one cell wide"),
        ("B 界 salmon", "one cell wide"),
    ],
)
def test_bad_palette_entry(tmp_path: Path, entry: str, problem: str) -> None:
    error = error_for(tmp_path, GOOD.replace("B # salmon", entry))
    assert error.line == 5
    assert problem in error.problem


def test_duplicate_palette_key(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD.replace("e o black", "e o black\ne x white"))
    assert (error.line, error.problem) == (7, "palette key 'e' is defined twice")


def test_missing_idle_is_reported(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD.replace("animation idle", "animation happy"))
    assert "every size needs idle" in error.problem


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("palette\n", 1, "expected 'size NAME WIDTH HEIGHT' first"),
        ("size huge 4 2\n", 1, "NAME one of tiny, small, medium, large"),
        ("size tiny four 2\n", 1, "must be integers"),
        ("size tiny 0 2\n", 1, "out of range"),
        ("size tiny 4 2\nsize tiny 4 2\n", 2, "a second 'size' line"),
        ("size tiny 4 2\nanimation dancing\n", 2, "unknown animation 'dancing'"),
        ("size tiny 4 2\nframe 100\n", 2, "a frame before any 'animation NAME' line"),
        ("size tiny 4 2\n|BBBB|\n", 2, "outside a frame"),
        ("size tiny 4 2\nanimation idle\nbogus\n", 3, "unknown line 'bogus'"),
        ("", 1, "no 'size NAME WIDTH HEIGHT' line"),
    ],
)
def test_structural_errors(tmp_path: Path, text: str, line: int, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert error.line == line
    assert problem in error.problem


def test_duplicate_animation(tmp_path: Path) -> None:
    error = error_for(tmp_path, GOOD + "animation idle\n")
    assert (error.line, error.problem) == (15, "animation 'idle' is defined twice")


def test_sprite_error_is_an_aiway_error(tmp_path: Path) -> None:
    with pytest.raises(AiwayError):
        load_sheet(tmp_path / "missing.txt")


def test_loading_a_folder_needs_every_size_under_its_own_name(tmp_path: Path) -> None:
    for size in AvatarSize:
        write(tmp_path, GOOD.replace("size tiny", f"size {size.value}"), f"{size.value}.txt")
    assert set(load_sprites(tmp_path).sheets) == set(AvatarSize)
    write(tmp_path, GOOD, "large.txt")
    with pytest.raises(SpriteError, match=r"large\.txt:1: file declares size 'tiny'"):
        load_sprites(tmp_path)


def test_packaged_palettes_use_known_colours() -> None:
    for sheet in default_sprites().sheets.values():
        for frames in sheet.animations.values():
            for frame in frames:
                for runs in frame.rows:
                    assert {colour for _, _, colour in runs} <= COLOURS

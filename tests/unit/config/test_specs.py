"""The value specs: what each kind of setting accepts from a file and from text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiway.config.specs import (
    DIRECT,
    ByteSize,
    Duration,
    FilePath,
    Integer,
    Invalid,
    Number,
    Origin,
    OrUnset,
    Word,
)

FILE = Origin("/x/config.toml:1", base_dir=Path("/x"))
TEXT = Origin("env AIWAY_X", textual=True)


def test_number_from_a_file_refuses_text() -> None:
    with pytest.raises(Invalid):
        Number(minimum=0).parse("5", FILE)


@given(st.floats(min_value=1e-9, max_value=1e9, allow_nan=False))
def test_number_from_text_equals_the_number_written(value: float) -> None:
    assert Number(minimum=0, exclusive_minimum=True).parse(repr(value), TEXT) == value


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_number_result_is_always_within_bounds(value: float) -> None:
    spec = Number(minimum=0, exclusive_minimum=True, maximum=60)
    try:
        parsed = spec.parse(value, FILE)
    except Invalid:
        return
    assert 0 < parsed <= 60


@given(st.integers())
def test_integer_accepts_exactly_the_values_within_bounds(value: int) -> None:
    spec = Integer(minimum=1, maximum=256)
    accepted = 1 <= value <= 256
    try:
        parsed = spec.parse(value, FILE)
    except Invalid:
        assert not accepted
    else:
        assert accepted and parsed == value


def test_integer_refuses_booleans() -> None:
    with pytest.raises(Invalid):
        Integer(minimum=0).parse(True, FILE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4096", 4096),
        ("4 MiB", 4 * 1024**2),
        ("1.5KiB", 1536),
        ("2kb", 2000),
        (" 1 GiB ", 1024**3),
        ("7B", 7),
    ],
)
def test_byte_size_reads_units(text: str, expected: int) -> None:
    assert ByteSize(minimum=1).parse(text, FILE) == expected


@given(st.integers(min_value=0, max_value=2**40), st.sampled_from(["", "B", "KiB", "MiB", "kB"]))
def test_byte_size_of_a_whole_number_and_unit_is_that_many_bytes(count: int, unit: str) -> None:
    factor = {"": 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "kB": 1000}[unit]
    assert ByteSize(minimum=0).parse(f"{count} {unit}", TEXT) == count * factor


@pytest.mark.parametrize("text", ["0.3 B", "MiB", "4 parsecs", "-1"])
def test_byte_size_refuses_what_is_not_a_whole_size(text: str) -> None:
    with pytest.raises(Invalid):
        ByteSize(minimum=0).parse(text, TEXT)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("5m", "5m"), ("1h30m", "1h30m"), ("0", "0s"), ("-1", "-1s"), (300, "300s"), ("2.5s", "2.5s")],
)
def test_duration_accepts_ollama_durations_and_seconds(raw: object, expected: str) -> None:
    assert Duration().parse(raw, FILE) == expected


@pytest.mark.parametrize("raw", ["5 minutes", "m5", "", True, 1.5])
def test_duration_refuses_anything_else(raw: object) -> None:
    with pytest.raises(Invalid):
        Duration().parse(raw, FILE)


def test_word_strips_and_refuses_inner_spaces() -> None:
    assert Word("x").parse(" llama3.2:1b ", FILE) == "llama3.2:1b"
    with pytest.raises(Invalid):
        Word("x").parse("llama 3", FILE)


def test_file_path_expands_the_home_directory() -> None:
    assert FilePath().parse("~/notes", FILE) == Path.home() / "notes"


def test_file_path_from_text_resolves_against_the_working_directory() -> None:
    assert FilePath().parse("rel/file", TEXT) == Path.cwd() / "rel" / "file"


def test_file_path_given_in_code_stays_as_given() -> None:
    assert FilePath().parse("rel/file", DIRECT) == Path("rel/file")


def test_or_unset_maps_empty_text_to_none_unless_told_otherwise() -> None:
    assert OrUnset(Word("x"), "the default").parse("", TEXT) is None
    assert OrUnset(Word("x"), "the default").parse(None, TEXT) is None

"""The NDJSON splitter: any bytes, split anywhere, decode to the same objects; limits hold."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.backends.ndjson import LineTooLong, MalformedLine, NdjsonSplitter

_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=10,
)
_objects = st.lists(st.dictionaries(_text, _json_values, max_size=5), max_size=12)


def _feed_in_pieces(data: bytes, cuts: list[int]) -> list[dict[str, Any]]:
    splitter = NdjsonSplitter()
    decoded: list[dict[str, Any]] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        decoded.extend(splitter.feed(data[start:cut]))
        start = cut
    decoded.extend(splitter.finish())
    return decoded


@given(_objects, st.data())
def test_objects_split_at_any_byte_positions_decode_to_the_same_list(
    objects: list[dict[str, Any]], data: st.DataObject
) -> None:
    body = b"".join(orjson.dumps(item) + b"\n" for item in objects)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=10))

    assert _feed_in_pieces(body, cuts) == objects


@given(_objects, st.data())
def test_blank_lines_between_objects_are_skipped_wherever_the_cuts_fall(
    objects: list[dict[str, Any]], data: st.DataObject
) -> None:
    blanks = data.draw(st.lists(st.sampled_from([b"", b"\r", b"  ", b"\t"]), min_size=len(objects)))
    body = b"".join(
        blank + b"\n" + orjson.dumps(item) + b"\n"
        for blank, item in zip(blanks, objects, strict=False)
    )
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=10))

    assert _feed_in_pieces(body, cuts) == objects


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1), st.data())
def test_a_token_split_inside_any_multibyte_character_comes_out_whole(
    text: str, data: st.DataObject
) -> None:
    line = orjson.dumps({"message": {"content": text}}) + b"\n"
    cut = data.draw(st.integers(min_value=0, max_value=len(line)))

    assert _feed_in_pieces(line, [cut]) == [{"message": {"content": text}}]


def test_u0085_and_unicode_line_separators_inside_a_token_are_not_line_breaks() -> None:
    content = "a\u0085b\u2028c\u2029d"
    line = b'{"content":"' + content.encode() + b'"}\n'

    assert NdjsonSplitter().feed(line) == [{"content": content}]


def test_crlf_line_endings_decode() -> None:
    assert NdjsonSplitter().feed(b'{"a":1}\r\n{"b":2}\r\n') == [{"a": 1}, {"b": 2}]


def test_an_unfinished_line_is_held_until_its_newline_arrives() -> None:
    splitter = NdjsonSplitter()

    assert splitter.feed(b'{"a":') == []
    assert splitter.pending_bytes == 5
    assert splitter.feed(b"1}\n") == [{"a": 1}]
    assert splitter.pending_bytes == 0


def test_finish_decodes_a_last_line_that_has_no_newline() -> None:
    splitter = NdjsonSplitter()
    splitter.feed(b'{"a":1}\n{"b":2}')

    assert splitter.finish() == [{"b": 2}]


def test_finish_with_only_whitespace_left_gives_nothing() -> None:
    splitter = NdjsonSplitter()
    splitter.feed(b'{"a":1}\n  ')

    assert splitter.finish() == []


def test_a_complete_line_over_the_limit_raises_naming_the_limit_and_the_line() -> None:
    splitter = NdjsonSplitter(max_line_bytes=16)

    with pytest.raises(LineTooLong, match=r"line 2 is longer than the limit of 16 bytes") as caught:
        splitter.feed(b'{"a":1}\n{"b":"' + b"x" * 20 + b'"}\n')

    assert caught.value.limit == 16
    assert caught.value.line_number == 2


def test_an_unfinished_line_over_the_limit_raises_before_its_newline() -> None:
    splitter = NdjsonSplitter(max_line_bytes=1024)
    splitter.feed(b'{"a":"' + b"x" * 1000)

    with pytest.raises(LineTooLong, match="1 KiB"):
        splitter.feed(b"x" * 100)


def test_a_line_exactly_at_the_limit_is_accepted() -> None:
    line = b'{"a":"' + b"x" * 10 + b'"}'
    splitter = NdjsonSplitter(max_line_bytes=len(line))

    assert splitter.feed(line + b"\n" + line + b"\n") == [{"a": "x" * 10}] * 2


def test_the_default_limit_is_4_mib() -> None:
    assert NdjsonSplitter().max_line_bytes == 4 * 1024 * 1024


def test_a_malformed_line_names_its_line_number_across_reads() -> None:
    splitter = NdjsonSplitter()
    splitter.feed(b'{"a":1}\n\n{"b"')
    splitter.feed(b":2}\n")

    with pytest.raises(MalformedLine, match=r"line 5 is not valid JSON.*'not json'") as caught:
        splitter.feed(b'{"c":3}\nnot json\n')

    assert caught.value.line_number == 5


def test_a_line_that_is_json_but_not_an_object_is_rejected() -> None:
    with pytest.raises(MalformedLine, match="line 2 is JSON but not an object"):
        NdjsonSplitter().feed(b'{"a":1}\n[1, 2]\n')


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        NdjsonSplitter(max_line_bytes=0)


def test_split_returns_raw_lines_blank_ones_included_and_holds_the_rest() -> None:
    splitter = NdjsonSplitter()

    assert splitter.split(b'{"a":1}\n\n{"b":2}\n{"c"') == [b'{"a":1}', b"", b'{"b":2}']
    assert splitter.lines_seen == 3
    assert splitter.pending_bytes == 4


def test_decode_names_line_numbers_counted_from_the_start_of_the_stream() -> None:
    splitter = NdjsonSplitter()
    splitter.split(b'{"a":1}\n{"b":2}\n')
    lines = splitter.split(b'{"c":3}\n\n{bad\n')

    with pytest.raises(MalformedLine, match="line 5 is not valid JSON"):
        splitter.decode(lines)


def test_flush_returns_an_unfinished_last_line_once() -> None:
    splitter = NdjsonSplitter()
    splitter.split(b'{"a":1}\n{"b":2}')

    assert splitter.flush() == [b'{"b":2}']
    assert splitter.flush() == []
    assert splitter.lines_seen == 2


@given(st.lists(st.binary().map(lambda raw: raw.replace(b"\n", b"")), max_size=8), st.data())
def test_split_gives_back_every_complete_line_whatever_the_cuts(
    lines: list[bytes], data: st.DataObject
) -> None:
    body = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=8)))
    splitter = NdjsonSplitter()
    got: list[bytes] = []
    start = 0
    for cut in [*cuts, len(body)]:
        got.extend(splitter.split(body[start:cut]))
        start = cut

    assert got == lines
    assert splitter.pending_bytes == 0


def _scan_one_line_in_reads(line_bytes: int, read_bytes: int) -> int:
    splitter = NdjsonSplitter(max_line_bytes=line_bytes + 16)
    body = b'{"a":"' + b"x" * (line_bytes - 8) + b'"}\n'
    for start in range(0, len(body), read_bytes):
        splitter.split(body[start : start + read_bytes])
    assert splitter.lines_seen == 1
    return splitter.bytes_scanned


def test_a_line_cut_into_many_reads_is_scanned_in_time_linear_in_its_length() -> None:
    # A line that never seems to end (a hostile or broken server) used to be
    # re-searched whole on every read: 4x the length cost 16x the work.
    short = _scan_one_line_in_reads(64 * 1024, 512)
    long = _scan_one_line_in_reads(256 * 1024, 512)

    assert long <= 4 * short + 1024
    assert long <= 2 * (256 * 1024 + 1)


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=2000), max_size=40))
def test_bytes_scanned_never_exceed_twice_the_bytes_fed(body: bytes, cuts: list[int]) -> None:
    splitter = NdjsonSplitter()
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(body)), len(body)]:
        splitter.split(body[start:cut])
        start = cut

    assert splitter.bytes_scanned <= 2 * len(body)


def test_the_held_part_of_a_line_counts_towards_the_limit_when_its_newline_comes() -> None:
    splitter = NdjsonSplitter(max_line_bytes=1024)
    splitter.split(b"x" * 1000)

    with pytest.raises(LineTooLong, match="line 1"):
        splitter.split(b"y" * 30 + b'\n{"a":1}\n')

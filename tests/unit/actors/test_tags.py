"""The tag parser: lexing across chunks, the vocabulary of TAGS.md, limits and drop counts."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiway.actors.protocol.avatar import (
    Anchor,
    AvatarSize,
    Gesture,
    Mood,
    MoveTo,
    PeekDirection,
    PlayGesture,
    PlayReaction,
    PointAt,
    Reaction,
    SetMood,
    SetSize,
    SetVisible,
    SetWander,
)
from aiway.actors.protocol.tasks import (
    TaskCelebrate,
    TaskDone,
    TaskFail,
    TaskFocus,
    TaskProgress,
    TaskStart,
)
from aiway.actors.tags import Command, TagParser

# What TAGS.md says a tag is, as a regular expression: `[yolla:`, a body without
# `]`, and `]`, 256 characters at most. The parser must agree with it.
ORACLE = re.compile(r"\[yolla:[^\]]{0,248}\]")


def parse_all(text: str, parser: TagParser | None = None) -> tuple[str, tuple[Command, ...]]:
    parser = parser or TagParser()
    released, commands = parser.feed(text)
    rest, _ = parser.finish()
    return released + rest, commands


def parse_chunks(chunks: list[str], parser: TagParser) -> tuple[list[str], list[Command]]:
    texts: list[str] = []
    commands: list[Command] = []
    for chunk in chunks:
        text, found = parser.feed(chunk)
        texts.append(text)
        commands.extend(found)
    rest, found = parser.finish()
    texts.append(rest)
    commands.extend(found)
    return texts, commands


def command_of(body: str) -> Command:
    parser = TagParser()
    text, commands = parse_all(f"[yolla:{body}]", parser)
    assert text == ""
    assert parser.dropped_total == 0, parser.dropped
    assert len(commands) == 1
    return commands[0]


def drop_reason_of(body: str) -> str:
    parser = TagParser()
    text, commands = parse_all(f"a[yolla:{body}]b", parser)
    assert text == "ab"
    assert commands == ()
    assert parser.dropped_total == 1
    return next(reason for reason, count in parser.dropped.items() if count)


# -- strategies -------------------------------------------------------------------

FRAGMENTS = [
    "[",
    "]",
    "[yolla:",
    "[yo",
    "[yolla",
    "yolla:",
    "wave",
    "mood happy",
    " ",
    "\n",
    "[yolla:wave]",
    "[yolla:nod]",
    "[yolla:move 30 40]",
    '[yolla:task start qa-engineer "test it"]',
    "[yolla:bogus]",
    "list[0]",
    "[note]",
    "x" * 60,
    "é",
    "🦎",
]
texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40).map(
    "".join
)

# Pieces that cannot combine into a `[yolla:` outside a tag: every `[` is either
# a whole tag's or followed, in its own piece, by a character that rules a tag out.
SAFE_PIECES = [
    "[yolla:wave]",
    "[yolla:mood happy]",
    "[yolla:bogus thing]",
    "[yolla:task done t1]",
    "[note]",
    "list[0]",
    "[a ",
    "[x]",
    "]",
    "yolla:",
    "wave",
]
safe_texts = st.lists(
    st.one_of(
        st.sampled_from(SAFE_PIECES), st.text(st.characters(blacklist_characters="["), max_size=8)
    ),
    max_size=40,
).map("".join)


@st.composite
def split(draw: st.DrawFn, text_strategy: st.SearchStrategy[str]) -> tuple[str, list[str]]:
    text = draw(text_strategy)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=20)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


# -- properties -----------------------------------------------------------------------


@given(split(texts))
def test_any_split_gives_the_same_text_commands_and_drops_as_one_shot(
    case: tuple[str, list[str]],
) -> None:
    text, chunks = case
    whole, chunked = TagParser(), TagParser()
    one_text, one_commands = parse_all(text, whole)
    texts, commands = parse_chunks(chunks, chunked)
    assert "".join(texts) == one_text
    assert tuple(commands) == one_commands
    assert chunked.dropped == whole.dropped


@given(texts)
def test_one_shot_output_matches_the_lexing_rule(text: str) -> None:
    parser = TagParser(max_commands=1000)
    clean, commands = parse_all(text, parser)
    assert clean == ORACLE.sub("", text)
    assert len(commands) + parser.dropped_total == len(ORACLE.findall(text))


@given(split(safe_texts))
def test_visible_text_never_contains_a_tag_prefix(case: tuple[str, list[str]]) -> None:
    _, chunks = case
    texts, _ = parse_chunks(chunks, TagParser())
    assert all("[yolla:" not in text for text in texts)
    assert "[yolla:" not in "".join(texts)


@given(split(texts))
def test_held_text_is_always_a_possible_tag_start(case: tuple[str, list[str]]) -> None:
    _, chunks = case
    parser = TagParser()
    for chunk in chunks:
        parser.feed(chunk)
        held = parser.held
        assert held == "" or held.startswith("[yolla:") or "[yolla:".startswith(held)
        assert len(held) < 256
        assert "]" not in held


# -- lexing -------------------------------------------------------------------------


def test_chunk_without_bracket_is_returned_as_is_with_a_shared_empty_tuple() -> None:
    parser = TagParser()
    chunk = "".join(["plain ", "text"])
    text, commands = parser.feed(chunk)
    assert text is chunk
    assert commands == ()
    assert commands is TagParser().feed("other")[1]


def test_chunk_with_only_non_tag_brackets_is_returned_as_is() -> None:
    chunk = "".join(["xs = list[0] ", "[note]"])
    text, _ = TagParser().feed(chunk)
    assert text is chunk


def test_tags_are_removed_and_turned_into_commands_in_order() -> None:
    text, commands = parse_all("Hola! [yolla:wave] [yolla:mood happy] Let me look.")
    assert text == "Hola!   Let me look."
    assert commands == (PlayGesture(Gesture.WAVE), SetMood(Mood.HAPPY))


@pytest.mark.parametrize(
    "text", ["list[0]", "[note]", "a ] b", "[yolla", "[Yolla:wave]", "[YOLLA:wave]"]
)
def test_brackets_that_are_not_tags_pass_through(text: str) -> None:
    assert parse_all(text) == (text, ())


def test_outer_bracket_before_a_tag_is_text() -> None:
    assert parse_all("[a [yolla:wave]") == ("[a ", (PlayGesture(Gesture.WAVE),))


def test_invalid_tag_is_removed_from_text_anyway() -> None:
    assert parse_all("a[yolla:mood grumpy]b") == ("ab", ())


def test_a_tag_runs_to_its_first_closing_bracket() -> None:
    parser = TagParser()
    assert parse_all("[yolla:x [yolla:wave] y]", parser) == (" y]", ())
    assert parser.dropped["unknown_command"] == 1


def test_tag_split_across_chunks_is_recognised() -> None:
    texts, commands = parse_chunks(["Hi [", "yo", "lla:wa", "ve] there"], TagParser())
    assert "".join(texts) == "Hi  there"
    assert commands == [PlayGesture(Gesture.WAVE)]


def test_only_the_possible_tag_suffix_is_held() -> None:
    parser = TagParser()
    assert parser.feed("Hi [yolla:wav") == ("Hi ", ())
    assert parser.held == "[yolla:wav"


def test_held_text_is_released_once_it_cannot_become_a_tag() -> None:
    parser = TagParser()
    parser.feed("Hi [yo")
    assert parser.feed("u there") == ("[you there", ())
    assert parser.held == ""


def test_lone_bracket_at_chunk_end_is_held_then_released() -> None:
    parser = TagParser()
    assert parser.feed("a[") == ("a", ())
    assert parser.feed("0]") == ("[0]", ())


def test_finish_releases_held_text() -> None:
    parser = TagParser()
    parser.feed("almost [yolla:wav")
    assert parser.finish() == ("[yolla:wav", ())
    assert parser.held == ""


def test_reset_discards_held_text() -> None:
    parser = TagParser()
    parser.feed("x [yolla:wa")
    parser.reset()
    assert parser.feed("ve]") == ("ve]", ())


def test_tag_of_exactly_256_characters_is_a_tag() -> None:
    tag = "[yolla:wave" + " " * 244 + "]"
    assert len(tag) == 256
    assert parse_all(tag) == ("", (PlayGesture(Gesture.WAVE),))


def test_tag_of_257_characters_is_text() -> None:
    tag = "[yolla:wave" + " " * 245 + "]"
    assert parse_all(tag) == (tag, ())


def test_held_text_is_released_when_it_passes_256_characters_without_bracket() -> None:
    parser = TagParser()
    start = "[yolla:" + "a" * 248
    assert parser.feed(start) == ("", ())
    assert parser.feed("a") == (start + "a", ())
    assert parser.held == ""


def test_tag_after_an_overlong_candidate_is_still_found() -> None:
    text = "[yolla:" + "a" * 300 + "[yolla:nod]"
    assert parse_all(text) == ("[yolla:" + "a" * 300, (PlayGesture(Gesture.NOD),))


# -- limits and counters ---------------------------------------------------------------------


def test_at_most_ten_commands_per_response_across_chunks() -> None:
    parser = TagParser()
    _, commands = parse_chunks(["[yolla:nod]" * 6, "[yolla:nod]" * 6], parser)
    assert len(commands) == 10
    assert parser.dropped["over_limit"] == 2


def test_finish_starts_a_new_response_with_a_fresh_limit() -> None:
    parser = TagParser()
    parse_all("[yolla:nod]" * 10, parser)
    assert parse_all("[yolla:nod]", parser) == ("", (PlayGesture(Gesture.NOD),))


def test_reset_starts_a_new_response_with_a_fresh_limit() -> None:
    parser = TagParser(max_commands=1)
    parser.feed("[yolla:nod]")
    parser.reset()
    assert parser.feed("[yolla:nod]") == ("", (PlayGesture(Gesture.NOD),))


def test_dropped_commands_do_not_use_up_the_limit() -> None:
    parser = TagParser(max_commands=1)
    _, commands = parse_all("[yolla:bogus][yolla:wave]", parser)
    assert commands == (PlayGesture(Gesture.WAVE),)


def test_max_commands_is_configurable() -> None:
    parser = TagParser(max_commands=2)
    _, commands = parse_all("[yolla:nod][yolla:wave][yolla:spin]", parser)
    assert len(commands) == 2
    assert parser.dropped["over_limit"] == 1


def test_dropped_total_is_the_sum_of_reasons_and_outlives_a_response() -> None:
    parser = TagParser(max_commands=1)
    parse_all("[yolla:nod][yolla:nod][yolla:bogus][yolla:mood x]", parser)
    parse_all("[yolla:task start nobody work]", parser)
    assert parser.dropped == {
        "unknown_command": 1,
        "bad_argument": 1,
        "over_limit": 1,
        "agent_not_allowed": 1,
    }
    assert parser.dropped_total == 4


# -- vocabulary -----------------------------------------------------------------------------


ALIASES: list[tuple[str, Command]] = [
    *[(f"mood {a}", SetMood(Mood.HAPPY)) for a in ("happy", "joy")],
    *[(f"mood {a}", SetMood(Mood.THINKING)) for a in ("thinking", "think", "ponder")],
    *[(f"mood {a}", SetMood(Mood.PLAYFUL)) for a in ("playful", "silly")],
    *[(f"mood {a}", SetMood(Mood.SHY)) for a in ("shy", "bashful")],
    *[(f"mood {a}", SetMood(Mood.EXCITED)) for a in ("excited", "eager")],
    *[(f"mood {a}", SetMood(Mood.CONFUSED)) for a in ("confused", "puzzled")],
    *[(f"mood {a}", SetMood(Mood.CALM)) for a in ("calm", "peaceful")],
    *[(f"mood {a}", SetMood(Mood.CURIOUS)) for a in ("curious", "interested")],
    *[(f"size {a}", SetSize(AvatarSize.TINY)) for a in ("tiny", "xs")],
    *[(f"size {a}", SetSize(AvatarSize.SMALL)) for a in ("small", "sm")],
    *[(f"size {a}", SetSize(AvatarSize.MEDIUM)) for a in ("medium", "md", "normal")],
    *[(f"size {a}", SetSize(AvatarSize.LARGE)) for a in ("large", "lg", "big")],
    *[(f"move {a}", MoveTo(Anchor.TOP_LEFT)) for a in ("tl", "topleft", "top-left")],
    *[(f"move {a}", MoveTo(Anchor.TOP_RIGHT)) for a in ("tr", "topright", "top-right")],
    *[(f"move {a}", MoveTo(Anchor.BOTTOM_LEFT)) for a in ("bl", "bottomleft", "bottom-left")],
    *[(f"move {a}", MoveTo(Anchor.BOTTOM_RIGHT)) for a in ("br", "bottomright", "bottom-right")],
    *[(f"move {a}", MoveTo(Anchor.CENTER)) for a in ("center", "middle")],
    ("move follow", MoveTo(Anchor.FOLLOW)),
    ("follow", MoveTo(Anchor.FOLLOW)),
    ("move 30 40", MoveTo(Anchor.PERCENT, 30, 40)),
    ("move 0 100", MoveTo(Anchor.PERCENT, 0, 100)),
    ("move 150 999", MoveTo(Anchor.PERCENT, 100, 100)),
    ("point 10 90", PointAt(10, 90)),
    ("wander", SetWander(True)),
    ("stop", SetWander(False)),
    ("show", SetVisible(True)),
    ("hide", SetVisible(False)),
    *[
        (g, PlayGesture(Gesture(g)))
        for g in ("wave", "nod", "shake", "bounce", "spin", "dance", "swim", "stretch")
    ],
    ("yawn", PlayGesture(Gesture.YAWN)),
    ("wiggle", PlayGesture(Gesture.WIGGLE)),
    ("peek", PlayGesture(Gesture.PEEK, PeekDirection.RIGHT)),
    *[(f"peek {a}", PlayGesture(Gesture.PEEK, PeekDirection.LEFT)) for a in ("left", "l")],
    *[(f"peek {a}", PlayGesture(Gesture.PEEK, PeekDirection.RIGHT)) for a in ("right", "r")],
    *[(f"peek {a}", PlayGesture(Gesture.PEEK, PeekDirection.TOP)) for a in ("top", "up", "t")],
    *[
        (f"peek {a}", PlayGesture(Gesture.PEEK, PeekDirection.BOTTOM))
        for a in ("bottom", "down", "b")
    ],
    ("peek sideways", PlayGesture(Gesture.PEEK, PeekDirection.RIGHT)),
    *[(f"react {a}", PlayReaction(Reaction.LAUGH)) for a in ("laugh", "lol", "haha")],
    *[(f"react {a}", PlayReaction(Reaction.GASP)) for a in ("gasp", "surprise", "wow")],
    *[(f"react {a}", PlayReaction(Reaction.HMM)) for a in ("hmm", "think", "ponder")],
    *[(f"react {a}", PlayReaction(Reaction.TADA)) for a in ("tada", "celebrate", "yay")],
    *[(f"react {a}", PlayReaction(Reaction.OOPS)) for a in ("oops", "error", "mistake")],
    *[(f"react {a}", PlayReaction(Reaction.LOVE)) for a in ("love", "heart", "adore")],
    *[(f"react {a}", PlayReaction(Reaction.BLUSH)) for a in ("blush", "shy", "embarrassed")],
    *[(f"react {a}", PlayReaction(Reaction.WINK)) for a in ("wink", "flirt")],
    *[(f"react {a}", PlayReaction(Reaction.CRY)) for a in ("cry", "sad", "tears")],
    *[(f"react {a}", PlayReaction(Reaction.ANGRY)) for a in ("angry", "mad", "frustrated")],
    *[(f"react {a}", PlayReaction(Reaction.SLEEPY)) for a in ("sleepy", "tired", "zzz")],
    *[(f"react {a}", PlayReaction(Reaction.DIZZY)) for a in ("dizzy", "confused", "spinning")],
    *[(s, PlayReaction(Reaction(s))) for s in ("laugh", "gasp", "tada", "oops", "love", "wink")],
    ("task start backend-engineer Build the API", TaskStart("backend-engineer", "Build the API")),
    ("task progress 40", TaskProgress(None, 40)),
    ("task progress t2 40", TaskProgress("t2", 40)),
    ("task progress t2 40%", TaskProgress("t2", 40)),
    ("task done", TaskDone(None)),
    ("task done t2", TaskDone("t2")),
    ("task fail", TaskFail(None)),
    ("task fail t2", TaskFail("t2")),
    ("task fail t2 disk full", TaskFail("t2", "disk full")),
    ("task fail disk full", TaskFail(None, "disk full")),
    ('task fail t2 "timed out"', TaskFail("t2", "timed out")),
    ("task focus", TaskFocus(None)),
    ("task focus t2", TaskFocus("t2")),
    ("task point t2", TaskFocus("t2")),
    ("task hover t2", TaskFocus("t2")),
    ("task celebrate", TaskCelebrate(None)),
    ("task celebrate t2", TaskCelebrate("t2")),
    ("point task t2", TaskFocus("t2")),
    ("focus task t2", TaskFocus("t2")),
    ("celebrate task t2", TaskCelebrate("t2")),
    (" wave ", PlayGesture(Gesture.WAVE)),
]


@pytest.mark.parametrize(("body", "expected"), ALIASES, ids=[body for body, _ in ALIASES])
def test_tag_means_its_command(body: str, expected: Command) -> None:
    assert command_of(body) == expected


def test_task_fail_without_reason_defaults_to_unknown_error() -> None:
    command = command_of("task fail t1")
    assert isinstance(command, TaskFail)
    assert command.reason == "unknown error"


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ('"Build the API"', "Build the API"),
        ("'Build the API'", "Build the API"),
        ("“Build the API”", "Build the API"),
        ('" Build the API "', "Build the API"),
        ("Build  the API ", "Build  the API"),
        ('"Build the API', '"Build the API'),
        ('Say "hi"', 'Say "hi"'),
    ],
)
def test_task_start_description_is_the_rest_with_surrounding_quotes_trimmed(
    description: str, expected: str
) -> None:
    assert command_of(f"task start qa-engineer {description}") == TaskStart("qa-engineer", expected)


def test_task_start_with_an_extended_allow_list_accepts_the_new_agent() -> None:
    parser = TagParser(agents={"bard": "Uncle Song"})
    _, commands = parse_all("[yolla:task start bard sing]", parser)
    assert commands == (TaskStart("bard", "sing"),)


BAD_ARGUMENTS = [
    "mood",
    "mood happy sad",
    "mood Happy",
    "mood grumpy",
    "size",
    "size huge",
    "move",
    "move nowhere",
    "move 10",
    "move 1 2 3",
    "move -1 5",
    "move a b",
    "move 1.5 2",
    "point",
    "point 10",
    "point 101 5",
    "point 5 -1",
    "point x y",
    "point 1 2 3",
    "wave hello",
    "follow me",
    "laugh loudly",
    "peek left right",
    "react",
    "react meh",
    "react laugh gasp",
    "task",
    "task start",
    "task start qa-engineer",
    'task start qa-engineer ""',
    "task start qa-engineer bad\x1bdescription",
    "task start qa-engineer two\nlines",
    "task progress",
    "task progress 101",
    "task progress -5",
    "task progress t1 lots",
    "task progress bad!id 50",
    "task progress t1 50 60",
    "task done t1 t2",
    "task done bad!id",
    "task done " + "a" * 101,
    "task focus bad!id",
    "task celebrate t1 t2",
    "task fail t1 bad\x07reason",
    "point task bad!id",
    "celebrate task t1 t2",
]


@pytest.mark.parametrize("body", BAD_ARGUMENTS, ids=repr)
def test_bad_argument_is_dropped_and_counted(body: str) -> None:
    assert drop_reason_of(body) == "bad_argument"


UNKNOWN = ["", "   ", "Wave", "dance-off", "task explode", "celebrate", "focus t1", "yolla"]


@pytest.mark.parametrize("body", UNKNOWN, ids=repr)
def test_unknown_command_is_dropped_and_counted(body: str) -> None:
    assert drop_reason_of(body) == "unknown_command"


def test_task_start_for_an_agent_off_the_allow_list_is_dropped_and_counted() -> None:
    assert drop_reason_of("task start hacker-man do crimes") == "agent_not_allowed"


def test_task_id_of_100_characters_is_accepted() -> None:
    assert command_of("task done " + "a" * 100) == TaskDone("a" * 100)

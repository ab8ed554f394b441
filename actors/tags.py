"""The streaming `[yolla:...]` tag parser: clean text out, avatar and task commands aside.

The Conductor feeds ``TagParser`` each streamed chunk of an answer. The parser
removes every tag from the visible text, turns each one into a protocol
command (see docs/TAGS.md for the vocabulary), and holds back only a
suffix that could still become a tag. Its output does not depend on how the
answer was split into chunks. It owns the per-response command limit and counts
every dropped command by reason.

Lexing, precisely: at each ``[`` not inside an earlier tag, a tag starts if the
text there begins with ``[yolla:`` and its first ``]`` comes within 256
characters (brackets included); the tag runs to that ``]``. Any other ``[`` is
text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final, TypeAlias, TypeVar

from aiway.actors.protocol.avatar import (
    Anchor,
    AvatarCommand,
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
    TaskCommand,
    TaskDone,
    TaskFail,
    TaskFocus,
    TaskProgress,
    TaskStart,
)
from aiway.actors.tasks import (
    DEFAULT_AGENTS,
    is_issued_task_id,
    is_valid_description,
    is_valid_reason,
    is_valid_task_id,
)

_log = logging.getLogger(__name__)

Command: TypeAlias = AvatarCommand | TaskCommand
"""Anything a tag can ask for."""

TAG_PREFIX: Final = "[yolla:"
MAX_TAG_LENGTH: Final = 256
"""Longest tag, brackets included; a candidate that grows past it is text."""
MAX_COMMANDS_PER_RESPONSE: Final = 10

UNKNOWN_COMMAND: Final = "unknown_command"
BAD_ARGUMENT: Final = "bad_argument"
OVER_LIMIT: Final = "over_limit"
AGENT_NOT_ALLOWED: Final = "agent_not_allowed"
DROP_REASONS: Final = (UNKNOWN_COMMAND, BAD_ARGUMENT, OVER_LIMIT, AGENT_NOT_ALLOWED)
"""Every reason the parser drops a command for (the keys of ``TagParser.dropped``)."""

_PREFIX_LENGTH: Final = len(TAG_PREFIX)
_NO_COMMANDS: tuple[Command, ...] = ()
_QUOTE_PAIRS: Final = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}

_Key = TypeVar("_Key")
_Made = TypeVar("_Made")


def _expand(
    groups: Mapping[_Key, tuple[str, ...]], make: Callable[[_Key], _Made]
) -> dict[str, _Made]:
    """Map every alias to one shared, prebuilt command."""
    table: dict[str, _Made] = {}
    for key, aliases in groups.items():
        built = make(key)
        table.update(dict.fromkeys(aliases, built))
    return table


_MOODS: Final = _expand(
    {
        Mood.HAPPY: ("happy", "joy"),
        Mood.THINKING: ("thinking", "think", "ponder"),
        Mood.PLAYFUL: ("playful", "silly"),
        Mood.SHY: ("shy", "bashful"),
        Mood.EXCITED: ("excited", "eager"),
        Mood.CONFUSED: ("confused", "puzzled"),
        Mood.CALM: ("calm", "peaceful"),
        Mood.CURIOUS: ("curious", "interested"),
    },
    SetMood,
)
_SIZES: Final = _expand(
    {
        AvatarSize.TINY: ("tiny", "xs"),
        AvatarSize.SMALL: ("small", "sm"),
        AvatarSize.MEDIUM: ("medium", "md", "normal"),
        AvatarSize.LARGE: ("large", "lg", "big"),
    },
    SetSize,
)
_ANCHORS: Final = _expand(
    {
        Anchor.TOP_LEFT: ("tl", "topleft", "top-left"),
        Anchor.TOP_RIGHT: ("tr", "topright", "top-right"),
        Anchor.BOTTOM_LEFT: ("bl", "bottomleft", "bottom-left"),
        Anchor.BOTTOM_RIGHT: ("br", "bottomright", "bottom-right"),
        Anchor.CENTER: ("center", "middle"),
        Anchor.FOLLOW: ("follow",),
    },
    MoveTo,
)
_REACTIONS: Final = _expand(
    {
        Reaction.LAUGH: ("laugh", "lol", "haha"),
        Reaction.GASP: ("gasp", "surprise", "wow"),
        Reaction.HMM: ("hmm", "think", "ponder"),
        Reaction.TADA: ("tada", "celebrate", "yay"),
        Reaction.OOPS: ("oops", "error", "mistake"),
        Reaction.LOVE: ("love", "heart", "adore"),
        Reaction.BLUSH: ("blush", "shy", "embarrassed"),
        Reaction.WINK: ("wink", "flirt"),
        Reaction.CRY: ("cry", "sad", "tears"),
        Reaction.ANGRY: ("angry", "mad", "frustrated"),
        Reaction.SLEEPY: ("sleepy", "tired", "zzz"),
        Reaction.DIZZY: ("dizzy", "confused", "spinning"),
    },
    PlayReaction,
)
_PEEKS: Final = _expand(
    {
        PeekDirection.LEFT: ("left", "l"),
        PeekDirection.RIGHT: ("right", "r"),
        PeekDirection.TOP: ("top", "up", "t"),
        PeekDirection.BOTTOM: ("bottom", "down", "b"),
    },
    lambda direction: PlayGesture(Gesture.PEEK, direction),
)
_PEEK_RIGHT: Final = _PEEKS["right"]
_SHORTCUTS: Final = ("laugh", "gasp", "tada", "oops", "love", "wink")
_BARE: Final[dict[str, Command]] = {
    "follow": _ANCHORS["follow"],
    "wander": SetWander(True),
    "stop": SetWander(False),
    "show": SetVisible(True),
    "hide": SetVisible(False),
    **{gesture.value: PlayGesture(gesture) for gesture in Gesture if gesture is not Gesture.PEEK},
    **{shortcut: _REACTIONS[shortcut] for shortcut in _SHORTCUTS},
}
"""Commands that take no argument, prebuilt and shared."""


def _number(text: str) -> int | None:
    """A non-negative ASCII integer, or None."""
    return int(text) if text.isascii() and text.isdigit() else None


def _percent(text: str) -> int | None:
    """An integer 0-100, with an optional trailing ``%``, or None."""
    value = _number(text.removesuffix("%"))
    return value if value is not None and value <= 100 else None


def _unquote(text: str) -> str:
    """``text`` stripped, without one pair of surrounding quotes."""
    text = text.strip()
    if len(text) >= 2 and _QUOTE_PAIRS.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def _one_of(args: list[str], table: Mapping[str, Command]) -> Command | str:
    if len(args) != 1:
        return BAD_ARGUMENT
    return table.get(args[0], BAD_ARGUMENT)


def _task_id_only(args: list[str], make: Callable[[str | None], Command]) -> Command | str:
    """``[id]``: a command for the given id, or for the most recent open task."""
    if not args:
        return make(None)
    if len(args) == 1 and is_valid_task_id(args[0]):
        return make(args[0])
    return BAD_ARGUMENT


def _move(args: list[str]) -> Command | str:
    if len(args) == 1:
        return _ANCHORS.get(args[0], BAD_ARGUMENT)
    if len(args) == 2:
        x, y = _number(args[0]), _number(args[1])
        if x is not None and y is not None:
            return MoveTo(Anchor.PERCENT, min(x, 100), min(y, 100))
    return BAD_ARGUMENT


def _point(args: list[str]) -> Command | str:
    if args[:1] == ["task"]:
        return _task_id_only(args[1:], TaskFocus)
    if len(args) == 2:
        x, y = _number(args[0]), _number(args[1])
        if x is not None and y is not None and x <= 100 and y <= 100:
            return PointAt(x, y)
    return BAD_ARGUMENT


def _peek(args: list[str]) -> Command | str:
    if not args:
        return _PEEK_RIGHT
    if len(args) == 1:
        return _PEEKS.get(args[0], _PEEK_RIGHT)
    return BAD_ARGUMENT


def _legacy_task(make: Callable[[str | None], Command]) -> Callable[[list[str]], Command | str]:
    """``celebrate task ID`` / ``focus task ID``, as the ancestor's personas teach."""

    def parse(args: list[str]) -> Command | str:
        if args[:1] != ["task"]:
            return UNKNOWN_COMMAND
        return _task_id_only(args[1:], make)

    return parse


_ARGUMENT_COMMANDS: Final[dict[str, Callable[[list[str]], Command | str]]] = {
    "mood": lambda args: _one_of(args, _MOODS),
    "size": lambda args: _one_of(args, _SIZES),
    "react": lambda args: _one_of(args, _REACTIONS),
    "move": _move,
    "point": _point,
    "peek": _peek,
    "celebrate": _legacy_task(TaskCelebrate),
    "focus": _legacy_task(TaskFocus),
}


class TagParser:
    """Incremental parser of one response at a time.

    Call ``feed`` per chunk and ``finish`` at the end of the response; the
    concatenated text and commands equal those of feeding the whole response at
    once. ``dropped`` and ``dropped_total`` accumulate over the parser's life.
    """

    def __init__(
        self,
        *,
        max_commands: int = MAX_COMMANDS_PER_RESPONSE,
        agents: Mapping[str, str] = DEFAULT_AGENTS,
    ) -> None:
        """``max_commands`` bounds commands per response; ``agents`` is the task allow-list."""
        self._max_commands = max_commands
        self._agents = agents
        self._held = ""
        self._accepted = 0
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        """Commands dropped so far, by reason."""

    @property
    def dropped_total(self) -> int:
        """All commands dropped so far."""
        return sum(self.dropped.values())

    @property
    def held(self) -> str:
        """The suffix held back because it could still become a tag ("" if none)."""
        return self._held

    def feed(self, chunk: str) -> tuple[str, tuple[Command, ...]]:
        """Take the next chunk; return the text releasable now and the commands found.

        Never raises on any input. If nothing is held and ``chunk`` has no
        ``[``, returns ``chunk`` itself and a shared empty tuple.
        """
        if not self._held and "[" not in chunk:
            return chunk, _NO_COMMANDS
        if self._held:
            chunk = self._held + chunk
            self._held = ""
        return self._scan(chunk)

    def finish(self) -> tuple[str, tuple[Command, ...]]:
        """End the response: release anything held as text, and start a new response."""
        text = self._held
        self.reset()
        return text, _NO_COMMANDS

    def reset(self) -> None:
        """Start a new response: discard anything held and the response's command count."""
        self._held = ""
        self._accepted = 0

    def _scan(self, text: str) -> tuple[str, tuple[Command, ...]]:
        pieces: list[str] = []
        commands: list[Command] = []
        start = 0  # first character not yet released or consumed
        pos = 0
        end = len(text)
        size = end
        while (i := text.find("[", pos)) >= 0:
            if text.startswith(TAG_PREFIX, i):
                close = text.find("]", i + _PREFIX_LENGTH, i + MAX_TAG_LENGTH)
                if close >= 0:
                    pieces.append(text[start:i])
                    self._take(text[i + _PREFIX_LENGTH : close], commands)
                    start = pos = close + 1
                    continue
                if size - i < MAX_TAG_LENGTH:  # the `]` may still come
                    end = i
                    break
            elif size - i < _PREFIX_LENGTH and TAG_PREFIX.startswith(text[i:]):
                end = i
                break
            pos = i + 1
        self._held = text[end:]
        if not pieces:
            released = text[start:end]  # the very object when start=0 and end=size
        else:
            pieces.append(text[start:end])
            released = "".join(pieces)
        return released, tuple(commands) if commands else _NO_COMMANDS

    def _take(self, body: str, commands: list[Command]) -> None:
        """Turn one tag's body into a command, or count why it is dropped."""
        found = self._interpret(body)
        if isinstance(found, str):
            self._drop(found, body)
        elif self._accepted >= self._max_commands:
            self._drop(OVER_LIMIT, body)
        else:
            self._accepted += 1
            commands.append(found)

    def _drop(self, reason: str, body: str) -> None:
        self.dropped[reason] += 1
        _log.debug("tag dropped (%s): [yolla:%s]", reason, body[:80])

    def _interpret(self, body: str) -> Command | str:
        """The command a tag's body asks for, or the reason it is dropped."""
        args = body.split()
        if not args:
            return UNKNOWN_COMMAND
        name = args.pop(0)
        bare = _BARE.get(name)
        if bare is not None:
            return bare if not args else BAD_ARGUMENT
        if name == "task":
            return self._task(body, args)
        parse = _ARGUMENT_COMMANDS.get(name)
        return parse(args) if parse is not None else UNKNOWN_COMMAND

    def _task(self, body: str, args: list[str]) -> Command | str:
        if not args:
            return BAD_ARGUMENT
        action = args[0]
        if action == "start":
            return self._task_start(body)
        if action == "progress":
            return _task_progress(args[1:])
        if action == "done":
            return _task_id_only(args[1:], TaskDone)
        if action == "fail":
            return _task_fail(body)
        if action in ("focus", "point", "hover"):
            return _task_id_only(args[1:], TaskFocus)
        if action == "celebrate":
            return _task_id_only(args[1:], TaskCelebrate)
        return UNKNOWN_COMMAND

    def _task_start(self, body: str) -> Command | str:
        # task start AGENT description...: the description keeps its own spacing.
        parts = body.split(maxsplit=3)
        if len(parts) < 3:
            return BAD_ARGUMENT
        agent = parts[2]
        if agent not in self._agents:
            return AGENT_NOT_ALLOWED
        description = _unquote(parts[3]) if len(parts) == 4 else ""
        if not is_valid_description(description):
            return BAD_ARGUMENT
        return TaskStart(agent, description)


def _task_progress(args: list[str]) -> Command | str:
    if len(args) == 1:
        percent = _percent(args[0])
        return TaskProgress(None, percent) if percent is not None else BAD_ARGUMENT
    if len(args) == 2 and is_valid_task_id(args[0]):
        percent = _percent(args[1])
        return TaskProgress(args[0], percent) if percent is not None else BAD_ARGUMENT
    return BAD_ARGUMENT


def _task_fail(body: str) -> Command | str:
    # task fail [ID] reason...: the first word is an id only if it has the form the
    # tracker issues, so `task fail timeout` keeps its whole reason.
    parts = body.split(maxsplit=2)
    if len(parts) < 3:
        return TaskFail(None)
    words = parts[2].split(maxsplit=1)
    task_id: str | None = None
    reason = parts[2]
    if is_issued_task_id(words[0]):
        task_id = words[0]
        reason = words[1] if len(words) == 2 else ""
    reason = _unquote(reason)
    if not reason:
        return TaskFail(task_id)
    if not is_valid_reason(reason):
        return BAD_ARGUMENT
    return TaskFail(task_id, reason)

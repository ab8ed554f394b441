"""Style names the renderer paints with, and the colours each one means on a terminal.

The renderer only names styles (``"user"``, ``"meta"``, ``"avatar:salmon"``);
the curses layer turns each name into an attribute once, at start-up, so a
test grid can record the names and a terminal gets colours. Avatar colours
have colour pairs of their own, one per sprite colour name.
"""

from __future__ import annotations

from typing import Final

TEXT: Final = "text"
USER: Final = "user"
ASSISTANT: Final = "assistant"
META: Final = "meta"
ERROR: Final = "error"
NOTE_INFO: Final = "note_info"
NOTE_WARNING: Final = "note_warning"
NOTE_ERROR: Final = "note_error"
RULE: Final = "rule"
PROMPT: Final = "prompt"
INPUT: Final = "input"
CURSOR: Final = "cursor"
STATUS: Final = "status"
STATUS_BUSY: Final = "status_busy"
STATUS_ERROR: Final = "status_error"
TASK_TITLE: Final = "task_title"
TASK_TEXT: Final = "task_text"
BAR_DONE: Final = "bar_done"
BAR_TODO: Final = "bar_todo"
TASK_OK: Final = "task_ok"
TASK_FAILED: Final = "task_failed"
HEADER: Final = "header"
WARNING: Final = "warning"
# markdown in answers
HEADING: Final = "md_heading"
STRONG: Final = "md_strong"
EMPHASIS: Final = "md_emphasis"
STRIKE: Final = "md_strike"
LINK: Final = "md_link"
QUOTE: Final = "md_quote"
CODE_INLINE: Final = "md_code_inline"
CODE: Final = "md_code"
CODE_LABEL: Final = "md_code_label"
TABLE_HEAD: Final = "md_table_head"
SYN_KEYWORD: Final = "syn_keyword"
SYN_BUILTIN: Final = "syn_builtin"
SYN_FUNCTION: Final = "syn_function"
SYN_STRING: Final = "syn_string"
SYN_NUMBER: Final = "syn_number"
SYN_COMMENT: Final = "syn_comment"

AVATAR_PREFIX: Final = "avatar:"

NOTE_STYLES: Final = {"info": NOTE_INFO, "warning": NOTE_WARNING, "error": NOTE_ERROR}

# Attribute flags, independent of curses so this module stays importable anywhere.
BOLD: Final = 1
DIM: Final = 2
REVERSE: Final = 4
ITALIC: Final = 8
UNDERLINE: Final = 16

#: style -> (foreground, background, flags) as (256-colour, 8-colour) pairs; -1 is the default
PALETTE: Final[dict[str, tuple[tuple[int, int], tuple[int, int], int]]] = {
    TEXT: ((-1, -1), (-1, -1), 0),
    USER: ((75, 6), (-1, -1), BOLD),
    ASSISTANT: ((209, 5), (-1, -1), BOLD),
    META: ((244, 7), (-1, -1), DIM),
    ERROR: ((203, 1), (-1, -1), BOLD),
    NOTE_INFO: ((110, 6), (-1, -1), 0),
    NOTE_WARNING: ((221, 3), (-1, -1), 0),
    NOTE_ERROR: ((203, 1), (-1, -1), BOLD),
    RULE: ((240, 4), (-1, -1), 0),
    PROMPT: ((209, 5), (-1, -1), BOLD),
    INPUT: ((-1, -1), (-1, -1), 0),
    CURSOR: ((-1, -1), (-1, -1), REVERSE),
    STATUS: ((252, 7), (236, 0), 0),
    STATUS_BUSY: ((16, 0), (209, 3), BOLD),
    STATUS_ERROR: ((231, 7), (160, 1), BOLD),
    TASK_TITLE: ((209, 5), (-1, -1), BOLD),
    TASK_TEXT: ((252, 7), (-1, -1), 0),
    BAR_DONE: ((78, 2), (-1, -1), 0),
    BAR_TODO: ((238, 4), (-1, -1), 0),
    TASK_OK: ((78, 2), (-1, -1), BOLD),
    TASK_FAILED: ((203, 1), (-1, -1), BOLD),
    HEADER: ((209, 5), (-1, -1), BOLD),
    WARNING: ((221, 3), (-1, -1), BOLD),
    HEADING: ((209, 5), (-1, -1), BOLD),
    STRONG: ((-1, -1), (-1, -1), BOLD),
    EMPHASIS: ((-1, -1), (-1, -1), ITALIC),
    STRIKE: ((244, 7), (-1, -1), DIM),
    LINK: ((75, 6), (-1, -1), UNDERLINE),
    QUOTE: ((248, 7), (-1, -1), ITALIC),
    CODE_INLINE: ((216, 3), (-1, -1), 0),
    CODE: ((252, 7), (-1, -1), 0),
    CODE_LABEL: ((244, 7), (-1, -1), DIM),
    TABLE_HEAD: ((-1, -1), (-1, -1), BOLD),
    SYN_KEYWORD: ((176, 5), (-1, -1), BOLD),
    SYN_BUILTIN: ((80, 6), (-1, -1), 0),
    SYN_FUNCTION: ((117, 4), (-1, -1), 0),
    SYN_STRING: ((150, 2), (-1, -1), 0),
    SYN_NUMBER: ((215, 3), (-1, -1), 0),
    SYN_COMMENT: ((244, 7), (-1, -1), DIM),
}

#: the 256-colour foregrounds (and backgrounds) that change on a light background
LIGHT: Final[dict[str, tuple[int, int]]] = {
    USER: (25, -1),
    ASSISTANT: (166, -1),
    META: (240, -1),
    NOTE_INFO: (24, -1),
    NOTE_WARNING: (130, -1),
    RULE: (248, -1),
    PROMPT: (166, -1),
    STATUS: (236, 252),
    TASK_TITLE: (166, -1),
    TASK_TEXT: (238, -1),
    BAR_TODO: (250, -1),
    HEADER: (166, -1),
    WARNING: (130, -1),
    HEADING: (166, -1),
    LINK: (25, -1),
    QUOTE: (242, -1),
    CODE_INLINE: (130, -1),
    CODE: (236, -1),
    CODE_LABEL: (240, -1),
    SYN_KEYWORD: (127, -1),
    SYN_BUILTIN: (30, -1),
    SYN_FUNCTION: (25, -1),
    SYN_STRING: (28, -1),
    SYN_NUMBER: (130, -1),
    SYN_COMMENT: (242, -1),
}

THEMES: Final = ("dark", "light", "none")


def palette(theme: str) -> dict[str, tuple[tuple[int, int], tuple[int, int], int]]:
    """The palette of a theme: ``none`` has no colour at all (attributes only)."""
    if theme == "none":
        return {name: ((-1, -1), (-1, -1), flags) for name, (_, _, flags) in PALETTE.items()}
    if theme != "light":
        return dict(PALETTE)
    themed = dict(PALETTE)
    for name, (foreground, background) in LIGHT.items():
        (_, basic_fg), (rich_bg, basic_bg), flags = PALETTE[name]
        themed[name] = (
            (foreground, basic_fg),
            (background if background != -1 else rich_bg, basic_bg),
            flags,
        )
    return themed


#: sprite colour name -> (256-colour, 8-colour)
AVATAR_COLOURS: Final[dict[str, tuple[int, int]]] = {
    "black": (16, 0),
    "white": (231, 7),
    "gray": (245, 7),
    "red": (196, 1),
    "rose": (211, 5),
    "pink": (218, 5),
    "salmon": (209, 1),
    "coral": (203, 1),
    "orange": (208, 3),
    "yellow": (226, 3),
    "green": (71, 2),
    "cyan": (51, 6),
    "blue": (33, 4),
    "purple": (135, 5),
    "magenta": (201, 5),
}


def avatar_style(colour: str) -> str:
    """The style name of one sprite colour."""
    return AVATAR_PREFIX + colour

"""Answers as markdown: display lines with styled spans, rendered while they stream.

``render`` turns markdown (parsed by markdown-it-py, CommonMark plus tables
and strikethrough) into display lines at one width: headings, emphasis,
lists, block quotes, inline code, links (their text, then the address),
tables laid out in columns, and fenced code blocks under a label with their
language, coloured by pygments and never re-wrapped (a line too long is
clipped, with a marker). A ``Line`` is ``(text, style)``, or ``(text, style,
marks)`` where each mark paints ``text`` in ``style`` from a cell column on.

``MarkdownStream`` is the streaming side: text is split into blocks at blank
lines outside code fences (a blank line followed by an indented line does
not end a block: it may continue a list item). A finished block is rendered
once and kept; each ``feed`` re-renders only the unfinished tail, and a code
fence still open is laid out line by line as its lines complete. When the
answer ends, the entry renders its whole text once more, in one piece.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.token import _TokenType
from pygments.util import ClassNotFound

from aiway.ui.tui import styles
from aiway.ui.tui.text import cell_width, fit, wrap

Mark = tuple[int, str, str]
"""A styled span: its first cell column in the line, its text, its style."""
Marks = tuple[Mark, ...]
Line = tuple[str, str] | tuple[str, str, Marks]
"""One display line: its text and base style, and maybe spans painted over it."""

CLIP_MARK = "→"
ELLIPSIS = "…"
BULLETS = ("•", "◦", "▪")
QUOTE_BAR = "│ "

_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render(source: str, width: int, indent: str = "") -> list[Line]:
    """The display lines of markdown ``source`` at ``width`` cells (``indent`` included)."""
    writer = _Writer(width, indent)
    writer.blocks(_PARSER.parse(source))
    return writer.lines


def code_blocks(source: str) -> list[str]:
    """The text of each fenced or indented code block of ``source``, in order."""
    return [
        token.content for token in _PARSER.parse(source) if token.type in ("fence", "code_block")
    ]


# -- streaming ----------------------------------------------------------------------------


class MarkdownStream:
    """Markdown that grows at its end; see the module docstring."""

    def __init__(self, width: int, indent: str = "") -> None:
        self.width = width
        self.indent = indent
        self.source = ""
        #: lines of the finished blocks, in order; only ever appended to
        self.done: list[Line] = []
        #: lines of the unfinished tail (re-rendered by each feed)
        self.tail: list[Line] = []
        self._block_start = 0  # where the unfinished block starts in ``source``
        self._scan = 0  # the start of the first line not yet classified
        self._fence: str | None = None  # the open fence's marker, if a fence is open
        self._fence_lang = ""
        self._fence_body = 0  # where the open fence's code starts
        self._fence_lines: list[Line] = []  # its complete lines, laid out one by one
        self._fence_upto = 0
        #: a blank line was seen: the block ends unless an indented line follows
        self._blank_pending = False

    def feed(self, text: str) -> None:
        """Append ``text`` and bring ``done`` and ``tail`` up to date."""
        self.source += text
        self._classify()
        self._render_tail()

    # -- internals ---------------------------------------------------------------------

    def _classify(self) -> None:
        source = self.source
        while True:
            end = source.find("\n", self._scan)
            if end < 0:
                return
            start, self._scan = self._scan, end + 1
            line = source[start:end]
            stripped = line.strip()
            if self._fence is not None:
                if stripped.startswith(self._fence) and not stripped.strip(self._fence[0]):
                    self._close_block(end + 1)
                    self._fence = None
                continue
            marker = _fence_marker(line)
            if self._blank_pending and stripped:
                self._blank_pending = False
                if not line[:1].isspace():
                    self._close_block(start)
            if marker is not None:
                if source[self._block_start : start].strip():
                    self._close_block(start)  # a fence interrupts the paragraph before it
                self._block_start = start
                self._fence = marker
                self._fence_lang = line.strip()[len(marker) :].strip().split(" ")[0]
                self._fence_body = end + 1
                self._fence_lines = []
                self._fence_upto = end + 1
            elif not stripped and source[self._block_start : start].strip():
                self._blank_pending = True

    def _close_block(self, end: int) -> None:
        block = self.source[self._block_start : end]
        self._block_start = end
        if not block.strip():
            return
        lines = render(block, self.width, self.indent)
        if lines:
            if self.done:
                self.done.append((self.indent.rstrip(), styles.TEXT))
            self.done.extend(lines)

    def _render_tail(self) -> None:
        tail = self.source[self._block_start :]
        lines: list[Line] = []
        if self.done and tail.strip():
            lines.append((self.indent.rstrip(), styles.TEXT))
        if self._fence is not None:
            # complete code lines are laid out once each; only the last one changes
            complete = self.source.rfind("\n", self._fence_upto - 1) + 1
            if complete > self._fence_upto:
                code = self.source[self._fence_upto : complete - 1]
                self._fence_lines.extend(
                    _code_lines(code, self._fence_lang, self.width, self.indent)
                )
                self._fence_upto = complete
            lines.append(_code_label(self._fence_lang, self.width, self.indent))
            lines.extend(self._fence_lines)
            partial = self.source[self._fence_upto :]
            if partial:
                lines.extend(_code_lines(partial, self._fence_lang, self.width, self.indent))
        elif tail.strip():
            lines.extend(render(tail, self.width, self.indent))
        self.tail = lines


def _fence_marker(line: str) -> str | None:
    """The fence (``` or ~~~, three or more) a line opens, if it opens one."""
    text = line.lstrip(" ")
    if len(line) - len(text) > 3:
        return None
    for char in "`~":
        if text.startswith(char * 3):
            count = len(text) - len(text.lstrip(char))
            if char == "`" and "`" in text[count:]:
                return None  # an inline code span, not a fence
            return char * count
    return None


# -- the block writer -----------------------------------------------------------------------


class _Level:
    """One container's prefix: for its first line, then for the lines after."""

    __slots__ = ("first", "rest", "used")

    def __init__(self, first: str, rest: str) -> None:
        self.first = first
        self.rest = rest
        self.used = False


class _Writer:
    """Walks markdown-it's tokens and writes display lines."""

    def __init__(self, width: int, indent: str) -> None:
        self.width = max(1, width)
        self.indent = indent
        self.lines: list[Line] = []
        self.levels: list[_Level] = []
        self.quote_depth = 0
        self.list_depth = 0
        self.ordinals: list[int | None] = []
        self.pending_blank = False

    # prefixes ------------------------------------------------------------------------

    def _prefix(self) -> str:
        parts = [self.indent]
        for level in self.levels:
            parts.append(level.rest if level.used else level.first)
            level.used = True
        return "".join(parts)

    def _blank_prefix(self) -> str:
        return (self.indent + "".join(level.rest for level in self.levels)).rstrip()

    def _room(self, prefix: str) -> int:
        return max(1, self.width - cell_width(prefix))

    def flush_blank(self) -> None:
        """The blank line a finished block asked for, before a container opens."""
        if self.pending_blank and self.lines:
            self.lines.append((self._blank_prefix(), styles.TEXT))
        self.pending_blank = False

    def emit(self, text: str, style: str, marks: Marks = ()) -> None:
        """One line at the current prefix (``text`` already fits)."""
        self.flush_blank()
        prefix = self._prefix()
        if self.quote_depth and style == styles.TEXT:
            style = styles.QUOTE
        if prefix and marks:
            shift = cell_width(prefix)
            marks = tuple((column + shift, piece, mark) for column, piece, mark in marks)
        self.lines.append((prefix + text, style, marks) if marks else (prefix + text, style))

    # blocks -------------------------------------------------------------------------------

    def blocks(self, tokens: Sequence[Token]) -> None:
        index = 0
        count = len(tokens)
        while index < count:
            token = tokens[index]
            kind = token.type
            if kind == "inline":
                self.paragraph(token.children or [], styles.TEXT)
            elif kind == "paragraph_close":
                if not token.hidden:
                    self.pending_blank = True
            elif kind == "heading_open":
                inline = tokens[index + 1]
                self.heading(inline.children or [], int(token.tag[1:]))
                index += 2  # the inline and the close
            elif kind in ("bullet_list_open", "ordered_list_open"):
                if self.list_depth == 0 and self.lines:
                    self.pending_blank = True
                start = token.attrGet("start")
                ordered = kind == "ordered_list_open"
                self.ordinals.append((int(start) if start is not None else 1) if ordered else None)
                self.flush_blank()
                self.list_depth += 1
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.ordinals.pop()
                self.list_depth -= 1
                if self.list_depth == 0:
                    self.pending_blank = True
            elif kind == "list_item_open":
                ordinal = self.ordinals[-1]
                if ordinal is None:
                    bullet = BULLETS[(self.list_depth - 1) % len(BULLETS)] + " "
                else:
                    bullet = f"{ordinal}. "
                    self.ordinals[-1] = ordinal + 1
                self.levels.append(_Level(bullet, " " * len(bullet)))
            elif kind == "list_item_close":
                self.levels.pop()
            elif kind == "blockquote_open":
                if self.lines:
                    self.pending_blank = True
                self.flush_blank()
                self.quote_depth += 1
                self.levels.append(_Level(QUOTE_BAR, QUOTE_BAR))
            elif kind == "blockquote_close":
                self.quote_depth -= 1
                self.levels.pop()
                self.pending_blank = True
            elif kind in ("fence", "code_block"):
                self.code(token.content, token.info.strip().split(" ")[0] if token.info else "")
                self.pending_blank = True
            elif kind == "hr":
                prefix_width = cell_width(self.indent)
                self.emit("─" * max(1, min(self.width - prefix_width, 40)), styles.META)
                self.pending_blank = True
            elif kind == "table_open":
                index = self.table(tokens, index)
                self.pending_blank = True
            elif kind == "html_block":
                for line in token.content.rstrip("\n").split("\n"):
                    self.paragraph_text(line, styles.TEXT)
                self.pending_blank = True
            index += 1

    def heading(self, children: Sequence[Token], level: int) -> None:
        if self.lines:
            self.pending_blank = True
        self.paragraph(children, styles.HEADING)
        if level <= 2:
            text = self.lines[-1][0] if self.lines else ""
            underline = "═" if level == 1 else "─"
            used = cell_width(text) - cell_width(self.indent)
            self.emit(underline * max(1, min(used, self.width)), styles.HEADING)
        self.pending_blank = True

    def code(self, content: str, lang: str) -> None:
        prefix = self._prefix_preview()
        self.emit_raw(_code_label(lang, self._room(prefix), ""))
        for line in _code_lines(content.rstrip("\n"), lang, self._room(prefix), ""):
            self.emit_raw(line)

    def _prefix_preview(self) -> str:
        return self.indent + "".join(level.rest for level in self.levels)

    def emit_raw(self, line: Line) -> None:
        """A line laid out already (without the prefix): a code line keeps its own marks."""
        marks: Marks = line[2] if len(line) == 3 else ()
        self.emit(line[0], line[1], marks)

    # paragraphs -----------------------------------------------------------------------------

    def paragraph(self, children: Sequence[Token], style: str) -> None:
        text, spans = _inline(children, style)
        for piece_start, piece in _hard_lines(text):
            self._wrap(piece, piece_start, spans, style)

    def paragraph_text(self, text: str, style: str) -> None:
        self._wrap(text, 0, [], style)

    def _wrap(self, text: str, offset: int, spans: list[tuple[int, int, str]], style: str) -> None:
        room = self._room(self._prefix_preview())
        for start, line in wrap(text, room):
            begin = offset + start
            end = begin + len(line)
            marks = []
            for span_start, span_end, span_style in spans:
                if span_end <= begin or span_start >= end:
                    continue
                low = max(span_start, begin)
                high = min(span_end, end)
                column = cell_width(line[: low - begin])
                marks.append((column, line[low - begin : high - begin], span_style))
            self.emit(line, style, tuple(marks))

    # tables ----------------------------------------------------------------------------------

    def table(self, tokens: Sequence[Token], index: int) -> int:
        """Lay out the table starting at ``tokens[index]``; the index of its close."""
        rows: list[list[str]] = []
        header_rows = 0
        right: list[bool] = []
        in_head = False
        while index < len(tokens) and tokens[index].type != "table_close":
            token = tokens[index]
            if token.type == "thead_open":
                in_head = True
            elif token.type == "thead_close":
                in_head = False
            elif token.type == "tr_open":
                rows.append([])
                if in_head:
                    header_rows += 1
            elif token.type in ("th_open", "td_open"):
                if len(rows) == 1:
                    right.append(token.attrGet("style") == "text-align:right")
            elif token.type == "inline" and rows:
                text, _ = _inline(token.children or [], styles.TEXT)
                rows[-1].append(" ".join(text.split("\n")))
            index += 1
        columns = max((len(row) for row in rows), default=0)
        if columns == 0:
            return index
        widths = [0] * columns
        for row in rows:
            for number, cell in enumerate(row):
                widths[number] = max(widths[number], cell_width(cell))
        room = self._room(self._prefix_preview())
        separator = " │ "
        while sum(widths) + len(separator) * (columns - 1) > room and max(widths) > 3:
            widest = widths.index(max(widths))
            widths[widest] -= 1
        right += [False] * (columns - len(right))
        for number, row in enumerate(rows):
            cells = []
            for column in range(columns):
                cell = row[column] if column < len(row) else ""
                if cell_width(cell) > widths[column]:
                    cell = fit(cell, widths[column] - 1) + ELLIPSIS
                gap = " " * (widths[column] - cell_width(cell))
                cells.append(gap + cell if right[column] else cell + gap)
            line = fit(separator.join(cells).rstrip(), room)
            self.emit(line, styles.TABLE_HEAD if number < header_rows else styles.TEXT)
            if number == header_rows - 1:
                rule = "─┼─".join("─" * width for width in widths)
                self.emit(fit(rule, room), styles.META)
        return index


# -- inline text ------------------------------------------------------------------------------

_INLINE_STYLES = {
    "strong_open": styles.STRONG,
    "em_open": styles.EMPHASIS,
    "s_open": styles.STRIKE,
    "link_open": styles.LINK,
}
_INLINE_CLOSE = {"strong_close", "em_close", "s_close", "link_close"}


def _inline(children: Iterable[Token], base: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Plain text of inline tokens and the styled spans over it: ``(start, end, style)``."""
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    stack: list[str] = []
    links: list[tuple[str, int]] = []
    length = 0

    def add(text: str, style: str | None) -> None:
        nonlocal length
        if not text:
            return
        if style is not None and style != base:
            spans.append((length, length + len(text), style))
        parts.append(text)
        length += len(text)

    for token in children:
        kind = token.type
        current = stack[-1] if stack else None
        if kind in {"text", "html_inline"}:
            add(token.content, current)
        elif kind == "code_inline":
            add(token.content, styles.CODE_INLINE)
        elif kind == "softbreak":
            add(" ", None)
        elif kind == "hardbreak":
            add("\n", None)
        elif kind in _INLINE_STYLES:
            stack.append(_INLINE_STYLES[kind])
            if kind == "link_open":
                links.append((str(token.attrGet("href") or ""), length))
        elif kind in _INLINE_CLOSE:
            if stack:
                stack.pop()
            if kind == "link_close" and links:
                href, began = links.pop()
                label = "".join(parts)[began:]
                if href and href not in (label, f"mailto:{label}"):
                    add(f" ({href})", styles.META)
        elif kind == "image":
            alt = token.content or "image"
            add(f"[{alt}]", styles.LINK)
            src = str(token.attrGet("src") or "")
            if src:
                add(f" ({src})", styles.META)
    return "".join(parts), spans


def _hard_lines(text: str) -> list[tuple[int, str]]:
    """``text`` cut at its hard breaks: ``(offset, piece)``."""
    pieces = []
    offset = 0
    for piece in text.split("\n"):
        pieces.append((offset, piece))
        offset += len(piece) + 1
    return pieces


# -- code -------------------------------------------------------------------------------------


def _code_label(lang: str, width: int, indent: str) -> Line:
    label = f"─ {lang} " if lang else "─ code "
    return (indent + fit(label + "─" * max(0, 12 - len(label)), max(1, width)), styles.CODE_LABEL)


@lru_cache(maxsize=64)
def _lexer(lang: str) -> Lexer:
    if lang:
        try:
            return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
        except ClassNotFound:
            pass
    return TextLexer(stripnl=False, ensurenl=False)


def _syntax_style(token_type: _TokenType) -> str | None:
    for kind in token_type.split()[::-1]:
        style = _SYNTAX.get(kind)
        if style is not None:
            return style
    return None


def _code_lines(code: str, lang: str, width: int, indent: str) -> list[Line]:
    """Code, one display line per source line: coloured, clipped (never wrapped)."""
    room = max(2, width)
    lines: list[Line] = []
    text_parts: list[str] = []
    marks: list[Mark] = []
    column = 0

    def finish() -> None:
        nonlocal column
        text = "".join(text_parts)
        clipped = cell_width(text) > room
        kept = marks
        if clipped:
            text = fit(text, room - 1)
            limit = cell_width(text)
            kept = [
                (start, fit(piece, limit - start), style)
                for start, piece, style in marks
                if start < limit
            ]
            kept.append((limit, CLIP_MARK, styles.META))
            text += CLIP_MARK
        shift = len(indent)
        line_marks = tuple((start + shift, piece, style) for start, piece, style in kept if piece)
        if line_marks:
            lines.append((indent + text, styles.CODE, line_marks))
        else:
            lines.append((indent + text, styles.CODE))
        text_parts.clear()
        marks.clear()
        column = 0

    tokens = [(None, code)] if not lang else list(_lexer(lang).get_tokens(code))
    for token_type, value in tokens:
        style = _syntax_style(token_type) if token_type is not None else None
        pieces = value.split("\n")
        for number, piece in enumerate(pieces):
            if number:
                finish()
            if piece:
                if style is not None:
                    marks.append((column, piece, style))
                text_parts.append(piece)
                column += cell_width(piece)
    finish()
    return lines


def _syntax_table() -> dict[_TokenType, str]:
    from pygments import token

    return {
        token.Keyword: styles.SYN_KEYWORD,
        token.Name.Builtin: styles.SYN_BUILTIN,
        token.Name.Function: styles.SYN_FUNCTION,
        token.Name.Class: styles.SYN_FUNCTION,
        token.Name.Decorator: styles.SYN_KEYWORD,
        token.String: styles.SYN_STRING,
        token.Number: styles.SYN_NUMBER,
        token.Comment: styles.SYN_COMMENT,
        token.Operator.Word: styles.SYN_KEYWORD,
    }


_SYNTAX = _syntax_table()

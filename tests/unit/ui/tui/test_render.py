"""The renderer on a text grid: screen snapshots, and that only what changed is painted."""

from __future__ import annotations

from aiway.actors.avatar import default_sprites
from aiway.actors.protocol import (
    AvatarFrame,
    ConversationState,
    Message,
    Metrics,
    ResponseMetadata,
    Role,
    SessionInfo,
    State,
    StreamEnd,
    TaskCompleted,
    TaskCreated,
    TaskUpdated,
    Token,
)
from aiway.actors.protocol.avatar import Animation, AvatarSize
from aiway.actors.runtime import Mailbox
from aiway.ui.tui import styles
from aiway.ui.tui.canvas import TextGrid
from aiway.ui.tui.render import Renderer
from aiway.ui.tui.viewmodel import ViewModel


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


class Screen:
    """A renderer fed by a view model, painting on a text grid."""

    def __init__(self, width: int = 60, height: int = 16) -> None:
        self.clock = Clock()
        self.view = ViewModel(clock=self.clock)
        self.renderer = Renderer(width, height, clock=self.clock)
        self.grid = TextGrid(width, height)
        self.seq = 0

    def publish(self, *messages: object) -> None:
        for message in messages:
            self.seq += 1
            self.view.publish(message, self.seq)

    def paint(self) -> int:
        """Apply what changed, paint; how many canvas calls it took."""
        self.renderer.apply(self.view.take())
        before = self.grid.calls
        self.renderer.paint(self.grid)
        return self.grid.calls - before

    def resize(self, width: int, height: int) -> None:
        self.renderer.resize(width, height)
        self.grid.resize(width, height)


def mid_answer() -> Screen:
    screen = Screen()
    screen.publish(
        SessionInfo("s", "smollm2", "ollama"),
        State(ConversationState.RESPONDING),
        Message("u1", Role.USER, "Hi there, who are you?"),
        Message("a1", Role.ASSISTANT, ""),
        Token("a1", "I am Yollayah, an axolotl who lives in your terminal and answers"),
    )
    screen.paint()
    return screen


MID_ANSWER = """\
· model smollm2 on ollama

You
  Hi there, who are you?

Yollayah
  I am Yollayah, an axolotl who lives in your terminal and
  answers▍



─ Enter send · Alt+Enter newline · Esc cancel ──────────────
›  Ask Yollayah something · /help lists the commands


 Responding  smollm2 on ollama │ end"""


def test_snapshot_of_an_answer_streaming_in() -> None:
    screen = mid_answer()
    assert screen.grid.text() == MID_ANSWER
    assert screen.grid.style_at(2, 0) == styles.USER
    assert screen.grid.style_at(5, 0) == styles.ASSISTANT
    assert screen.grid.style_at(15, 1) == styles.STATUS_BUSY


def test_nothing_changed_paints_nothing() -> None:
    screen = mid_answer()
    assert screen.paint() == 0


def test_a_token_repaints_only_the_line_it_grows_and_the_status() -> None:
    screen = mid_answer()
    screen.clock.now += 0.5
    screen.publish(Token("a1", " gladly"))
    calls = screen.paint()
    assert screen.grid.row(7) == "  answers gladly▍"
    assert calls == 1 + 2  # one conversation row; the status bar (label and the rest)


def test_the_metadata_line_follows_a_finished_answer() -> None:
    screen = mid_answer()
    meta = ResponseMetadata(model="smollm2", tokens=12, tokens_per_second=48.0, elapsed_ms=250)
    screen.publish(StreamEnd("a1", "I am Yollayah.", meta), State(ConversationState.READY))
    screen.paint()
    assert screen.grid.row(6) == "  I am Yollayah."
    assert screen.grid.row(7) == "  smollm2 · 12 tokens · 48.0 tok/s · 0.25 s"
    assert screen.grid.style_at(7, 2) == styles.META
    assert screen.grid.row(15).startswith(" Ready ")


def frame(x: int, y: int) -> AvatarFrame:
    sheet = default_sprites().sheet(AvatarSize.SMALL)
    rows = sheet.frames(Animation.IDLE)[0].rows
    return AvatarFrame(AvatarSize.SMALL, Animation.IDLE, 0, x, y, True, rows)


def test_the_avatar_is_painted_over_the_pane_one_call_per_run_and_its_old_cells_restored() -> None:
    screen = mid_answer()
    first = frame(40, 5)
    screen.view.avatar(first)
    runs = sum(len(row) for row in first.rows)
    assert screen.paint() == runs
    assert screen.grid.style_at(5 + 0, 40 + first.rows[0][0][0]).startswith(styles.AVATAR_PREFIX)
    screen.view.avatar(frame(0, 8))
    assert screen.paint() == len(first.rows) + runs  # the rows it left are restored
    assert screen.grid.row(6).startswith("  I am Yollayah, an axolotl who lives in your terminal")
    assert not any(
        screen.grid.style_at(y, x).startswith(styles.AVATAR_PREFIX)
        for y in range(5, 8)
        for x in range(40, 60)
    )


def test_a_terminal_too_small_shows_a_message_instead_of_the_layout() -> None:
    screen = mid_answer()
    screen.resize(30, 8)
    screen.paint()
    assert "Terminal too small" in screen.grid.text()
    assert "30x8: aiway needs 40x10" in screen.grid.text()
    screen.resize(60, 16)
    screen.paint()
    assert screen.grid.text() == MID_ANSWER


def test_resizing_rewraps_and_reports_the_new_avatar_area() -> None:
    screen = mid_answer()
    screen.renderer.area_changed = False
    screen.resize(80, 20)
    screen.paint()
    assert screen.renderer.area_changed
    assert screen.renderer.layout.conversation.width == 80
    assert "answers▍" in screen.grid.row(6)


def test_the_task_panel_shows_while_a_task_runs_and_goes_after_it_finishes() -> None:
    screen = mid_answer()
    screen.publish(TaskCreated("t1", "cook", "Chef Remy", "make soup"), TaskUpdated("t1", 50))
    screen.paint()
    panel = screen.renderer.layout.tasks
    assert panel.width > 0
    assert screen.grid.find("Chef Remy (cook)") is not None
    assert screen.grid.find(" 50%") is not None
    screen.publish(TaskCompleted("t1"))
    screen.paint()
    assert screen.grid.find("✓ done") is not None
    screen.clock.now += 5
    screen.paint()
    assert screen.renderer.layout.tasks.width == 0
    assert screen.grid.find("Chef Remy") is None


def test_f2_shows_every_mailbox() -> None:
    screen = mid_answer()
    screen.resize(80, 16)
    boxes = tuple(Mailbox(name).stats() for name in ("registry", "conductor", "surface:tui"))
    screen.view.metrics(Metrics(boxes, dead_letters=3))
    screen.renderer.toggle_metrics()
    screen.paint()
    text = screen.grid.text()
    assert "Mailboxes" in text
    assert all(name in text for name in ("registry", "conductor", "surface:tui"))
    assert "dead letters 3" in text
    assert "lag p99 0 µs · depth 0" in screen.grid.row(15)


def test_scrolling_up_holds_the_view_while_the_answer_grows() -> None:
    screen = Screen(60, 12)
    for n in range(10):
        screen.publish(Message(f"u{n}", Role.USER, f"message {n}"))
    screen.paint()
    screen.renderer.page(-1)
    screen.paint()
    shown = screen.grid.text()
    assert "↑" in screen.grid.row(11)
    screen.publish(Message("u99", Role.USER, "newer"))
    screen.paint()
    assert screen.grid.text().split("\n")[:6] == shown.split("\n")[:6]
    screen.renderer.scroll_to_end()
    screen.paint()
    assert "newer" in screen.grid.text()


def test_painting_costs_the_same_with_ten_or_ten_thousand_messages() -> None:
    def token_paint(count: int) -> int:
        screen = Screen()
        screen.view = ViewModel(clock=screen.clock, history_limit=count + 10)
        for n in range(count):
            screen.publish(Message(f"u{n}", Role.USER, f"message number {n}"))
        screen.publish(Message("a", Role.ASSISTANT, ""), Token("a", "one"))
        screen.paint()
        screen.publish(Token("a", " two"))
        return screen.paint()

    assert token_paint(10) == token_paint(10_000)

"""The renderer on a text grid: screen snapshots, and that only what changed is painted."""

from __future__ import annotations

from typing import Any

import pytest

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
from aiway.ui.format import metadata_line
from aiway.ui.tui import panels, styles
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


def sized_frame(size: AvatarSize, x: int, y: int) -> AvatarFrame:
    sheet = default_sprites().sheet(size)
    return AvatarFrame(size, Animation.IDLE, 0, x, y, True, sheet.frames(Animation.IDLE)[0].rows)


def busy_screen(width: int = 100, height: int = 30) -> Screen:
    """A screen full of text: answers, a metadata line, an answer streaming, typed input."""
    screen = Screen(width, height)
    screen.publish(SessionInfo("s", "smollm2", "ollama"))
    for turn in range(6):
        screen.publish(
            Message(f"u{turn}", Role.USER, "tell me " * 20),
            Message(f"a{turn}", Role.ASSISTANT, ""),
            StreamEnd(f"a{turn}", "an answer that fills the line " * 6, ResponseMetadata("m")),
        )
    screen.publish(Message("live", Role.ASSISTANT, ""), Token("live", "streaming words " * 12))
    screen.renderer.editor.insert("typed text " * 12)
    screen.paint()
    return screen


def avatar_cells(grid: TextGrid) -> set[tuple[int, int]]:
    return {
        (y, x)
        for y in range(grid.height)
        for x in range(grid.width)
        if grid.style_at(y, x).startswith(styles.AVATAR_PREFIX)
    }


def test_the_avatar_never_covers_text_at_any_position_it_can_wander_to() -> None:
    screen = busy_screen()
    without = screen.grid.text().split("\n")
    lane = screen.renderer.avatar_area
    assert lane.width > 0 and screen.renderer.layout.conversation.width <= 100 - lane.width
    for size in (AvatarSize.SMALL, AvatarSize.MEDIUM, AvatarSize.LARGE):
        sheet = default_sprites().sheet(size)
        # every position wandering can reach in the area she was given, and beyond it
        for y in range(-1, lane.height - sheet.height + 2):
            for x in range(-1, max(0, lane.width - sheet.width) + 2):
                screen.view.avatar(sized_frame(size, x, y))
                screen.paint()
                lane = screen.renderer.avatar_area
                cells = avatar_cells(screen.grid)
                assert cells, (size, x, y)
                assert all(lane.contains(row, column) for row, column in cells), (size, x, y)
                if size is not AvatarSize.LARGE:  # (a large sprite widens the lane: re-wrap)
                    left = lane.x
                    shown = [row[:left].rstrip() for row in screen.grid.text().split("\n")]
                    assert shown == [row[:left].rstrip() for row in without], (size, x, y)


def test_the_conversation_input_status_and_metadata_are_the_same_with_or_without_her() -> None:
    screen = busy_screen()
    lane = screen.renderer.avatar_area
    before = [row[: lane.x].rstrip() for row in screen.grid.text().split("\n")]
    assert any(row == "  " + metadata_line(ResponseMetadata("m")) for row in before)
    for y in range(lane.height - 4):
        screen.view.avatar(sized_frame(AvatarSize.MEDIUM, 1, y))
        screen.paint()
        assert [row[: lane.x].rstrip() for row in screen.grid.text().split("\n")] == before


def test_a_frame_that_moves_blanks_the_rows_it_left_with_one_call_per_run() -> None:
    screen = busy_screen()
    first = sized_frame(AvatarSize.SMALL, 2, 4)
    screen.view.avatar(first)
    screen.paint()
    runs = sum(len(row) for row in first.rows)
    screen.view.avatar(sized_frame(AvatarSize.SMALL, 2, 12))
    calls = screen.paint()
    assert calls == 2 * len(first.rows) + runs  # old rows blanked, new rows blanked, runs
    assert all(y >= 12 for y, _ in avatar_cells(screen.grid))


def test_a_narrow_terminal_has_no_avatar_lane_and_draws_no_avatar() -> None:
    screen = mid_answer()  # 60 columns: all of them for text
    assert screen.renderer.avatar_area.width == 0
    screen.view.avatar(frame(40, 5))
    screen.paint()
    assert not avatar_cells(screen.grid)
    assert screen.grid.text() == MID_ANSWER


def test_a_large_sprite_widens_her_lane_and_reports_the_new_area() -> None:
    screen = busy_screen(120, 30)
    screen.renderer.area_changed = False
    screen.view.avatar(sized_frame(AvatarSize.LARGE, 0, 0))
    screen.paint()
    large = default_sprites().sheet(AvatarSize.LARGE)
    assert screen.renderer.avatar_area.width >= large.width
    assert screen.renderer.area_changed


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
    screen.resize(100, 20)
    screen.paint()
    assert screen.renderer.area_changed
    lane = screen.renderer.avatar_area
    assert lane.width > 0 and screen.renderer.layout.conversation.width == 100 - lane.width
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


def idle_screen() -> Screen:
    """A finished answer, Yollayah shown: what an idle screen holds."""
    screen = Screen(100, 30)
    screen.publish(
        SessionInfo("s", "smollm2", "ollama"),
        Message("u1", Role.USER, "Hi"),
        Message("a1", Role.ASSISTANT, ""),
        Token("a1", "Hello"),
        Token("a1", " there"),
        StreamEnd("a1", "Hello there", ResponseMetadata("m")),
        State(ConversationState.READY),
    )
    screen.view.avatar(frame(2, 4))
    screen.paint()
    return screen


def test_a_frame_that_paints_what_is_on_screen_already_paints_nothing() -> None:
    screen = idle_screen()
    shown = frame(2, 4)
    # another frame of the strip (a new object, its rows equal but not the same tuples)
    again = AvatarFrame(
        shown.size, shown.animation, 3, 2, 4, True, tuple(tuple(row) for row in shown.rows)
    )
    assert again is not shown and again.rows is not shown.rows
    screen.view.avatar(again)
    assert screen.paint() == 0
    screen.view.avatar(frame(2, 5))  # moved one row: painted
    assert screen.paint() > 0


def test_hidden_frames_paint_nothing_wherever_they_are() -> None:
    screen = idle_screen()
    hidden = AvatarFrame(AvatarSize.SMALL, Animation.IDLE, 0, 2, 4, False, ())
    screen.view.avatar(hidden)
    assert screen.paint() > 0  # she goes: her rows are blanked
    screen.view.avatar(AvatarFrame(AvatarSize.SMALL, Animation.IDLE, 1, 7, 9, False, ()))
    assert screen.paint() == 0


def test_an_avatar_frame_does_not_work_the_status_bar_out_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = idle_screen()
    worked_out = []
    real = panels.status_segments

    def counting(*args: Any) -> tuple[str, str, str]:
        worked_out.append(args)
        return real(*args)

    monkeypatch.setattr(panels, "status_segments", counting)
    screen.view.avatar(frame(3, 6))
    assert screen.paint() > 0
    assert worked_out == []
    screen.publish(State(ConversationState.THINKING))
    screen.paint()
    assert len(worked_out) == 1
    assert "Thinking" in screen.grid.row(29)


def test_metrics_are_wanted_only_while_f2_is_open_or_an_answer_is_in_flight() -> None:
    screen = idle_screen()
    assert not screen.renderer.wants_metrics
    screen.renderer.toggle_metrics()
    assert screen.renderer.wants_metrics
    screen.renderer.toggle_metrics(False)
    assert not screen.renderer.wants_metrics
    screen.publish(State(ConversationState.RESPONDING))
    screen.paint()
    assert screen.renderer.wants_metrics
    screen.publish(State(ConversationState.READY))
    screen.paint()
    assert not screen.renderer.wants_metrics

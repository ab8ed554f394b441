"""The real ``aiway`` terminal UI in tmux, against the fake Ollama server.

Each test starts ``aiway`` in a tmux server of its own (``tmux -L <unique>``),
types with ``send-keys`` and reads the screen with ``capture-pane``, polling
until the expected text appears (never a fixed sleep). ``aiway`` runs inside
``sh -c '...; stty -a > file; echo EXIT=$code > file; exec cat'`` so its exit
code and the terminal modes it leaves behind can be checked after it quits.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiway.ui.tui.layout import AVATAR_LANE_WIDTH
from tests.fakes import FakeOllamaProcess
from tests.fakes.isolated import isolated_env
from tests.tmux import TmuxScreen, exit_code_from
from tests.waiting import wait_until_sync

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

AIWAY = Path(sys.executable).with_name("aiway")
MODEL = "smollm2:135m"
AVATAR_GLYPHS = "▀▄█"


class Tui(TmuxScreen):
    """One ``aiway`` in its own tmux server; see the module docstring."""

    def __init__(
        self,
        tmp_path: Path,
        ollama: str,
        *,
        width: int = 100,
        height: int = 30,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.exit_file = tmp_path / "exit"
        self.stty_file = tmp_path / "stty"
        self.exit_file.unlink(missing_ok=True)
        environment = isolated_env(
            tmp_path,
            TERM="xterm-256color",
            LANG="C.UTF-8",
            LC_ALL="C.UTF-8",
            OLLAMA_HOST=ollama,
            **(env or {}),
        )
        (tmp_path / "run").mkdir(mode=0o700, exist_ok=True)
        assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in environment.items())
        extra = " ".join(shlex.quote(arg) for arg in args)
        aiway = f"{shlex.quote(str(AIWAY))} --backend ollama --model {MODEL} {extra}"
        script = (
            # The terminal's modes are saved before the exit code: a test that sees the
            # exit file may read the stty file at once.
            f"env {assignments} {aiway}; code=$?; stty -a > {shlex.quote(str(self.stty_file))}; "
            f"echo EXIT=$code > {shlex.quote(str(self.exit_file))}; exec cat"
        )
        super().__init__(script, width=width, height=height, prefix="aiway-test")

    def exit_code(self, timeout: float = 10.0) -> int:
        return exit_code_from(self.exit_file, timeout)


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllamaProcess]:
    server = FakeOllamaProcess()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tui(tmp_path: Path, ollama: FakeOllamaProcess) -> Iterator[Tui]:
    ollama.configure(script=["Hello", " there", "."], tokens=None, rate=0)
    screen = Tui(tmp_path, f"127.0.0.1:{ollama.port}")
    try:
        screen.wait_for("Ready", timeout=15)
        yield screen
    finally:
        screen.close()


def avatar_rows(screen: str) -> list[str]:
    return [row for row in screen.split("\n") if sum(row.count(g) for g in AVATAR_GLYPHS) >= 3]


def test_an_answer_streams_in_without_tags_then_ctrl_q_exits_and_restores_the_terminal(
    tui: Tui, ollama: FakeOllamaProcess
) -> None:
    ollama.configure(
        script=["Hello", " there! [yolla:wa", "ve] I am", " Yollayah,", " your", " axolotl."],
        rate=8,
    )
    tui.say("hi")
    partial = tui.wait_for("I am")
    assert "▍" in partial  # still streaming: the cursor mark follows the text
    assert "axolotl." not in partial
    done = tui.wait_for("tok/s · ")  # the metadata line under the finished answer
    assert "Hello there!  I am Yollayah, your axolotl." in done
    assert "[yolla" not in done and "wa" + "ve]" not in done
    tui.keys("C-q")
    assert tui.exit_code() == 0
    modes = tui.stty_file.read_text()
    assert " icanon" in modes and " echo" in modes  # cooked mode is back
    assert "Enter send" not in tui.screen()


def test_the_avatar_is_drawn_and_moves(tui: Tui) -> None:
    # her first frame follows the lane's size, which the UI reports once it has drawn
    wait_until_sync(lambda: len(avatar_rows(tui.screen())) >= 3, timeout=10, what="the avatar")
    first = avatar_rows(tui.screen())
    wait_until_sync(lambda: avatar_rows(tui.screen()) != first, timeout=10, what="a new frame")


def test_the_avatar_stays_in_her_lane_while_an_answer_fills_the_screen(
    tui: Tui, ollama: FakeOllamaProcess
) -> None:
    ollama.configure(script=["word " * 300], rate=0)
    tui.say("fill the screen")
    tui.wait_for("tok/s · ")
    lane = 100 - AVATAR_LANE_WIDTH
    screens = []
    for _ in range(3):  # a few frames: she moves, the text stays whole
        before = tui.screen()
        wait_until_sync(
            lambda before=before: tui.screen() != before,  # type: ignore[misc]
            timeout=10,
            what="a new frame",
        )
        screens.append(tui.screen())
    for screen in screens:
        rows = screen.split("\n")
        assert avatar_rows(screen)
        assert all(not any(g in row[:lane] for g in AVATAR_GLYPHS) for row in rows)
        words = [row for row in rows if row.startswith("  word")]
        assert len(words) >= 10
        assert all(row[:lane].rstrip().endswith("word") for row in words[:-1])


def test_esc_cancels_mid_stream_and_the_app_keeps_running(
    tui: Tui, ollama: FakeOllamaProcess
) -> None:
    ollama.configure(tokens=400, rate=40)
    tui.say("count slowly")
    tui.wait_for("tok5 ")
    tui.keys("Escape")
    cancelled = tui.wait_for("· cancelled")
    assert "tok400" not in cancelled
    ollama.configure(tokens=None, script=["Still", " here."], rate=0)
    tui.say("are you there?")
    tui.wait_for("Still here.")


def test_typing_works_during_a_slow_answer_and_a_second_message_is_answered(
    tui: Tui, ollama: FakeOllamaProcess
) -> None:
    ollama.configure(tokens=40, rate=40)
    tui.say("first")
    tui.wait_for("tok3 ")
    tui.type("typed while it streams, héllo 日本")
    during = tui.wait_for("› typed while it streams, héllo 日本")
    assert "tok40" not in during
    tui.wait_for("40 tokens")
    ollama.configure(tokens=None, script=["Second", " answer."], rate=0)
    tui.keys("Enter")
    tui.wait_for("Second answer.")


def test_resize_lays_everything_out_again(tui: Tui, ollama: FakeOllamaProcess) -> None:
    ollama.configure(script=["word " * 30], rate=0)
    tui.say("long")
    tui.wait_for("tok/s")
    tui.resize(60, 20)
    wait_until_sync(lambda: len(tui.rows()) == 20 and tui.rows()[15].startswith("─"), timeout=10)
    rows = tui.rows()
    assert rows[19].startswith(" Ready")
    assert all(len(row) <= 60 for row in rows)
    assert sum("word" in row for row in rows) >= 3  # re-wrapped to the narrower pane
    tui.resize(30, 8)
    tui.wait_for("Terminal too small")
    tui.resize(100, 30)
    tui.wait_for("Enter send")
    tui.keys("C-q")
    assert tui.exit_code() == 0


def test_a_pasted_indented_block_is_one_message_that_keeps_its_indentation(
    tui: Tui, ollama: FakeOllamaProcess
) -> None:
    block = "def f(x):\n    if x:\n        return 1\n    return 0"
    tui.tmux("set-buffer", block)
    tui.tmux("paste-buffer", "-p", "-t", "main")  # bracketed, as a terminal pastes
    tui.wait_for("          return 1")  # in the input box, nothing sent yet
    assert "You" not in tui.screen()
    requests_before = len(ollama.stats()["requests"])
    tui.keys("Enter")
    tui.wait_for("tok/s · ")
    chats = [
        request["body"]["messages"][-1]["content"]
        for request in ollama.stats()["requests"][requests_before:]
        if isinstance(request.get("body"), dict) and "messages" in request["body"]
    ]
    assert chats == [block]
    assert tui.screen().count("You") == 1


COLOUR = re.compile(r"\x1b\[[0-9;]*?(?<![0-9])(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def test_no_color_draws_without_a_single_colour(tmp_path: Path, ollama: FakeOllamaProcess) -> None:
    ollama.configure(script=["# Title\n\n```python\nx = 1\n```\n"], tokens=None, rate=0)
    tui = Tui(tmp_path, f"127.0.0.1:{ollama.port}", env={"NO_COLOR": "1"})
    try:
        tui.wait_for("Ready", timeout=15)
        tui.say("colours?")
        tui.wait_for("tok/s · ")
        wait_until_sync(lambda: len(avatar_rows(tui.screen())) >= 3, timeout=10, what="avatar")
        painted = tui.tmux("capture-pane", "-p", "-e", "-t", "main")
        assert "\x1b[1m" in painted  # attributes stay
        assert COLOUR.findall(painted) == []
    finally:
        tui.close()


def test_the_input_history_survives_a_restart(tmp_path: Path, ollama: FakeOllamaProcess) -> None:
    first = Tui(tmp_path, f"127.0.0.1:{ollama.port}")
    try:
        first.wait_for("Ready", timeout=15)
        first.say("remember this one")
        first.wait_for("tok/s · ")
        first.keys("C-q")
        assert first.exit_code() == 0
    finally:
        first.close()
    second = Tui(tmp_path, f"127.0.0.1:{ollama.port}")
    try:
        second.wait_for("Ready", timeout=15)
        second.keys("Up")
        second.wait_for("› remember this one")
        second.keys("C-u", "C-r")
        second.type("rememb")
        second.wait_for("search: rememb")
        second.wait_for("  remember this one")
    finally:
        second.close()


def system_prompts(ollama: FakeOllamaProcess) -> list[str]:
    return [
        request["body"]["messages"][0]["content"]
        for request in ollama.stats()["requests"]
        if isinstance(request.get("body"), dict)
        and request["body"].get("messages")
        and request["body"]["messages"][0]["role"] == "system"
    ]


def test_system_sets_the_system_prompt_in_the_tui_and_headless(
    tmp_path: Path, ollama: FakeOllamaProcess
) -> None:
    ollama.configure(script=["Short."], tokens=None, rate=0)
    tui = Tui(tmp_path, f"127.0.0.1:{ollama.port}", args=("--system", "You are terse, TUI."))
    try:
        tui.wait_for("Ready", timeout=15)
        tui.say("hi")
        tui.wait_for("tok/s · ")
    finally:
        tui.close()
    assert system_prompts(ollama)[-1] == "You are terse, TUI."
    env = isolated_env(tmp_path / "headless", OLLAMA_HOST=f"127.0.0.1:{ollama.port}")
    done = subprocess.run(
        [str(AIWAY), "headless", "--backend", "ollama", "--model", MODEL,
         "--system", "You are terse, headless.", "--prompt", "hi"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert system_prompts(ollama)[-1] == "You are terse, headless."


def test_no_backend_prints_a_clear_message_and_exits_non_zero(tmp_path: Path) -> None:
    tui = Tui(tmp_path, "127.0.0.1:9")  # the discard port: nothing answers
    try:
        screen = tui.wait_for("aiway: no Ollama server", timeout=15)
        assert "ollama serve" in screen
        assert tui.exit_code() == 3
    finally:
        tui.close()


@pytest.fixture
def pulls(ollama: FakeOllamaProcess) -> Iterator[FakeOllamaProcess]:
    """The shared server with a paced ``/api/pull``; its pull settings are put back after."""
    try:
        yield ollama
    finally:
        ollama.configure(pull_interval=0.0, pull_error=None, pull_raw=None)


def test_pull_shows_progress_in_the_status_bar_then_a_completion_note(
    tui: Tui, pulls: FakeOllamaProcess
) -> None:
    pulls.configure(pull_interval=0.25)
    tui.say("/pull qwen3:0.6b")
    progress = tui.wait_for("MB/50.0 MB")
    status_bar = tui.rows()[-1]
    assert re.search(r"pull qwen3:0\.6b: \d+% [\d.]+ MB/50\.0 MB", status_bar), status_bar
    done = tui.wait_for("pulled qwen3:0.6b", timeout=20)
    assert "pull qwen3" not in tui.rows()[-1]  # the status bar let go of the progress
    assert progress != done


def test_esc_cancels_a_pull_and_says_so(tui: Tui, pulls: FakeOllamaProcess) -> None:
    pulls.configure(pull_interval=1.0)
    tui.say("/pull llama3.2:1b")
    tui.wait_for("pull llama3.2:1b")
    tui.keys("Escape")
    cancelled = tui.wait_for("the pull of llama3.2:1b was cancelled")
    assert "pulled llama3.2:1b" not in cancelled


def test_help_lists_copy_and_pull(tui: Tui) -> None:
    tui.say("/help")
    shown = tui.wait_for("/pull NAME")
    assert "/copy [N]" in shown

"""The terminal UI benchmark: CPU of the UI process idle and streaming, beside oterm; render cost.

CPU: the real ``aiway`` runs in tmux (``exec``, so the pane's pid is the UI
process) against the fake Ollama server, and its CPU is read from
``/proc/<pid>/stat`` (utime + stime, every thread), as a percentage of one
core. Side by side in the same run, oterm (a Textual chat UI for Ollama,
installed on demand into ``profiling/.venv-oterm``) is driven the same way,
with a chat already made in its store, against the same server and reply.
Each round starts each UI afresh, the order alternating from round to round
(at least three rounds), and takes two windows of it:

* idle, the avatar animating: a fixed window after start-up settles; the
  clock ticks of every round's window are summed before dividing, so the
  figure sits well above the resolution of one tick;
* streaming at 50 tokens/s: the window opens when ``tok20`` shows and closes
  when the reply's last token shows (polled only from when the server is due
  to send it), so every window ends with the last streamed token checked on
  screen; how long after its send that was is reported, and ours must be
  within ``MAX_LAG``. CPU per displayed token is the window's CPU over the
  tokens that came onto the screen in it.

The terminal is 160x50 for both: oterm does not scroll while an answer
streams, so a smaller one would hide its last token. oterm is pinned to
0.14.7: the last release that talks to Ollama's own ``/api/chat`` (later ones
use the OpenAI-compatible ``/v1`` API, which the fake server does not speak).
oterm checks ``GET /`` before anything else, which the fake server does not
answer, so it is pointed at a small front (``profiling.tui_harness``) that
answers that and forwards everything else untouched. When oterm cannot be
installed or driven, its rows keep their keys and say ``skipped`` with why;
ours still count.

Render: in process, the renderer (``aiway.ui.tui.render``) with 10 and with 10,000
messages in the history, the time of one wake-up (a token arrives: the view
model takes it, the renderer applies it and paints onto a canvas that keeps
nothing), medians of interleaved rounds.

Paste: in process, the key reader, the controller and the input box take a
bracketed paste of 10,000 lines of code, fed in the batches the screen reads
(8,192 keys), then the box is painted; the time per pasted line beside the
same with 100 lines says whether the cost stays linear.

``python -m profiling.bench_tui [--quick]`` prints the rows with the report's table.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from time import perf_counter
from typing import Any

import attrs

from profiling import NOISE_NOTE, goal, median, median_ratio, row
from profiling.pipeline import ServerProcess, fake_ollama
from profiling.tui_harness import TmuxApp, cpu_seconds, terminal_env

HERE = Path(__file__).resolve().parent
AIWAY = Path(sys.executable).with_name("aiway")
OTERM_VERSION = "0.14.7"
OTERM_VENV = HERE / ".venv-oterm"
OTERM = OTERM_VENV / "bin" / "oterm"
MODEL = "smollm2:135m"
RATE = 50.0
CPU_ROUNDS = 3
QUICK_CPU_ROUNDS = 3
IDLE_WINDOW = 15.0
QUICK_IDLE_WINDOW = 3.0
STREAM_WINDOW = 10.0
QUICK_STREAM_WINDOW = 3.0
LEAD_TOKEN = 20  # the streaming window opens once this token shows
MAX_LAG = 1.0  # seconds our last token may show after the server was due to send it
POLL = 0.02
SETTLE = 2.0
#: big enough that oterm, which does not scroll while an answer streams, shows the last token
WIDTH, HEIGHT = 160, 50
TOKEN = re.compile(r"\btok(\d+)\b")
RENDER_WAKES = 2000
QUICK_RENDER_WAKES = 400
RENDER_ROUNDS = 7
QUICK_RENDER_ROUNDS = 3
IDLE_TARGET = 1.0
IDLE_RATIO_TARGET = 0.5
STREAM_TARGET = 5.0
RENDER_TARGET = 1.2


# -- the two UIs ------------------------------------------------------------------------------


class Ui:
    """How to start one UI, know it is ready, and send it a message."""

    name = ""

    def launch(self, home: Path, server: ServerProcess) -> TmuxApp:
        raise NotImplementedError

    def ready_text(self) -> str:
        raise NotImplementedError

    def send(self, app: TmuxApp, text: str) -> None:
        app.type_text(text)
        app.keys("Enter")


class Aiway(Ui):
    name = "aiway"

    def launch(self, home: Path, server: ServerProcess) -> TmuxApp:
        command = [str(AIWAY), "--backend", "ollama", "--model", MODEL]
        env = terminal_env(home, f"127.0.0.1:{server.port}")
        return TmuxApp(command, env, width=WIDTH, height=HEIGHT)

    def ready_text(self) -> str:
        return "Ready"


class Oterm(Ui):
    name = f"oterm {OTERM_VERSION}"

    def __init__(self, front: ServerProcess) -> None:
        self.front = front

    def launch(self, home: Path, server: ServerProcess) -> TmuxApp:
        env = terminal_env(home, f"127.0.0.1:{self.front.port}")
        env["OTERM_DATA_DIR"] = str(home / "oterm")
        prepare_oterm_chat(home / "oterm", env)
        return TmuxApp([str(OTERM)], env, width=WIDTH, height=HEIGHT)

    def ready_text(self) -> str:
        return "bench"


def prepare_oterm_chat(data: Path, env: dict[str, str]) -> None:
    """oterm's data dir with no splash screen and one chat made (so no dialog is needed)."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "config.json").write_text('{"theme": "textual-dark", "splash-screen": false}')
    script = (
        "import asyncio\n"
        "from oterm.store.store import Store\n"
        "from oterm.types import ChatModel\n"
        "async def main():\n"
        "    store = await Store.get_store()\n"
        f"    await store.save_chat(ChatModel(name='bench', model={MODEL!r}))\n"
        "asyncio.run(main())\n"
    )
    python = OTERM_VENV / "bin" / "python"
    subprocess.run(
        [str(python), "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
        check=True,
    )


def ensure_oterm() -> str | None:
    """Install oterm into its own venv if it is not there; None, or why it cannot run."""
    if OTERM.exists():
        return None
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(OTERM_VENV)],
            capture_output=True,
            timeout=300,
            check=True,
        )
        # the venv keeps itself out of git and ruff, whatever the top .gitignore says
        (OTERM_VENV / ".gitignore").write_text("*\n")
        pip = OTERM_VENV / "bin" / "pip"
        subprocess.run(
            [str(pip), "install", "-q", f"oterm=={OTERM_VERSION}"],
            capture_output=True,
            timeout=900,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        tail = detail.decode(errors="replace").strip().splitlines()[-1:] if detail else []
        return f"oterm {OTERM_VERSION} could not be installed: {exc} {' '.join(tail)}".strip()
    return None if OTERM.exists() else "oterm was installed but has no `oterm` command"


@attrs.frozen
class Idle:
    """One idle window of one UI: CPU seconds over wall seconds."""

    cpu: float
    wall: float


@attrs.frozen
class Streaming:
    """One streaming window of one UI, from a token on screen to the reply's last one on screen."""

    cpu: float
    wall: float
    displayed: int  # tokens that came onto the screen inside the window
    lag: float  # seconds from when the server was due to send the last token to it showing


def shown_token(screen: str) -> int:
    """The highest ``tokN`` on the screen (0 when none shows)."""
    return max((int(n) for n in TOKEN.findall(screen)), default=0)


def wait_for_token(app: TmuxApp, token: int, timeout: float) -> tuple[int, float]:
    """Poll until ``tok{token}`` or a later one shows: (the highest shown, when it was seen)."""
    deadline = time.monotonic() + timeout
    while True:
        screen = app.screen()
        seen = time.monotonic()
        highest = shown_token(screen)
        if highest >= token:
            return highest, seen
        if seen > deadline:
            raise RuntimeError(f"tok{token} never showed (tok{highest} did); the screen:\n{screen}")
        time.sleep(POLL)


def measure_round(
    ui: Ui, server: ServerProcess, idle_window: float, stream_window: float
) -> tuple[Idle, Streaming]:
    """One idle window, then one streaming window, of a freshly started UI."""
    with tempfile.TemporaryDirectory(prefix="aiway-bench-tui-") as home:
        server.configure(tokens=None, script=["Hello", " there."], rate=0)
        with ui.launch(Path(home), server) as app:
            app.wait_for(ui.ready_text())
            time.sleep(SETTLE)  # let start-up work finish before the window opens
            cpu, started = cpu_seconds(app.pid), time.monotonic()
            time.sleep(idle_window)
            idle = Idle(cpu_seconds(app.pid) - cpu, time.monotonic() - started)
            last = LEAD_TOKEN + round(RATE * stream_window)
            server.configure(tokens=last, rate=RATE)
            asked = time.monotonic()
            ui.send(app, "count for me")
            first, opened = wait_for_token(app, LEAD_TOKEN, timeout=30.0)
            cpu = cpu_seconds(app.pid)
            due = asked + (last - 1) / RATE  # the server sends token n at (n - 1) / RATE
            time.sleep(max(0.0, due - time.monotonic() - POLL))  # no polling inside the window
            _, closed = wait_for_token(app, last, timeout=MAX_LAG + 30.0)
            streaming = Streaming(
                cpu_seconds(app.pid) - cpu, closed - opened, last - first, closed - due
            )
    return idle, streaming


# -- render time per wake-up ----------------------------------------------------------------------


class _NullCanvas:
    def put(self, y: int, x: int, text: str, style: str) -> None:
        return None


def render_wake_seconds(messages: int, wakes: int) -> float:
    """Median seconds of one wake-up (token in, take, apply, paint) with ``messages`` kept."""
    from aiway.actors.protocol import (
        AnswerStatus,
        Message,
        ResponseMetadata,
        Role,
        StreamEnd,
        Token,
    )
    from aiway.ui.tui.render import Renderer
    from aiway.ui.tui.viewmodel import ViewModel

    view = ViewModel(history_limit=messages + 16, clock=lambda: 0.0)
    words = "the axolotl regrows its gills and answers in the terminal "
    seq = 0

    def publish(message: object) -> None:
        nonlocal seq
        seq += 1
        view.publish(message, seq)

    for turn in range(messages // 2):
        publish(Message(f"u{turn}", Role.USER, f"question {turn}: {words}"))
        publish(Message(f"a{turn}", Role.ASSISTANT, ""))
        answer = words * (1 + turn % 4)
        publish(StreamEnd(f"a{turn}", answer, ResponseMetadata(model="m"), AnswerStatus.COMPLETE))
    publish(Message("live", Role.ASSISTANT, ""))
    renderer = Renderer(120, 40, clock=lambda: 0.0)
    canvas = _NullCanvas()
    renderer.apply(view.take())
    renderer.paint(canvas)
    samples: list[float] = []
    for n in range(wakes):
        started = perf_counter()
        publish(Token("live", f" tok{n}"))
        renderer.apply(view.take())
        renderer.paint(canvas)
        samples.append(perf_counter() - started)
    return median(samples)


def render_rows(quick: bool) -> list[dict[str, Any]]:
    wakes = QUICK_RENDER_WAKES if quick else RENDER_WAKES
    rounds = QUICK_RENDER_ROUNDS if quick else RENDER_ROUNDS
    small: list[float] = []
    large: list[float] = []
    for _ in range(rounds):
        small.append(render_wake_seconds(10, wakes))
        large.append(render_wake_seconds(10_000, wakes))
    ratio = median_ratio(large, small)
    return [
        row(
            name="TUI render per wake-up, 10,000 messages",
            unit="us",
            ours=median(large) * 1e6,
            baseline="the same with 10 messages",
            baseline_value=median(small) * 1e6,
            ratio=ratio,
            goal=goal("ratio", "<=", RENDER_TARGET),
            better="lower",
            note="a wake-up: a token in, the view model taken, applied and painted (120x40), "
            f"median of {wakes} per round, {rounds} interleaved rounds",
        )
    ]


# -- a long paste ---------------------------------------------------------------------------------

PASTE_LINES = 10_000
PASTE_SMALL_LINES = 100
PASTE_TARGET = 1.5
PASTE_BATCH = 8192


def paste_seconds(lines: int) -> float:
    """Seconds to take a bracketed paste of ``lines`` lines into the input and paint the box."""
    from aiway.ui.tui.controller import Controller
    from aiway.ui.tui.keys import KeyReader
    from aiway.ui.tui.render import INPUT, Renderer
    from aiway.ui.tui.viewmodel import ViewModel

    code = "".join(
        f"    value_{n} = compute(value_{n - 1}, {n})  # step {n}\r" for n in range(lines)
    )
    raw = list("\x1b[200~" + code + "\x1b[201~")
    renderer = Renderer(120, 40, clock=lambda: 0.0)
    controller = Controller(renderer, ViewModel(), lambda message: None)
    reader = KeyReader(lambda code: b"")
    canvas = _NullCanvas()
    renderer.paint(canvas)
    started = perf_counter()
    for start in range(0, len(raw), PASTE_BATCH):
        for action in reader.feed(raw[start : start + PASTE_BATCH]):
            controller.handle(action)
        renderer.paint_region(INPUT, canvas, 0.0)
    elapsed = perf_counter() - started
    assert renderer.editor.text.count("\n") == lines
    return elapsed


def paste_rows(quick: bool) -> list[dict[str, Any]]:
    rounds = QUICK_RENDER_ROUNDS if quick else RENDER_ROUNDS
    large: list[float] = []
    small: list[float] = []
    for _ in range(rounds):
        large.append(paste_seconds(PASTE_LINES) / PASTE_LINES)
        small.append(paste_seconds(PASTE_SMALL_LINES) / PASTE_SMALL_LINES)
    ratio = median_ratio(large, small)
    return [
        row(
            name="TUI paste 10,000 lines: time to insert",
            unit="ms",
            ours=median(large) * PASTE_LINES * 1e3,
            baseline="100 lines, scaled per line",
            baseline_value=median(small) * PASTE_LINES * 1e3,
            ratio=ratio,
            goal=goal("ratio", "<=", PASTE_TARGET),
            aim="linear",
            better="lower",
            note="bracketed paste of lines of code in 8,192-key batches through the key reader, "
            f"the controller and the input box, painted; {rounds} interleaved rounds",
        )
    ]


# -- the rows ---------------------------------------------------------------------------------


def measure_rounds(
    uis: list[Ui], server: ServerProcess, rounds: int, idle_window: float, stream_window: float
) -> dict[str, list[tuple[Idle, Streaming]]]:
    """``rounds`` rounds of every UI, the order alternating so neither always goes first."""
    results: dict[str, list[tuple[Idle, Streaming]]] = {ui.name: [] for ui in uis}
    for index in range(rounds):
        for ui in uis if index % 2 == 0 else uis[::-1]:
            try:
                measured = measure_round(ui, server, idle_window, stream_window)
            except RuntimeError as exc:  # once: a key lost under load should not void the run
                warnings.warn(f"{ui.name}, round {index + 1}, measured again: {exc}", stacklevel=1)
                measured = measure_round(ui, server, idle_window, stream_window)
            results[ui.name].append(measured)
    return results


def percent(cpu: float, wall: float) -> float:
    return 100.0 * cpu / wall


def idle_percent(windows: list[tuple[Idle, Streaming]]) -> float:
    """Idle CPU over every window together: the ticks summed, so the resolution is theirs."""
    return percent(sum(idle.cpu for idle, _ in windows), sum(idle.wall for idle, _ in windows))


def cpu_rows(quick: bool) -> list[dict[str, Any]]:
    rounds = QUICK_CPU_ROUNDS if quick else CPU_ROUNDS
    idle_window = QUICK_IDLE_WINDOW if quick else IDLE_WINDOW
    stream_window = QUICK_STREAM_WINDOW if quick else STREAM_WINDOW
    ours = Aiway()
    with fake_ollama(tokens=8, rate=0) as server:
        skipped = ensure_oterm() or ""
        if skipped:
            results = measure_rounds([ours], server, rounds, idle_window, stream_window)
        else:
            try:
                with ServerProcess(
                    "profiling.tui_harness", "front", "--upstream", server.url
                ) as front:
                    results = measure_rounds(
                        [ours, Oterm(front)], server, rounds, idle_window, stream_window
                    )
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                skipped = f"oterm could not be driven: {exc}".splitlines()[0]
                results = measure_rounds([ours], server, rounds, idle_window, stream_window)
    mine = results[ours.name]
    theirs = None if skipped else results[Oterm.name]
    lags = [streaming.lag for _, streaming in mine]
    if max(lags) > MAX_LAG:
        raise AssertionError(f"aiway showed the last token up to {max(lags):.2f} s late: {lags}")

    tick = 100.0 / os.sysconf("SC_CLK_TCK")  # one clock tick, in % of a core over one second
    idle_wall = sum(idle.wall for idle, _ in mine)
    how = (
        f"{rounds} rounds, each UI freshly started in tmux ({WIDTH}x{HEIGHT}) per round, "
        "the order alternating; CPU = /proc/<pid>/stat utime+stime, % of one core"
    )
    idle_note = (
        f"{how}; idle: {idle_window:.0f} s per window, the ticks summed over the windows "
        f"(resolution {tick / idle_wall:.3f}% of a core); aiway: the avatar animates "
        "(a frame when her pose or place changes, painted at most 20 times a second; a "
        "wake-up paints only what changed) and metrics are not asked for (only while F2 is "
        "open or an answer is in flight); oterm: its chat screen with one empty chat "
        "(Textual's own timers)"
    )

    def streaming_note(extra: str) -> str:
        their_lag = "" if theirs is None else f", oterm {median([s.lag for _, s in theirs]):.2f} s"
        return (
            f"{how}; streaming: a {RATE:.0f} tok/s reply, window from tok{LEAD_TOKEN} on "
            f"screen to the reply's last token (tok{LEAD_TOKEN + round(RATE * stream_window)}) "
            f"on screen; that last token showed, median, aiway {median(lags):.2f} s"
            f"{their_lag} after the server was due to send it (an upper bound: request "
            "latency included); aiway: each token into the view model, the markdown of the "
            "answer re-wrapped from its last block, repaints at most 20 a second, the avatar "
            "animating; oterm: each chunk re-renders the whole answer as a Textual Markdown "
            f"widget{extra}"
        )

    baseline = f"oterm {OTERM_VERSION}, same server and reply"
    idle_ours = idle_percent(mine)
    idle_theirs = None if theirs is None else idle_percent(theirs)
    idle_ratio = None if not idle_theirs else idle_ours / idle_theirs
    stream_ours = [percent(s.cpu, s.wall) for _, s in mine]
    per_token_ours = [1e3 * s.cpu / s.displayed for _, s in mine]
    stream_theirs = None if theirs is None else [percent(s.cpu, s.wall) for _, s in theirs]
    per_token_theirs = None if theirs is None else [1e3 * s.cpu / s.displayed for _, s in theirs]

    def rows_of(
        name: str,
        unit: str,
        value: float,
        their: float | None,
        ratio: float | None,
        target: dict[str, Any] | None,
        note: str,
        aim: str = "",
    ) -> dict[str, Any]:
        return row(
            name=name,
            unit=unit,
            ours=value,
            baseline=baseline,
            baseline_value=their,
            ratio=ratio,
            goal=target,
            aim=aim,
            better="lower",
            note=note,
            tolerance=1.0,
            skipped=skipped,
        )

    return [
        rows_of(
            "TUI CPU idle, avatar animating",
            "% core",
            idle_ours,
            idle_theirs,
            idle_ratio,
            goal("ours", "<", IDLE_TARGET),
            idle_note + "; ratio: of the summed windows",
        ),
        rows_of(
            "TUI CPU idle vs oterm, avatar animating",
            "% core",
            idle_ours,
            idle_theirs,
            idle_ratio,
            goal("ratio", "<=", IDLE_RATIO_TARGET),
            idle_note + "; ratio: of the summed windows",
        ),
        rows_of(
            f"TUI CPU streaming {RATE:.0f} tok/s",
            "% core",
            median(stream_ours),
            None if stream_theirs is None else median(stream_theirs),
            None if stream_theirs is None else median_ratio(stream_ours, stream_theirs),
            goal("ours", "<", STREAM_TARGET),
            streaming_note("; medians of the windows, ratio: median of per-round ratios"),
            aim="half of oterm's",
        ),
        rows_of(
            f"TUI CPU per displayed token, streaming {RATE:.0f} tok/s",
            "ms/token",
            median(per_token_ours),
            None if per_token_theirs is None else median(per_token_theirs),
            None if per_token_theirs is None else median_ratio(per_token_ours, per_token_theirs),
            None,
            streaming_note("; CPU of the window over the tokens that came onto the screen in it"),
        ),
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every row of this benchmark (see the module docstring)."""
    return [*cpu_rows(quick), *render_rows(quick), *paste_rows(quick)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m profiling.bench_tui")
    parser.add_argument("--quick", action="store_true", help="short windows")
    args = parser.parse_args(argv)
    from profiling.report import format_table

    print(format_table(run(quick=args.quick)))
    print(f"({NOISE_NOTE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

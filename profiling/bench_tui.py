"""The terminal UI benchmark: CPU of the UI process idle and streaming, beside oterm; render cost.

CPU: the real ``aiway`` runs in tmux (``exec``, so the pane's pid is the UI
process) against the fake Ollama server, and its CPU is read from
``/proc/<pid>/stat`` (utime + stime, every thread) over a fixed window, as a
percentage of one core: idle with the avatar animating, then while an answer
streams at 50 tokens/s. Side by side in the same run, oterm (a Textual chat
UI for Ollama, installed on demand into ``profiling/.venv-oterm``) is driven
the same way, with a chat already made in its store, against the same server
and reply. oterm is pinned to 0.14.7: the last release that talks to Ollama's
own ``/api/chat`` (later ones use the OpenAI-compatible ``/v1`` API, which the
fake server does not speak). oterm checks ``GET /`` before anything else, which
the fake server does not answer, so it is pointed at a small front
(``profiling.tui_harness``) that answers that and forwards everything else
untouched. When oterm cannot be installed or driven, its rows say why and
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from time import perf_counter
from typing import Any

from profiling import NOISE_NOTE, median, median_ratio, row
from profiling.pipeline import ServerProcess, fake_ollama
from profiling.tui_harness import TmuxApp, cpu_percent, terminal_env

HERE = Path(__file__).resolve().parent
AIWAY = Path(sys.executable).with_name("aiway")
OTERM_VERSION = "0.14.7"
OTERM_VENV = HERE / ".venv-oterm"
OTERM = OTERM_VENV / "bin" / "oterm"
MODEL = "smollm2:135m"
RATE = 50.0
WINDOW = 10.0
QUICK_WINDOW = 3.0
SETTLE = 2.0
RENDER_WAKES = 2000
QUICK_RENDER_WAKES = 400
RENDER_ROUNDS = 7
QUICK_RENDER_ROUNDS = 3
IDLE_TARGET = 1.0
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
        return TmuxApp(command, terminal_env(home, f"127.0.0.1:{server.port}"))

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
        return TmuxApp([str(OTERM)], env)

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


def measure_ui(ui: Ui, server: ServerProcess, window: float) -> tuple[float, float]:
    """(idle CPU %, streaming CPU %) of one UI process."""
    with tempfile.TemporaryDirectory(prefix="aiway-bench-tui-") as home:
        server.configure(tokens=None, script=["Hello", " there."], rate=0)
        with ui.launch(Path(home), server) as app:
            app.wait_for(ui.ready_text())
            time.sleep(SETTLE)  # let start-up work finish before the window opens
            idle = cpu_percent(app.pid, window)
            server.configure(tokens=int(RATE * (window + SETTLE + 20)), rate=RATE)
            ui.send(app, "count for me")
            app.wait_for("tok20")
            streaming = cpu_percent(app.pid, window)
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
            target=f"<= {RENDER_TARGET}x",
            met=ratio is not None and ratio <= RENDER_TARGET,
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
            target=f"<= {PASTE_TARGET}x (linear)",
            met=ratio is not None and ratio <= PASTE_TARGET,
            better="lower",
            note="bracketed paste of lines of code in 8,192-key batches through the key reader, "
            f"the controller and the input box, painted; {rounds} interleaved rounds",
        )
    ]


# -- the rows ---------------------------------------------------------------------------------


def cpu_rows(quick: bool) -> list[dict[str, Any]]:
    window = QUICK_WINDOW if quick else WINDOW
    with fake_ollama(tokens=8, rate=0) as server:
        ours_idle, ours_streaming = measure_ui(Aiway(), server, window)
        skipped = ensure_oterm()
        theirs: tuple[float, float] | None = None
        if skipped is None:
            try:
                with ServerProcess(
                    "profiling.tui_harness", "front", "--upstream", server.url
                ) as front:
                    theirs = measure_ui(Oterm(front), server, window)
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                skipped = f"oterm could not be driven: {exc}".splitlines()[0]
    baseline = f"oterm {OTERM_VERSION}, same server and reply"
    how = (
        f"/proc/<pid>/stat utime+stime over {window:.0f} s, % of one core "
        "(clock ticks of 10 ms bound the resolution)"
    )
    note = how if skipped is None else f"{how}; {skipped}"
    rows = []
    for index, (name, ours, target) in enumerate(
        (
            ("TUI CPU idle, avatar animating", ours_idle, IDLE_TARGET),
            (f"TUI CPU streaming {RATE:.0f} tok/s", ours_streaming, STREAM_TARGET),
        )
    ):
        their = None if theirs is None else theirs[index]
        ratio = None if their is None or their <= 0 else ours / their
        rows.append(
            row(
                name=name,
                unit="% core",
                ours=ours,
                baseline=baseline if theirs is not None else f"{baseline} (skipped)",
                baseline_value=their,
                ratio=ratio,
                target=f"< {target:.0f}% of a core",
                met=ours < target,
                better="lower",
                note=note,
                tolerance=1.0,
            )
        )
    return rows


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

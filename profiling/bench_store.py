"""The history benchmark: what saving costs the stream, and how fast a long session comes back.

* **Tokens/s, history on vs off.** Two whole sessions in one process
  (``Assistant.start`` with a real ``OllamaBackend``, avatar off, one counting
  surface), one of them saving to a SQLite file through the Store actor, read
  the same long reply from the fake Ollama server, which runs in its own
  process at full speed. Rounds alternate which side goes first; each figure
  is tokens per second from sending the question to the surface taking
  ``StreamEnd``; the ratio is the median of per-round ratios. Between rounds
  the bench waits until the store has committed the answer, so one side's
  background write does not land in the other side's measurement.
* **Resume to the first screen.** A history file holds a 10,000-message
  session and a 10-message one. Each round resumes one of them as ``aiway
  headless --resume ID`` does, in process: open the file, load the visible
  tail, start the session, attach the headless log surface (writing to a
  file) and wait until it has written its first snapshot. Python's own
  start-up is left out (it is the same for any session). The two sizes
  alternate; the ratio is the median of per-round ratios.

* **A checkpoint of a long answer.** One streaming answer grows by
  ``CHECKPOINT_CHARS`` per checkpoint up to ``CHECKPOINT_ANSWER`` characters,
  saved to a real file by ``HistoryDatabase.apply``, once as the store does it
  (an ``AppendMessage`` of the new text) and once as it did before (an
  ``UpdateMessage`` rewriting the whole text). Rounds alternate the two; the
  figures are WAL bytes per checkpoint over the last tenth of the answer
  (where a rewrite costs the most) and the milliseconds per checkpoint.

``python -m profiling.bench_store`` prints the rows with the report's table.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from aiway.actors.app import Assistant
from aiway.actors.backends.ollama import OllamaBackend
from aiway.actors.protocol import Capability, ResponseMetadata, Role, UserCommand, UserMessage
from aiway.actors.store import HistoryDatabase, MessageState, OpenedHistory, open_history
from aiway.actors.store.records import (
    AppendMessage,
    EnsureSession,
    InsertMessage,
    UpdateMessage,
    WriteOp,
    ends_turn,
    metadata_json,
)
from aiway.config import Settings
from aiway.ui.headless import LogSurface
from aiway.ui.output import Output
from profiling import NOISE_NOTE, median, median_ratio, row
from profiling.pipeline import (
    MODEL,
    QUESTION,
    CountingSurface,
    ServerProcess,
    fake_ollama,
    pipeline_settings,
)

#: reply lengths: the issue's 20k (15-20 ms at full speed here: a fixed cost per answer
#: shows), and a long one (where only a cost per token would)
TOKENS = (20_000, 100_000)
ROUNDS = 15
QUICK_ROUNDS = 3
BIG = 10_000
SMALL = 10
RESUME_ROUNDS = 15
QUICK_RESUME_ROUNDS = 5
RESUME_TARGET_MS = 150.0
RESUME_RATIO = 1.5
THROUGHPUT_TARGET = 0.98
_CAPABILITIES = frozenset({Capability.STREAMING})


def _settings(data: Path, *, enabled: bool) -> Settings:
    base = pipeline_settings()
    history = attrs.evolve(base.history, enabled=enabled, path=data / "aiway.sqlite3")
    return attrs.evolve(base, history=history)


# -- tokens/s with the history on and off -------------------------------------------------


class _CountingDatabase(HistoryDatabase):
    """Counts the answers committed as ended (the bench waits for them between rounds)."""

    ended = 0
    _lock = threading.Lock()

    def apply(self, ops: Sequence[WriteOp]) -> None:
        super().apply(ops)
        finished = sum(1 for op in ops if _ends_an_answer(op))
        with _CountingDatabase._lock:
            _CountingDatabase.ended += finished


_ends_an_answer = ends_turn


class _Session:
    """One whole session with one counting surface."""

    def __init__(self, assistant: Assistant, ended: asyncio.Event) -> None:
        self.assistant = assistant
        self.ended = ended

    @classmethod
    async def open(cls, url: str, settings: Settings, history: OpenedHistory | None) -> _Session:
        backend = OllamaBackend(url, max_line_bytes=settings.conversation.max_line_bytes)
        assistant = Assistant.start(settings, backend, model=MODEL, history=history)
        ended, joined = asyncio.Event(), asyncio.Event()
        surface = CountingSurface(ended.set, joined.set)
        assistant.attach("bench", lambda: surface, surface_type="bench", capabilities=_CAPABILITIES)
        await asyncio.wait_for(joined.wait(), 10)
        return cls(assistant, ended)

    async def answer(self, timeout: float = 120.0) -> float:
        """Seconds from the question to the surface taking ``StreamEnd``."""
        self.ended.clear()
        conductor = self.assistant.conductor
        conductor.tell(UserCommand("clear"))  # each request as short as the last
        started = time.perf_counter()
        conductor.tell(UserMessage(QUESTION))
        await asyncio.wait_for(self.ended.wait(), timeout)
        return time.perf_counter() - started


async def _until_saved(answers: int, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while _CountingDatabase.ended < answers:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the store saved {_CountingDatabase.ended} of {answers} answers")
        await asyncio.sleep(0.001)


async def _throughput(
    server: ServerProcess, data: Path, rounds: int
) -> dict[int, dict[str, list[float]]]:
    _CountingDatabase.ended = 0
    on_settings = _settings(data, enabled=True)
    history = await open_history(on_settings, database=_CountingDatabase)
    on = await _Session.open(server.url, on_settings, history)
    off = await _Session.open(server.url, _settings(data, enabled=False), None)
    saved = 0

    async def with_history() -> float:
        nonlocal saved
        elapsed = await on.answer()
        saved += 1
        await _until_saved(saved)
        return elapsed

    sides = {"on": with_history, "off": off.answer}
    results: dict[int, dict[str, list[float]]] = {}
    try:
        for tokens in TOKENS:
            await asyncio.to_thread(server.configure, tokens=tokens)
            results[tokens] = {name: [] for name in sides}
            for side in sides.values():  # warm up: connections, the server's reply cache
                await side()
            for index in range(rounds):
                order = ["on", "off"] if index % 2 == 0 else ["off", "on"]
                for name in order:
                    results[tokens][name].append(tokens / await sides[name]())
    finally:
        await on.assistant.stop()
        await off.assistant.stop()
    return results


# -- resume to the first screen -----------------------------------------------------------------

_QUESTION_TEXT = "How do axolotls regrow a limb, and what does that teach us? ¿Y los ñandúes? "
_ANSWER_TEXT = (
    "Axolotls keep a pool of cells that can become what was lost: a blastema forms, "
    "nerves signal it, and the limb grows back in order. 🦎 "
)
_META = metadata_json(ResponseMetadata(model=MODEL, backend="ollama", elapsed_ms=900.0, tokens=60))


def _write_session(path: Path, session_id: str, messages: int) -> None:
    """A saved session of ``messages`` messages (questions and complete answers)."""
    db = HistoryDatabase(path)
    db.open()
    try:
        ops: list[WriteOp] = [EnsureSession(session_id, MODEL, "be kind", 1.0)]
        for index in range(messages):
            user = index % 2 == 0
            role = Role.USER if user else Role.ASSISTANT
            text = (_QUESTION_TEXT if user else _ANSWER_TEXT * 3) + str(index)
            meta = None if user else _META
            ops.append(
                InsertMessage(index, session_id, role, text, MessageState.COMPLETE, meta, 2.0)
            )
            if len(ops) >= 2000:
                db.apply(ops)
                ops = []
        db.apply(ops)
    finally:
        db.close()


async def _first_screen(settings: Settings, session_id: str, out_path: Path) -> float:
    """Milliseconds from ``--resume ID`` to the headless surface having written its snapshot."""
    backend = OllamaBackend("http://127.0.0.1:9")  # never asked: nothing is sent in a resume
    started = time.perf_counter()
    history = await open_history(settings, resume=session_id)
    assistant = Assistant.start(settings, backend, model=MODEL, history=history)
    out = await Output.open(str(out_path))
    surface = LogSurface(out, json_mode=False)
    surface.painted = asyncio.get_running_loop().create_future()
    assistant.attach(
        "headless",
        lambda: surface,
        surface_type="headless",
        capabilities=frozenset({Capability.STREAMING, Capability.TASKS}),
    )
    await asyncio.wait_for(surface.painted, 10)
    elapsed = (time.perf_counter() - started) * 1000
    await assistant.stop()
    await out.close()
    return elapsed


async def _resume(data: Path, rounds: int) -> dict[str, list[float]]:
    settings = _settings(data, enabled=True)
    path = settings.history.path
    assert path is not None
    await asyncio.to_thread(_write_session, path, "big", BIG)
    await asyncio.to_thread(_write_session, path, "small", SMALL)
    results: dict[str, list[float]] = {"big": [], "small": []}
    screens = data / "screens"
    screens.mkdir()
    for name in ("big", "small"):  # warm up: imports, the file in the page cache
        await _first_screen(settings, name, screens / f"warm-{name}.txt")
    for index in range(rounds):
        order = ["big", "small"] if index % 2 == 0 else ["small", "big"]
        for name in order:
            screen = screens / f"{name}-{index}.txt"
            results[name].append(await _first_screen(settings, name, screen))
    for name, messages in (("big", settings.history.resume_messages), ("small", SMALL)):
        shown = (screens / f"{name}-0.txt").read_text(encoding="utf-8").count("you> ")
        assert shown == messages // 2, f"the {name} session's screen shows {shown} questions"
    return results


# -- one checkpoint of a long answer: append the new text vs rewrite the whole -------------

CHECKPOINT_ANSWER = 200_000
CHECKPOINT_CHARS = 2_000
CHECKPOINT_ROUNDS = 5


class _GrowingWal(HistoryDatabase):
    """The real database with SQLite's automatic checkpoint off, so the WAL's size counts
    every byte written (a checkpoint would rewind it)."""

    def open(self) -> None:
        super().open()
        self._connection().execute("PRAGMA wal_autocheckpoint = 0")


def _checkpoints(folder: Path, append: bool) -> tuple[float, float]:
    """WAL bytes and milliseconds per checkpoint over the last tenth of one long answer."""
    path = folder / f"{'append' if append else 'rewrite'}-{time.monotonic_ns()}.sqlite3"
    db = _GrowingWal(path)
    db.open()
    try:
        started = InsertMessage(1, "s1", Role.ASSISTANT, "", MessageState.STREAMING, None, 1.0)
        db.apply([EnsureSession("s1", MODEL, "", 1.0), started])
        wal = Path(f"{path}-wal")
        text = ""
        steps = CHECKPOINT_ANSWER // CHECKPOINT_CHARS
        measured = max(steps // 10, 1)
        grew = 0
        elapsed = 0.0
        for step in range(steps):
            new = f"{step:05d} ñandú 🦎 ".ljust(CHECKPOINT_CHARS, "x")
            op: WriteOp = (
                AppendMessage(1, len(text), new) if append else UpdateMessage(1, text + new)
            )
            text += new
            before = wal.stat().st_size
            t0 = time.perf_counter()
            db.apply([op])
            spent = time.perf_counter() - t0
            if step >= steps - measured:
                grew += wal.stat().st_size - before
                elapsed += spent
        assert db.transcript("s1").messages[0].content == text
    finally:
        db.close()
        for leftover in folder.glob(f"{path.name}*"):
            leftover.unlink()
    return grew / measured, elapsed / measured * 1000


def _checkpoint_rounds(folder: Path, rounds: int) -> dict[str, list[tuple[float, float]]]:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    results: dict[str, list[tuple[float, float]]] = {"append": [], "rewrite": []}
    for number in range(rounds):
        order = ("append", "rewrite") if number % 2 == 0 else ("rewrite", "append")
        for side in order:
            results[side].append(_checkpoints(folder, side == "append"))
    return results


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure both figures; return the report rows."""
    rounds = QUICK_ROUNDS if quick else ROUNDS
    resume_rounds = QUICK_RESUME_ROUNDS if quick else RESUME_ROUNDS
    with tempfile.TemporaryDirectory(prefix="aiway-bench-store-") as folder:
        data = Path(folder)
        with fake_ollama(TOKENS[0]) as server:
            speed = asyncio.run(_throughput(server, data / "stream", rounds))
        resumed = asyncio.run(_resume(data / "resume", resume_rounds))
        checkpoints = _checkpoint_rounds(data / "checkpoints", 2 if quick else CHECKPOINT_ROUNDS)
    big, small = median(resumed["big"]), median(resumed["small"])
    resume_ratio = median_ratio(resumed["big"], resumed["small"])
    rows = []
    for tokens, sides in speed.items():
        ratio = median_ratio(sides["on"], sides["off"])
        rows.append(
            row(
                name=f"tokens/s, history on vs off, {tokens // 1000}k-token replies",
                unit="tok/s",
                ours=median(sides["on"]),
                baseline="history off (same run)",
                baseline_value=median(sides["off"]),
                ratio=ratio,
                target=f">= {THROUGHPUT_TARGET}x (aim 0.99x)",
                met=None if ratio is None else ratio >= THROUGHPUT_TARGET,
                better="higher",
                note=(
                    "whole sessions reading one reply from the fake server in another process at "
                    "full speed, one surface, avatar off; with the history on, the Store actor "
                    "saves the question when it is sent and the answer when it ends (a thread "
                    "hand-off each); medians of "
                    f"{rounds} alternating rounds. " + NOISE_NOTE
                ),
            )
        )
    for index, (what, unit) in enumerate((("WAL bytes", "bytes"), ("time", "ms"))):
        ours = [sample[index] for sample in checkpoints["append"]]
        before = [sample[index] for sample in checkpoints["rewrite"]]
        ratio = median_ratio(ours, before)
        rows.append(
            row(
                name=f"{what} per checkpoint, last tenth of a {CHECKPOINT_ANSWER // 1000}k-char "
                "answer",
                unit=unit,
                ours=median(ours),
                baseline="rewrite the whole text (before v4)",
                baseline_value=median(before),
                ratio=ratio,
                target="O(new text): flat as the answer grows",
                met=None if ratio is None else ratio < 0.5,
                better="lower",
                note=(
                    f"HistoryDatabase.apply on a real file, {CHECKPOINT_CHARS:,} new characters "
                    "per checkpoint; append (message_parts) vs rewrite (UPDATE content), "
                    f"alternating rounds, medians of {len(ours)}"
                ),
            )
        )
    return [
        *rows,
        row(
            name=f"resume {BIG:,} messages to first screen",
            unit="ms",
            ours=big,
            baseline=f"resume {SMALL} messages",
            baseline_value=small,
            ratio=resume_ratio,
            target=f"< {RESUME_TARGET_MS:.0f} ms, <= {RESUME_RATIO}x",
            met=None
            if resume_ratio is None
            else big < RESUME_TARGET_MS and resume_ratio <= RESUME_RATIO,
            better="lower",
            note=(
                "in process, as `aiway headless --resume ID` does it: open the file, load the "
                "visible tail (history.resume_messages), start the session, attach the headless "
                "surface and wait for its first snapshot to be written; Python start-up left out; "
                f"medians of {resume_rounds} alternating rounds"
            ),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print this module's rows with the report's table."""
    from profiling.report import main as report_main

    args = sys.argv[1:] if argv is None else argv
    return report_main(["--only", "store", *args])


if __name__ == "__main__":
    sys.exit(main())

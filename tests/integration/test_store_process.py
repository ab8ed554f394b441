"""The history as a person meets it: real ``aiway`` processes, a fake Ollama server process.

Each test has its own XDG directories, so the history file is
``<tmp>/data/aiway/aiway.sqlite3``. Servers listen on 127.0.0.1 and are
stopped by their pid; nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from aiway.actors.store.records import assemble
from aiway.actors.store.schema import LATEST
from tests.fakes import FakeOllamaProcess
from tests.fakes.isolated import isolated_env
from tests.waiting import wait_until_sync

AIWAY = [sys.executable, "-m", "aiway.ui.cli"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllamaProcess]:
    script = orjson.dumps(["Hola ", "[yolla:wave]amigo ", "ñandú 🦎."]).decode()
    with FakeOllamaProcess("--models", "tiny:latest", "--script", script) as fake:
        yield fake


def environment(tmp_path: Path, host: str, **extra: str) -> dict[str, str]:
    return isolated_env(tmp_path, OLLAMA_HOST=host, AIWAY_OLLAMA_DEFAULT_MODEL="tiny", **extra)


def run(
    tmp_path: Path, *args: str, host: str, stdin: str | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AIWAY, *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(tmp_path, host, **extra),
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def history_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "aiway" / "aiway.sqlite3"


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def streaming_text(path: Path, seq: int) -> str:
    """The saved text of the answer ``seq`` while it streams: its row, then its parts."""
    sql = f"SELECT id, content FROM messages WHERE seq = {seq} AND state = 'streaming'"
    rows = query(path, sql)
    if not rows:
        return ""
    row, content = rows[0]
    parts = query(path, f"SELECT start, text FROM message_parts WHERE message_id = {row}")
    return assemble(str(content), sorted((int(str(s)), str(t)) for s, t in parts))


#: the kill -9 test's stream and the store's checkpoint period (pinned here, not the default)
KILL_RATE = 40.0
CHECKPOINT_SECONDS = 0.5
#: a saved partial may trail what was shown by one period, plus one more for the kill
#: landing while a checkpoint is on its way to the disk: tokens (one word each)
BEHIND_AT_MOST = round(KILL_RATE * CHECKPOINT_SECONDS) * 2
#: words shown before the kill: well past any fixed start, so a store that checkpointed once
#: and then stopped (or never did) trails by more than ``BEHIND_AT_MOST``
SHOWN_BEFORE_KILL = 3 * BEHIND_AT_MOST


class ShownSoFar:
    """What a process has printed to its (non-blocking) standard output so far."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._fd = process.stdout.fileno()
        os.set_blocking(self._fd, False)
        self.data = b""

    def answer(self) -> str:
        """The streaming answer to the second question as printed so far."""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self._fd, 65536):
                self.data += chunk
        return answer_to_second(self.data.decode(errors="replace"))


def answer_to_second(printed: str) -> str:
    """What follows ``yollayah>`` after ``you> second`` ("" before it shows)."""
    after = printed.partition("you> second\n")[2]
    return after.partition("yollayah>")[2]


def test_kill_9_mid_answer_keeps_every_message_and_the_partial_answer_as_interrupted(
    tmp_path: Path,
) -> None:
    with FakeOllamaProcess("--models", "tiny:latest", "--script", '["Hola ", "amigo."]') as fake:
        first = run(tmp_path, "headless", "--backend", "ollama", "--prompt", "first", host=fake.url)
        assert first.returncode == 0, first.stderr
        fake.configure(tokens=2000, rate=KILL_RATE)  # about 50 s: it is killed long before
        process = subprocess.Popen(
            [*AIWAY, "headless", "--backend", "ollama", "--resume", "last", "--prompt", "second"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment(
                tmp_path, fake.url, AIWAY_HISTORY_CHECKPOINT_INTERVAL=str(CHECKPOINT_SECONDS)
            ),
            cwd=ROOT,
        )
        path = history_file(tmp_path)
        shown_so_far = ShownSoFar(process)

        def shown_enough() -> bool:
            # the kill follows what is on screen, not the store's checkpoints
            return len(shown_so_far.answer().split()) >= SHOWN_BEFORE_KILL

        try:
            wait_until_sync(shown_enough, timeout=30, what=f"{SHOWN_BEFORE_KILL} words shown")
        finally:
            os.kill(process.pid, signal.SIGKILL)
            rest, _ = process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        saved = streaming_text(path, 4)

        resumed = run(tmp_path, "headless", "--backend", "ollama", "--resume", host=fake.url)

    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    out = resumed.stdout
    assert "you> first" in out, out
    assert out.index("you> first") < out.index("yollayah> Hola amigo.")
    assert out.index("yollayah> Hola amigo.") < out.index("you> second")
    assert f"yollayah> {saved}\n   · interrupted\n" in out
    answer = answer_to_second((shown_so_far.data + rest).decode())
    assert saved.strip() and answer.strip().startswith(saved.strip()), "saved had been shown"
    behind = len(answer.split()) - len(saved.split())
    assert behind <= BEHIND_AT_MOST, (
        f"the saved partial trails what was shown by {behind} tokens, more than "
        f"{CHECKPOINT_SECONDS} s x {KILL_RATE:.0f} tok/s plus one checkpoint"
    )
    assert query(path, "SELECT seq, state FROM messages ORDER BY seq") == [
        (1, "complete"),
        (2, "complete"),
        (3, "complete"),
        (4, "interrupted"),
    ]


def test_sessions_export_and_forget_from_the_shell(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    host = server.url
    chat = run(tmp_path, "headless", "--backend", "ollama", "--prompt", "¿qué tal? 🦎", host=host)
    assert chat.returncode == 0, chat.stderr
    (session_id,) = query(history_file(tmp_path), "SELECT id FROM sessions")[0]

    listed = run(tmp_path, "sessions", host=host)
    to_stdout = run(tmp_path, "export", "last", host=host)
    to_file = run(tmp_path, "export", str(session_id)[:3], str(tmp_path / "c.md"), host=host)
    kept = run(tmp_path, "forget", host=host, stdin="n\n")
    still_there = history_file(tmp_path).exists()
    forgotten = run(tmp_path, "forget", "--yes", host=host)
    empty = run(tmp_path, "sessions", host=host)

    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()[:2]
    assert header.split() == ["id", "last", "change", "msgs", "model", "title"]
    assert row.startswith(str(session_id)) and row.endswith("¿qué tal? 🦎")
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout.startswith("# ¿qué tal? 🦎\n")
    assert "## Yollayah\n\nHola amigo ñandú 🦎.\n" in to_stdout.stdout
    assert to_file.returncode == 0 and "2 messages" in to_file.stderr
    assert (tmp_path / "c.md").read_text(encoding="utf-8") == to_stdout.stdout
    assert kept.returncode == 1 and "nothing was deleted" in kept.stdout and still_there
    assert "Delete 1 saved conversations" in kept.stdout
    assert forgotten.returncode == 0, forgotten.stderr
    assert not list(history_file(tmp_path).parent.iterdir())
    assert "no saved conversations yet" in empty.stdout


def test_no_history_saves_nothing_and_resume_then_says_why(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    chat = run(tmp_path, "headless", "--no-history", "--prompt", "secret", host=server.url)
    resumed = run(tmp_path, "headless", "--resume", host=server.url, AIWAY_HISTORY_ENABLED="false")
    listed = run(tmp_path, "sessions", "--no-history", host=server.url)

    assert chat.returncode == 0, chat.stderr
    assert not (tmp_path / "data").exists()
    assert resumed.returncode == 3 and "--resume needs the history" in resumed.stderr
    assert listed.returncode == 1 and "the history is off" in listed.stderr


def test_a_damaged_history_is_kept_aside_and_the_session_goes_on(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    path = history_file(tmp_path)
    path.parent.mkdir(parents=True)
    garbage = b"\x00definitely not sqlite\xff" * 500
    path.write_bytes(garbage)

    result = run(tmp_path, "headless", "--prompt", "hi", host=server.url)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (kept,) = path.parent.glob("aiway.sqlite3.damaged-*")
    assert kept.read_bytes() == garbage
    assert f"it was kept as {kept}" in result.stderr
    assert query(path, "SELECT content FROM messages WHERE seq = 1") == [("hi",)]


def test_a_locked_history_is_named_with_the_way_out(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    path = history_file(tmp_path)
    path.parent.mkdir(parents=True)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN EXCLUSIVE")
        result = run(
            tmp_path,
            "headless",
            "--prompt",
            "hi",
            host=server.url,
            AIWAY_HISTORY_LOCK_TIMEOUT="0.2",
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert f"the history database {path} is locked by another program" in result.stderr
    assert "--no-history" in result.stderr


def test_a_history_from_a_newer_aiway_is_refused_untouched(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    path = history_file(tmp_path)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    finally:
        conn.close()
    before = path.read_bytes()

    result = run(tmp_path, "headless", "--prompt", "hi", host=server.url)

    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert "written by a newer aiway" in result.stderr and "upgrade aiway" in result.stderr
    assert path.read_bytes() == before

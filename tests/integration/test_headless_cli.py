"""`aiway headless` as a person runs it: a real process against the fake Ollama server."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.fakes import FakeOllamaProcess
from tests.fakes.isolated import isolated_env

AIWAY = [sys.executable, "-m", "aiway.ui.cli"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllamaProcess]:
    script = orjson.dumps(["Hola ", "[yolla:wa", "ve] amigo", " [yolla:mood happy]."]).decode()
    with FakeOllamaProcess("--models", "tiny:latest", "--script", script) as fake:
        yield fake


def run(
    tmp_path: Path, *args: str, host: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = isolated_env(tmp_path, OLLAMA_HOST=host, AIWAY_OLLAMA_DEFAULT_MODEL="tiny")
    return subprocess.run(
        [*AIWAY, *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def test_a_prompt_is_answered_with_tags_stripped(tmp_path: Path, server: FakeOllamaProcess) -> None:
    result = run(tmp_path, "headless", "--backend", "ollama", "--prompt", "hi", host=server.url)
    assert result.returncode == 0, result.stderr
    assert "you> hi" in result.stdout
    assert "yollayah> Hola  amigo ." in result.stdout
    assert "[yolla:" not in result.stdout
    assert "tok/s" in result.stdout


def test_each_line_sends_every_stdin_line_as_a_prompt_and_slash_commands_work(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    result = run(
        tmp_path,
        "headless",
        "--backend",
        "ollama",
        "--each-line",
        host=server.url,
        stdin="/help\nhello\n",
    )
    assert result.returncode == 0, result.stderr
    assert "/model [NAME]" in result.stdout
    assert result.stdout.count("yollayah> ") == 1


def test_json_mode_writes_one_wire_message_per_line(
    tmp_path: Path, server: FakeOllamaProcess
) -> None:
    result = run(
        tmp_path, "headless", "--backend", "ollama", "--json", "--prompt", "hi", host=server.url
    )
    assert result.returncode == 0, result.stderr
    messages = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert messages[0]["type"] == "StateSnapshot"
    inner = [m["message"]["type"] for m in messages if m["type"] == "Published"]
    assert "Token" in inner and "StreamEnd" in inner
    end = next(m["message"] for m in messages if m.get("message", {}).get("type") == "StreamEnd")
    assert end["content"] == "Hola  amigo ."


def test_log_file_and_metrics(tmp_path: Path, server: FakeOllamaProcess) -> None:
    log = tmp_path / "out.log"
    result = run(
        tmp_path,
        "headless",
        "--backend",
        "ollama",
        "--prompt",
        "hi",
        "--log-file",
        str(log),
        "--metrics",
        host=server.url,
    )
    assert result.returncode == 0, result.stderr
    text = log.read_text()
    assert "yollayah> Hola" in text
    assert "conductor" in text and "dead letters: 0" in text


def test_no_server_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    result = run(tmp_path, "headless", "--backend", "ollama", "--prompt", "hi", host="127.0.0.1:9")
    assert result.returncode == 3
    assert "no Ollama server at http://127.0.0.1:9" in result.stderr
    assert "ollama serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_answer_exits_non_zero(tmp_path: Path) -> None:
    script = orjson.dumps(["half ", {"error": "model crashed"}]).decode()
    with FakeOllamaProcess("--models", "tiny:latest", "--script", script) as fake:
        result = run(tmp_path, "headless", "--backend", "ollama", "--prompt", "x", host=fake.url)
    assert result.returncode == 1
    assert "model crashed" in result.stderr


def test_bad_config_names_key_and_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[ollama]\nidle_timeout = -1\n")
    result = run(tmp_path, "--config", str(config), "headless", host="127.0.0.1:9")
    assert result.returncode == 2
    assert "ollama.idle_timeout" in result.stderr and str(config) in result.stderr


def test_config_command_shows_sources(tmp_path: Path) -> None:
    result = run(tmp_path, "config", "--model", "qwen", host="127.0.0.1:9")
    assert result.returncode == 0
    assert 'model = "qwen"  (flag --model)' in result.stdout
    assert "(env OLLAMA_HOST)" in result.stdout


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(tmp_path, "--help", host="127.0.0.1:9")
    assert result.returncode == 0
    assert "headless" in result.stdout and "config" in result.stdout


HOSTILE = [
    "Sure",
    "\x1b]0;pwned title\x07",
    "\x1b[2J\x1b[H",
    "\x1b]52;c;cm0gLXJmIH4=\x07",
    "\x9b31m\x9d0;c1 title\x9c",
    "\x1b[",  # a sequence cut between two tokens
    "31m done\r\n",
]


def run_bytes(
    tmp_path: Path, *args: str, host: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = isolated_env(tmp_path, OLLAMA_HOST=host, AIWAY_OLLAMA_DEFAULT_MODEL="tiny")
    return subprocess.run(
        [*AIWAY, *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def _has_control_sequences(data: bytes) -> bool:
    text = data.decode()
    return any(ch in text for ch in "\x1b\x07\x9b\x9c\x9d\r")


def test_escape_sequences_in_an_answer_never_reach_the_terminal(tmp_path: Path) -> None:
    with FakeOllamaProcess(
        "--models", "tiny:latest", "--script", orjson.dumps(HOSTILE).decode()
    ) as fake:
        result = run_bytes(
            tmp_path, "headless", "--backend", "ollama", "--prompt", "x", host=fake.url
        )

    assert result.returncode == 0, result.stderr
    assert b"yollayah> Sure" in result.stdout
    assert not _has_control_sequences(result.stdout), result.stdout


def test_escape_sequences_in_json_mode_are_escaped_not_written(tmp_path: Path) -> None:
    with FakeOllamaProcess(
        "--models", "tiny:latest", "--script", orjson.dumps(HOSTILE).decode()
    ) as fake:
        result = run_bytes(
            tmp_path, "headless", "--backend", "ollama", "--json", "--prompt", "x", host=fake.url
        )

    assert result.returncode == 0, result.stderr
    assert not _has_control_sequences(result.stdout), result.stdout
    messages = [orjson.loads(line) for line in result.stdout.splitlines()]
    end = next(m["message"] for m in messages if m.get("message", {}).get("type") == "StreamEnd")
    assert "\x1b]0;pwned title\x07" in end["content"]  # the data is intact, only escaped


def test_escape_sequences_in_a_server_error_never_reach_stderr(tmp_path: Path) -> None:
    script = orjson.dumps(["half ", {"error": "died \x1b]0;pwned\x07\x1b[2J here"}]).decode()
    with FakeOllamaProcess("--models", "tiny:latest", "--script", script) as fake:
        result = run_bytes(
            tmp_path, "headless", "--backend", "ollama", "--prompt", "x", host=fake.url
        )

    assert result.returncode == 1
    assert b"died" in result.stderr and b"here" in result.stderr
    assert not _has_control_sequences(result.stdout + result.stderr)


def _last_user_messages(fake: FakeOllamaProcess) -> list[str]:
    bodies = [r["body"] for r in fake.stats()["requests"] if r["path"] == "/api/chat"]
    return [body["messages"][-1]["content"] for body in bodies]


def test_piped_stdin_is_one_prompt(tmp_path: Path) -> None:
    with FakeOllamaProcess("--models", "tiny:latest", "--script", '["ok"]') as fake:
        result = run(
            tmp_path, "headless", "--backend", "ollama", host=fake.url, stdin="one\ntwo\n\nthree\n"
        )
        sent = _last_user_messages(fake)

    assert result.returncode == 0, result.stderr
    assert sent == ["one\ntwo\n\nthree"]
    assert result.stdout.count("yollayah> ") == 1


def test_piped_stdin_follows_the_prompt(tmp_path: Path) -> None:
    source = "def f():\n    return 1\n"
    with FakeOllamaProcess("--models", "tiny:latest", "--script", '["ok"]') as fake:
        result = run(
            tmp_path,
            "headless",
            "--backend",
            "ollama",
            "--prompt",
            "explain",
            "--prompt",
            "shorter",
            host=fake.url,
            stdin=source,
        )
        sent = _last_user_messages(fake)

    assert result.returncode == 0, result.stderr
    assert sent == ["explain\n\ndef f():\n    return 1", "shorter"]


def test_piped_stdin_past_the_bound_is_refused_and_nothing_is_sent(tmp_path: Path) -> None:
    with FakeOllamaProcess("--models", "tiny:latest", "--script", '["ok"]') as fake:
        result = run_bytes(
            tmp_path,
            "headless",
            "--backend",
            "ollama",
            host=fake.url,
            stdin=b"x" * (1024 * 1024 + 1),
        )
        sent = _last_user_messages(fake)

    assert result.returncode == 3
    assert b"standard input holds more than 1024 KiB" in result.stderr
    assert b"--each-line" in result.stderr
    assert b"Traceback" not in result.stderr
    assert sent == []


def test_a_file_on_stdin_is_one_prompt_too(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("first\nsecond\n")
    env = isolated_env(tmp_path, AIWAY_OLLAMA_DEFAULT_MODEL="tiny")
    with FakeOllamaProcess("--models", "tiny:latest", "--script", '["ok"]') as fake:
        with source.open("rb") as stdin:
            result = subprocess.run(
                [*AIWAY, "headless", "--backend", "ollama", "--prompt", "sum up"],
                stdin=stdin,
                capture_output=True,
                env={**env, "OLLAMA_HOST": fake.url},
                cwd=ROOT,
                timeout=60,
                check=False,
            )
        sent = _last_user_messages(fake)

    assert result.returncode == 0, result.stderr
    assert sent == ["sum up\n\nfirst\nsecond"]


# -- aiway models, aiway pull: real processes against a fake server of their own --


@pytest.fixture
def pull_server() -> Iterator[FakeOllamaProcess]:
    with FakeOllamaProcess("--models", "tiny:latest,qwen3:0.6b") as fake:
        yield fake


def test_models_lists_each_installed_model_with_size_and_date(
    tmp_path: Path, pull_server: FakeOllamaProcess
) -> None:
    result = run(tmp_path, "models", host=pull_server.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "MODIFIED"]
    assert lines[1].split() == ["tiny:latest", "101", "MB", "2025-01-01T00:00:00Z"]
    assert lines[2].startswith("qwen3:0.6b ")


def test_models_json_gives_name_size_and_modified_of_each(
    tmp_path: Path, pull_server: FakeOllamaProcess
) -> None:
    result = run(tmp_path, "models", "--json", host=pull_server.url)
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    assert document["backend"] == "ollama"
    assert document["models"][0] == {
        "name": "tiny:latest",
        "size": 101_000_000,
        "modified": "2025-01-01T00:00:00Z",
    }


def test_models_with_no_ollama_server_answering_fails_clearly(tmp_path: Path) -> None:
    result = run(tmp_path, "models", "--backend", "ollama", host="127.0.0.1:9")
    assert result.returncode == 3
    assert "no Ollama server at http://127.0.0.1:9" in result.stderr
    assert result.stdout == ""


def test_pull_streams_progress_to_100_percent_then_success_and_installs_the_model(
    tmp_path: Path, pull_server: FakeOllamaProcess
) -> None:
    result = run(tmp_path, "pull", "llama3.2:1b", host=pull_server.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "\r" not in result.stdout  # not a terminal: plain lines
    assert any(" 25% [" in line and "12.5 MB/50.0 MB" in line for line in lines)
    assert any(" 100% [" in line for line in lines)
    assert "llama3.2:1b: success" in lines
    assert lines[-1] == "pulled llama3.2:1b"
    listed = run(tmp_path, "models", "--json", host=pull_server.url)
    names = [m["name"] for m in orjson.loads(listed.stdout)["models"]]
    assert "llama3.2:1b" in names


def test_pull_error_line_is_a_clear_error_without_control_sequences_and_exit_3(
    tmp_path: Path, pull_server: FakeOllamaProcess
) -> None:
    pull_server.configure(pull_error="pull model manifest: file does not exist\x1b]0;owned\x07")
    result = run(tmp_path, "pull", "nonesuch", host=pull_server.url)
    assert result.returncode == 3
    assert "Ollama could not pull 'nonesuch': pull model manifest: file does not exist" in (
        result.stderr
    )
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "success" not in result.stdout


def test_pull_with_a_malformed_progress_line_fails_clearly(
    tmp_path: Path, pull_server: FakeOllamaProcess
) -> None:
    pull_server.configure(pull_raw="this is not json\n")
    result = run(tmp_path, "pull", "tiny", host=pull_server.url)
    assert result.returncode == 3
    assert "bad progress line from Ollama" in result.stderr
    assert "line 2 is not valid JSON" in result.stderr


def test_pull_slower_than_its_timeout_gives_up_with_a_clear_error(
    tmp_path: Path, pull_server: FakeOllamaProcess
) -> None:
    pull_server.configure(pull_interval=30.0)
    result = run(tmp_path, "pull", "tiny", "--timeout", "0.5", host=pull_server.url)
    assert result.returncode == 3
    assert "pulling tiny took longer than the total timeout of 0.5s" in result.stderr


def test_pull_on_the_embedded_backend_says_it_applies_to_ollama_only(tmp_path: Path) -> None:
    result = run(tmp_path, "pull", "tiny", "--backend", "embedded", host="127.0.0.1:9")
    assert result.returncode == 2
    assert "pull applies to Ollama only" in result.stderr


def test_pull_on_a_terminal_redraws_one_line_with_carriage_returns(
    tmp_path: Path, pull_server: FakeOllamaProcess
) -> None:
    master, slave = pty.openpty()
    env = isolated_env(tmp_path, OLLAMA_HOST=pull_server.url)
    process = subprocess.Popen(
        [*AIWAY, "pull", "tiny"],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
    )
    os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + 60
    try:
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the pull did not end; it wrote {bytes(output)!r}"
            if not select.select([master], [], [], remaining)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=60) == 0
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    text = output.decode()
    layer_lines = [line for line in text.split("\n") if "[" in line]
    assert len(layer_lines) == 2  # one line per layer, redrawn in place
    assert all(line.count("\r") >= 1 and "100% [" in line for line in layer_lines)
    assert "pulled tiny" in text

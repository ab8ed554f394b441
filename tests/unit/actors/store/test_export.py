"""The Markdown export: title, metadata lines, each message, how answers ended, tasks."""

from __future__ import annotations

from aiway.actors.protocol import Role, TaskStatus
from aiway.actors.store.export import render_markdown
from aiway.actors.store.records import (
    MessageState,
    StoredMessage,
    StoredSession,
    StoredTask,
    Transcript,
)

SESSION = StoredSession(
    "ab12cd34", "Plan ☕", "tiny", "be kind", 1_700_000_000.0, 1_700_000_060.0, 4
)
FIGURES: dict[str, object] = {
    "model": "tiny",
    "tokens": 12,
    "tokens_per_second": 48.25,
    "elapsed_ms": 250.0,
    "ttft_ms": 31.0,
}


def transcript(*messages: StoredMessage, tasks: tuple[StoredTask, ...] = ()) -> Transcript:
    return Transcript(SESSION, messages, tasks)


def test_the_header_carries_the_metadata_lines() -> None:
    text = render_markdown(transcript())

    lines = text.splitlines()
    assert lines[0] == "# Plan ☕"
    assert "- session: `ab12cd34`" in lines and "- model: tiny" in lines
    assert "- messages: 0" in lines and "- tasks: 0" in lines
    assert any(line.startswith("- started: 2023-11-1") for line in lines)
    assert text.endswith("## System prompt\n\n```text\nbe kind\n```\n")


def test_answers_show_their_figures_how_they_ended_and_the_tasks_they_opened() -> None:
    task = StoredTask(
        "t1", "qa-engineer", "The Intern", "test ü", 40, TaskStatus.RUNNING, None, 1, 2, 2
    )
    failed = StoredTask(
        "t2", "devops-engineer", "Primo Carlos", "ship", 0, TaskStatus.FAILED, "no disk", 1, 2
    )
    text = render_markdown(
        transcript(
            StoredMessage(1, Role.USER, "¿hola?", MessageState.COMPLETE, None, 1.0),
            StoredMessage(2, Role.ASSISTANT, "¡Hola! 🦎", MessageState.COMPLETE, FIGURES, 2.0),
            StoredMessage(3, Role.USER, "more", MessageState.COMPLETE, None, 3.0),
            StoredMessage(
                4, Role.ASSISTANT, "cut", MessageState.ERROR, {"error": "model crashed"}, 4.0
            ),
            StoredMessage(5, Role.ASSISTANT, "", MessageState.INTERRUPTED, None, 5.0),
            tasks=(task, failed),
        )
    )

    assert "## You\n\n¿hola?\n\n## Yollayah\n\n¡Hola! 🦎\n\n" in text
    assert "_tiny · 12 tokens · 48.2 tok/s · 0.25 s · first token 31 ms_" in text
    assert "- task t1 · The Intern (qa-engineer): test ü — 40%" in text
    assert text.index("- task t1") < text.index("## You\n\nmore")
    assert "_failed · error: model crashed_" in text
    assert "## Yollayah\n\n_(no text)_\n\n_interrupted_" in text
    assert "## Tasks\n\n- task t2 · Primo Carlos (devops-engineer): ship — failed: no disk" in text

"""The pull progress meter: percent, sizes and rate as one line; the TUI status bar folding it."""

from __future__ import annotations

from aiway.actors.protocol.conductor import Notify, NotifyLevel, Progress
from aiway.ui.progress import PullMeter, human_size
from aiway.ui.tui.viewmodel import ViewModel


def test_human_size_uses_decimal_units_like_ollama() -> None:
    assert [human_size(n) for n in (512, 4_200, 101_000_000, 4_700_000_000)] == [
        "512 B",
        "4.2 kB",
        "101 MB",
        "4.7 GB",
    ]


def test_meter_measures_rate_and_percent_of_the_current_layer() -> None:
    now = [0.0]
    meter = PullMeter("tiny", clock=lambda: now[0])
    meter.update("pulling abc", "sha256:abc", 50_000_000, 0)
    now[0] = 2.0
    meter.update("pulling abc", "sha256:abc", 50_000_000, 10_000_000)
    assert meter.percent == 20
    assert meter.rate == 5_000_000
    assert meter.short() == "20% 10.0 MB/50.0 MB 5.0 MB/s"
    assert meter.line(200).startswith("pulling abc  20% [████                ] 10.0 MB/50.0 MB")


def test_meter_line_is_cut_to_the_width() -> None:
    meter = PullMeter("tiny")
    meter.update("pulling " + "x" * 100, "d", 10, 5)
    assert len(meter.line(40)) == 40 and meter.line(40).endswith("…")


def test_pull_progress_updates_the_status_bar_in_place_and_its_end_is_one_note() -> None:
    view = ViewModel()
    view.take()
    for completed in (10, 50):
        progress = Progress("pull tiny", "pulling abc", "sha256:abc", completed, 100)
        view.publish(Notify(NotifyLevel.INFO, "pull tiny", "pulling abc", progress))
    changes = view.take()
    assert changes.status is not None and changes.status.notice.startswith("pull tiny: 50% ")
    assert changes.entries == ()  # progress is not a note
    done = Progress("pull tiny", "success", done=True)
    view.publish(Notify(NotifyLevel.INFO, "pull tiny", "pulled tiny", done))
    changes = view.take()
    assert changes.status is not None and changes.status.notice == ""
    assert [entry.text for entry in changes.entries] == ["pulled tiny"]

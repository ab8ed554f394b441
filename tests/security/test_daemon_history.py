"""``aiway serve`` saves its conversation: stopped with SIGTERM, it is there to resume."""

from __future__ import annotations

from tests.fakes.daemons import ANSWER, Processes


def test_a_daemons_conversation_survives_sigterm_and_resumes(procs: Processes) -> None:
    daemon = procs.daemon()
    assert "saving conversation" in daemon.text()
    surface = procs.surface()
    surface.type("remember the daemon")
    assert surface.wait_for_answers(1) == [ANSWER]
    assert daemon.stop() == 0  # SIGTERM

    sessions = procs.run("sessions")
    assert sessions.returncode == 0, sessions.stderr
    assert "remember the daemon" in sessions.stdout
    resumed = procs.run("headless", "--resume", "--prompt", "and now?")
    assert resumed.returncode == 0, resumed.stderr
    assert "remember the daemon" in resumed.stdout
    assert resumed.stdout.index("remember the daemon") < resumed.stdout.index("and now?")


def test_no_history_saves_nothing(procs: Processes) -> None:
    daemon = procs.daemon("--no-history")
    assert "saving no history" in daemon.text()
    surface = procs.surface()
    surface.type("forget me")
    assert surface.wait_for_answers(1) == [ANSWER]
    assert daemon.stop() == 0
    assert "forget me" not in procs.run("sessions").stdout

"""`aiway serve --engine thespian`: the daemon's core on Thespian, surfaces from other processes.

The daemon's Conductor, registry and avatar run as Thespian actors (their own
processes, multiprocQueueBase); the socket server, the remote surfaces and
the stream manager stay on the daemon's loop. Two surfaces attach, one types,
both see the answer; SIGTERM stops it all, and no process is left.
"""

from __future__ import annotations

from tests.fakes.daemons import ANSWER, Processes


def test_a_daemon_on_thespian_streams_one_answer_into_every_surface(procs: Processes) -> None:
    daemon = procs.daemon("--engine", "thespian", "--log-level", "INFO")
    typist = procs.surface()
    watcher = procs.surface()
    typist.type("hello everyone")
    assert typist.wait_for_answers(1) == [ANSWER]
    assert watcher.wait_for_answers(1) == [ANSWER]
    assert "you> hello everyone" in watcher.text()
    assert daemon.stop() == 0
    assert "stopped after 2 connections" in daemon.text()
    assert "Thespian host on multiprocQueueBase" in procs.log_text()

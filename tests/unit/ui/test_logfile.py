"""The log file is the owner's, rotates, and carries no escape sequences from a peer."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from aiway.ui.logfile import MESSAGE_CAP, PrivateRotatingFileHandler, SafeFormatter


def logger_to(path: Path, max_bytes: int = 10_000) -> tuple[logging.Logger, logging.Handler]:
    handler = PrivateRotatingFileHandler(path, max_bytes, 2)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"test-logfile-{path.name}")
    logger.propagate = False
    logger.handlers[:] = [handler]
    return logger, handler


def test_a_new_log_is_0600_and_an_existing_one_is_tightened(tmp_path: Path) -> None:
    old = tmp_path / "old.log"
    old.write_text("")
    os.chmod(old, 0o644)
    for path in (tmp_path / "new.log", old):
        logger, handler = logger_to(path)
        logger.warning("hello")
        handler.close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_escape_sequences_in_a_message_never_reach_the_file(tmp_path: Path) -> None:
    logger, handler = logger_to(tmp_path / "a.log")
    logger.warning("peer said %s", "\x1b]0;title\x07\x1b[2Jhi\x9b1m")
    handler.close()
    assert (tmp_path / "a.log").read_text() == "WARNING peer said hi\n"


def test_a_huge_message_is_capped(tmp_path: Path) -> None:
    logger, handler = logger_to(tmp_path / "a.log", max_bytes=10**7)
    logger.warning("x" * (MESSAGE_CAP * 100))
    handler.close()
    assert (tmp_path / "a.log").stat().st_size < MESSAGE_CAP + 100


def test_the_log_rotates_and_rotated_files_are_0600_too(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    logger, handler = logger_to(path, max_bytes=1000)
    for _ in range(100):
        logger.warning("y" * 100)
    handler.close()
    rotated = sorted(tmp_path.glob("a.log.*"))
    assert [p.name for p in rotated] == ["a.log.1", "a.log.2"]
    assert path.stat().st_size <= 1000
    for p in (path, *rotated):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600

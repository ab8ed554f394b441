"""Exports and the history's files under hostile conditions: links, FIFOs, old files, loose modes.

Each test runs the real ``HistoryStore`` on a real file in a temporary
directory; what it refuses it must refuse at once and leave untouched.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from aiway.actors.protocol import Role
from aiway.actors.store.errors import StoreError
from aiway.actors.store.files import ExportRefused, remote_export_path
from aiway.actors.store.history import HistoryStore
from aiway.actors.store.schema import LATEST
from tests.unit.actors.store.support import Writer, build_version, connect

pytestmark = pytest.mark.asyncio

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZWNobyBoaQ==\x07"


async def saved_store(tmp_path: Path, answer: str = "¡Hola! 🦎") -> HistoryStore:
    store = await HistoryStore.open(tmp_path / "data" / "aiway" / "aiway.sqlite3")
    write = Writer()
    done = asyncio.get_running_loop().create_future()
    store.write(
        [write.session(), *write.exchange("hola", answer)],
        done.set_result,
    )
    assert await done is None
    return store


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


async def test_an_export_is_a_new_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = await saved_store(tmp_path)
    old = os.umask(0o022)
    try:
        await store.export("s1", tmp_path / "chat.md")
    finally:
        os.umask(old)
        await store.close()

    assert mode(tmp_path / "chat.md") == 0o600
    assert "¡Hola! 🦎" in (tmp_path / "chat.md").read_text(encoding="utf-8")


async def test_an_export_never_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "chat.md").symlink_to(victim)
    store = await saved_store(tmp_path)
    try:
        with pytest.raises(ExportRefused, match="already exists"):
            await store.export("s1", tmp_path / "chat.md")
        with pytest.raises(ExportRefused, match="symbolic link"):
            await store.export("s1", tmp_path / "chat.md", force=True)
    finally:
        await store.close()

    assert victim.read_text() == "precious\n"
    assert (tmp_path / "chat.md").is_symlink()


async def test_an_export_does_not_replace_a_file_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    target.write_text("yesterday's notes\n")
    target.chmod(0o644)
    store = await saved_store(tmp_path)
    try:
        with pytest.raises(ExportRefused, match="--force"):
            await store.export("s1", target)
        kept = target.read_text()
        await store.export("s1", target, force=True)
    finally:
        await store.close()

    assert kept == "yesterday's notes\n"
    assert target.read_text(encoding="utf-8").startswith("# ")
    assert "yesterday" not in target.read_text(encoding="utf-8")
    assert mode(target) == 0o600


async def test_a_fifo_is_refused_at_once_without_blocking_the_store(tmp_path: Path) -> None:
    fifo = tmp_path / "chat.md"
    os.mkfifo(fifo)
    store = await saved_store(tmp_path)
    try:
        for force in (False, True):
            with pytest.raises(ExportRefused):
                await asyncio.wait_for(store.export("s1", fifo, force=force), timeout=5)
        sessions = await asyncio.wait_for(store.sessions(), timeout=5)
    finally:
        await store.close()

    assert [s.id for s in sessions] == ["s1"], "the store's thread is free"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


async def test_a_device_is_refused_even_when_forced(tmp_path: Path) -> None:
    store = await saved_store(tmp_path)
    try:
        with pytest.raises(ExportRefused, match="not a regular file"):
            await store.export("s1", Path("/dev/null"), force=True)
    finally:
        await store.close()


async def test_a_confined_export_refuses_a_linked_exports_folder(tmp_path: Path) -> None:
    store = await saved_store(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    exports = store.path.parent / "exports"
    exports.symlink_to(elsewhere)
    try:
        with pytest.raises(ExportRefused, match="link"):
            await store.export("s1", exports / "chat.md", confined=True)
    finally:
        await store.close()

    assert not list(elsewhere.iterdir())


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../aiway.sqlite3", "..", "a/b.md", "", "x" * 300, "~/.bashrc/x"]
)
async def test_a_remote_export_takes_a_plain_file_name_only(name: str) -> None:
    with pytest.raises(ExportRefused, match="file name only"):
        remote_export_path(Path("/data/aiway/aiway.sqlite3"), name)


async def test_a_remote_export_name_lands_in_the_exports_folder() -> None:
    path = remote_export_path(Path("/data/aiway/aiway.sqlite3"), "chat ñ.md")

    assert path == Path("/data/aiway/exports/chat ñ.md")


async def test_an_export_carries_no_escape_sequence_from_the_model(tmp_path: Path) -> None:
    store = await saved_store(tmp_path, answer=f"safe{ESCAPES} text\r\nnext\tline")
    try:
        await store.export("s1", tmp_path / "chat.md")
        text = (await store.transcript("s1")).messages[1].content
    finally:
        await store.close()

    written = (tmp_path / "chat.md").read_text(encoding="utf-8")
    assert "\x1b" not in written and "\x07" not in written and "\r" not in written
    assert "safe text\nnext\tline" in written
    assert text == f"safe{ESCAPES} text\r\nnext\tline", "the history keeps what was said"


async def test_opening_tightens_an_old_history_and_its_journal_to_the_owner(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "aiway"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    path = folder / "aiway.sqlite3"
    build_version(path, LATEST)
    conn = connect(path)  # held open: its -wal file stays
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("UPDATE sessions SET title = 'wal'")
    old = os.umask(0o022)
    try:
        leftover = Path(f"{path}-wal")
        for file in (path, leftover):
            file.chmod(0o644)
        store = await HistoryStore.open(path)
        modes = [mode(folder), mode(path), mode(leftover)]
        await store.close()
    finally:
        os.umask(old)
        conn.close()

    assert modes == [0o700, 0o600, 0o600]


async def test_an_upgrade_backup_is_private(tmp_path: Path) -> None:
    path = tmp_path / "aiway" / "aiway.sqlite3"
    path.parent.mkdir(mode=0o700)
    build_version(path, 1)
    old = os.umask(0o022)
    try:
        store = await HistoryStore.open(path)
        await store.close()
    finally:
        os.umask(old)

    (backup,) = path.parent.glob("*.bak")
    assert mode(backup) == 0o600


async def test_a_message_role_is_kept_in_the_export(tmp_path: Path) -> None:
    store = await saved_store(tmp_path)
    try:
        transcript = await store.transcript("s1")
    finally:
        await store.close()

    assert [m.role for m in transcript.messages] == [Role.USER, Role.ASSISTANT]


async def test_a_failed_export_names_the_file(tmp_path: Path) -> None:
    store = await saved_store(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    try:
        with pytest.raises(StoreError, match=str(blocker)):
            await store.export("s1", blocker / "chat.md")
    finally:
        await store.close()

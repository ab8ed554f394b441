"""``aiway sessions``, ``export`` and ``forget`` as functions: their text and what they delete."""

from __future__ import annotations

import io
from pathlib import Path

import attrs

from aiway.actors.store.shell import export_session, forget, list_sessions
from aiway.config import Settings, load_settings
from tests.unit.actors.store.support import Writer, opened


def settings_in(tmp_path: Path, *, enabled: bool = True) -> Settings:
    base = load_settings(env={"XDG_DATA_HOME": str(tmp_path)}, config_path=None).settings
    return attrs.evolve(base, history=attrs.evolve(base.history, enabled=enabled))


def saved_conversation(settings: Settings) -> None:
    assert settings.history.path is not None
    write = Writer()
    with opened(settings.history.path) as db:
        session = write.session("c0ffee11", title="hola 🦎")
        db.apply([session, *write.exchange("hola 🦎", "¡hola!", "c0ffee11")])


def test_listing_without_a_file_creates_none(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    out, err = io.StringIO(), io.StringIO()

    code = list_sessions(settings, out, err)

    assert code == 0 and "no saved conversations yet" in out.getvalue()
    assert not (tmp_path / "aiway").exists()


def test_listing_and_exporting_a_saved_conversation(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    saved_conversation(settings)
    out, err = io.StringIO(), io.StringIO()

    list_sessions(settings, out, err)
    export_session(settings, "c0f", None, out, err)

    text = out.getvalue()
    assert "c0ffee11" in text and "hola 🦎" in text
    assert "# hola 🦎" in text and "## Yollayah\n\n¡hola!" in text
    assert err.getvalue() == ""


def test_forget_asks_and_a_no_keeps_everything(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    saved_conversation(settings)
    asked: list[str] = []
    out, err = io.StringIO(), io.StringIO()

    def say_no(question: str) -> bool:
        asked.append(question)
        return False

    code = forget(settings, yes=False, confirm=say_no, out=out, err=err)

    assert code == 1 and "nothing was deleted" in out.getvalue()
    assert asked == [f"Delete 1 saved conversations in {tmp_path / 'aiway'}? This cannot be undone"]
    assert settings.history.path is not None and settings.history.path.exists()


def test_forget_yes_deletes_the_file_its_wal_and_the_backups_but_nothing_else(
    tmp_path: Path,
) -> None:
    settings = settings_in(tmp_path)
    saved_conversation(settings)
    folder = tmp_path / "aiway"
    (folder / "aiway.sqlite3.v1.bak").write_text("old")
    (folder / "aiway.sqlite3.damaged-20250101-120000").write_text("bad")
    (folder / "notes.txt").write_text("mine")
    out, err = io.StringIO(), io.StringIO()

    code = forget(settings, yes=True, confirm=lambda q: False, out=out, err=err)

    assert code == 0
    assert "1 saved conversations and 2 backup files" in out.getvalue()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_commands_say_when_the_history_is_off(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, enabled=False)
    out, err = io.StringIO(), io.StringIO()

    codes = [
        list_sessions(settings, out, err),
        export_session(settings, "last", None, out, err),
        forget(settings, yes=True, confirm=lambda q: True, out=out, err=err),
    ]

    assert codes == [1, 1, 1]
    assert err.getvalue().count("the history is off") == 3


def test_exporting_from_an_empty_history_names_the_file(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    out, err = io.StringIO(), io.StringIO()

    code = export_session(settings, "last", None, out, err)

    assert code == 1 and "does not exist" in err.getvalue()

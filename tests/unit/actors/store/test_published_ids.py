"""A loaded conversation carries the ids its messages were published under.

Surfaces know a message by the id the session published it with; a
conversation loaded again (a core placed anew on another member, a resume)
must come back under those ids, or a surface shows it a second time. Rows an
older aiway saved have none: they load as ``h<seq>``.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from aiway.actors.protocol import Role
from aiway.actors.store.records import MessageState
from tests.unit.actors.store.support import Writer, build_version, opened


def test_a_loaded_conversation_keeps_the_ids_it_was_published_under(tmp_path: Path) -> None:
    write = Writer()
    asked = attrs.evolve(write.message(Role.USER, "hola"), published_id="u1")
    answered = attrs.evolve(write.message(Role.ASSISTANT, "¡hola! 🦎"), published_id="a1.3")
    cut = attrs.evolve(
        write.message(Role.ASSISTANT, "half", state=MessageState.STREAMING), published_id="a2.5"
    )
    unnamed = write.message(Role.USER, "from a surface that never said")
    with opened(tmp_path / "h.sqlite3") as db:
        db.apply([write.session(), asked, answered, cut, unnamed])
        loaded = db.load_session("s1", tail=10)

    assert [e.id for e in loaded.history] == ["u1", "a1.3", "a2.5", "h4"]
    assert loaded.interrupted == 1  # the cut answer keeps its id, marked interrupted


def test_rows_of_an_older_schema_load_under_their_sequence_numbers(tmp_path: Path) -> None:
    path = tmp_path / "aiway.sqlite3"
    build_version(path, 4)
    write = Writer()
    with opened(path) as db:
        db.apply(
            [attrs.evolve(write.message(Role.USER, "new", session_id="old1"), published_id="u7")]
        )
        loaded = db.load_session("old1", tail=10)

    assert [(e.id, e.content) for e in loaded.history] == [
        ("h1", "hola 🦎"),
        ("h2", "half an ans"),
        ("u7", "new"),
    ]

"""What waits at the bridge coalesces the way a mailbox would."""

from __future__ import annotations

from aiway.actors.protocol import AvatarFrame, Cancel, Published, Token
from aiway.actors.protocol.avatar import Animation, AvatarSize
from aiway.actors.runtime.thespian.staging import Staging


def frame(n: int) -> AvatarFrame:
    return AvatarFrame(AvatarSize.SMALL, Animation.IDLE, n, 0, 0, True, ())


def test_consecutive_tokens_to_one_actor_merge_and_other_actors_keep_theirs() -> None:
    staging = Staging()
    staging.add("tui", "tui", Published(1, Token("a1", "Ho")))
    staging.add("log", "log", Published(1, Token("a1", "Ho")))
    staging.add("tui", "tui", Published(2, Token("a1", "la")))
    items = staging.take()
    assert items == [
        ("tui", "tui", Published(2, Token("a1", "Hola"))),
        ("log", "log", Published(1, Token("a1", "Ho"))),
    ]
    assert staging.coalesced == 1


def test_a_newer_keyed_message_replaces_the_waiting_one_in_place() -> None:
    staging = Staging()
    staging.add("tui", "tui", frame(1))
    staging.add("tui", "tui", Token("a1", "x"))
    staging.add("tui", "tui", frame(2))
    assert staging.take() == [("tui", "tui", frame(2)), ("tui", "tui", Token("a1", "x"))]


def test_control_messages_are_never_coalesced() -> None:
    staging = Staging()
    staging.add("c", "c", Cancel())
    staging.add("c", "c", Cancel())
    assert staging.take() == [("c", "c", Cancel()), ("c", "c", Cancel())]
    assert staging.coalesced == 0

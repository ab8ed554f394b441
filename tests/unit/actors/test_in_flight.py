"""InFlight: the answer a lost core takes with it is known from its first event on."""

from __future__ import annotations

from typing import cast

from aiway.actors.app import InFlight
from aiway.actors.protocol import Message, Published, ResponseMetadata, Role, StreamEnd, Token
from aiway.actors.runtime import Context

CTX = cast(Context, None)  # the handlers do not use their context


def test_an_answer_opened_without_a_token_yet_is_the_one_in_flight() -> None:
    flight = InFlight()
    flight.on_published(CTX, Published(1, Message("u1", Role.USER, "hi")))
    flight.on_published(CTX, Published(2, Message("a2", Role.ASSISTANT, "")))

    assert flight.end() == ("a2", "")
    assert flight.end() == ("", "")


def test_tokens_after_the_opening_are_kept_and_an_end_forgets_the_answer() -> None:
    flight = InFlight()
    flight.on_published(CTX, Published(1, Message("a2", Role.ASSISTANT, "")))
    flight.on_published(CTX, Published(2, Token("a2", "Hel")))
    flight.on_published(CTX, Published(3, Token("a2", "lo")))
    assert (flight.message_id, "".join(flight.pieces)) == ("a2", "Hello")

    flight.on_published(CTX, Published(4, StreamEnd("a2", "Hello", ResponseMetadata())))
    assert flight.end() == ("", "")

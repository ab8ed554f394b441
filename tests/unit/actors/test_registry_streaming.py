"""What the registry does for a surface that takes no tokens: routing, and the text on request."""

from __future__ import annotations

from aiway.actors.protocol import (
    Capability,
    Message,
    Published,
    ResponseMetadata,
    Role,
    StreamEnd,
    Token,
)
from aiway.actors.registry import GetStreamingText, RegisterSurface, StreamingText, SurfaceRegistry
from aiway.actors.runtime.testing import Probe


def registry_with_two_surfaces() -> Probe:
    probe = Probe(SurfaceRegistry(), name="registry")
    for name, capabilities in (("screen", {Capability.STREAMING}), ("store", {Capability.TASKS})):
        probe.send(RegisterSurface(name, probe.ref(name), "test", frozenset(capabilities)))
    return probe


def published(probe: Probe, surface: str) -> list[object]:
    return [m.message for m in probe.inbox(surface) if isinstance(m, Published)]


def test_tokens_go_only_to_surfaces_that_show_streaming() -> None:
    probe = registry_with_two_surfaces()

    probe.send(Message("a1", Role.ASSISTANT, ""))
    probe.send(Token("a1", "Ho"))
    probe.send(Token("a1", "la"))
    probe.send(StreamEnd("a1", "Hola", ResponseMetadata()))

    kinds = {name: [type(m) for m in published(probe, name)] for name in ("screen", "store")}
    assert kinds["screen"] == [Message, Token, Token, StreamEnd]
    assert kinds["store"] == [Message, StreamEnd]


def test_the_answer_in_flight_is_told_on_request_and_none_once_it_ended() -> None:
    probe = registry_with_two_surfaces()
    asker = probe.ref("asker")
    probe.send(Message("a1", Role.ASSISTANT, ""))
    probe.send(Token("a1", "ñan"))
    probe.send(Token("a1", "dú 🦎"))

    probe.send(GetStreamingText(asker))
    probe.send(Token("a1", "!"))
    probe.send(GetStreamingText(asker))
    probe.send(StreamEnd("a1", "ñandú 🦎!", ResponseMetadata()))
    probe.send(GetStreamingText(asker))

    assert probe.inbox(asker) == [
        StreamingText("a1", "ñandú 🦎"),
        StreamingText("a1", "ñandú 🦎!"),
        StreamingText(None),
    ]

"""The leader's relay to a member's stream manager (``model_member.ModelRelay``): it passes
the Conductor's requests on, and ends the answers waiting on a member that went away."""

from __future__ import annotations

from aiway.actors.model_member import ModelBack, ModelGone, ModelRelay, ServeConductor
from aiway.actors.protocol.stream import CancelStream, ChatTurn, StartStream, StreamFailed
from aiway.actors.runtime.testing import Probe
from aiway.actors.stream_manager import CancelAllStreams

TURNS = (ChatTurn("user", "hi"),)


def relay() -> Probe:
    """A relay in a probe: ``streams`` and ``conductor`` are refs the probe records."""
    behaviour = ModelRelay(None, None)  # type: ignore[arg-type]
    probe = Probe(behaviour)
    behaviour.streams = probe.ref("streams")
    probe.send(ServeConductor(probe.ref("conductor")))
    return probe


def failed(probe: Probe) -> list[StreamFailed]:
    return [m for m in probe.inbox("conductor") if isinstance(m, StreamFailed)]


def test_requests_go_on_to_the_members_stream_manager_in_order() -> None:
    probe = relay()
    start = StartStream("r1", "tiny", TURNS)
    probe.send(start)
    probe.send(CancelStream("r1"))
    probe.send(CancelAllStreams())
    kinds = [type(m) for m in probe.inbox("streams")]
    assert kinds == [ServeConductor, StartStream, CancelStream, CancelAllStreams]
    assert probe.inbox("streams")[1] is start
    assert failed(probe) == []


def test_the_models_member_gone_ends_the_answers_waiting_on_it() -> None:
    probe = relay()
    probe.send(StartStream("r1", "tiny", TURNS))
    probe.send(StartStream("r2", "tiny", TURNS))
    probe.send(ModelGone("the member at 10.0.0.3 running the model went away", replaced=True))
    ended = failed(probe)
    assert [m.request_id for m in ended] == ["r1", "r2"]
    assert all("10.0.0.3" in m.error and m.metadata.model == "tiny" for m in ended)
    # replaced: the next answer streams on (from the member the refs point at now)
    probe.send(StartStream("r3", "tiny", TURNS))
    assert [m.request_id for m in probe.inbox("streams") if isinstance(m, StartStream)] == [
        "r1",
        "r2",
        "r3",
    ]
    assert len(failed(probe)) == 2


def test_with_no_member_serving_the_model_an_answer_is_refused_until_one_does() -> None:
    probe = relay()
    probe.send(ModelGone("no member of the convention serves the model", replaced=False))
    probe.send(StartStream("r1", "tiny", TURNS))
    (refused,) = failed(probe)
    assert refused.request_id == "r1" and "no member" in refused.error
    assert not [m for m in probe.inbox("streams") if isinstance(m, StartStream)]
    probe.send(ModelBack())
    probe.send(StartStream("r2", "tiny", TURNS))
    assert [m.request_id for m in probe.inbox("streams") if isinstance(m, StartStream)] == ["r2"]
    assert len(failed(probe)) == 1


def test_the_streams_it_remembers_are_bounded() -> None:
    probe = relay()
    for n in range(200):
        probe.send(StartStream(f"r{n}", "tiny", TURNS))
    probe.send(ModelGone("gone", replaced=True))
    ended = failed(probe)
    assert len(ended) == 64 and ended[-1].request_id == "r199"

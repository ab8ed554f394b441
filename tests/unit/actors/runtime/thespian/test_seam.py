"""The seam into Thespian's transport: still where we patch it, and what the patch refuses."""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path

import pytest
from thespian.system.transport import IPBase, TCPTransport, streamBuffer

from aiway.actors.runtime.thespian import seam


class Payload:
    """Unpickling this creates ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return builtins.open, (str(self.path), "a")


def test_thespian_still_has_every_attribute_the_seam_replaces() -> None:
    seam.verify()  # raises SeamMoved naming what moved


def test_an_external_address_binds_what_it_announces_not_every_interface() -> None:
    address = IPBase.TCPv4ActorAddress("127.0.0.1", 0, external=True)
    assert address.bindname[0] == ""  # Thespian's own choice: every interface
    assert seam._bind_announced(address) == (("127.0.0.1", address.sockname[1]),)


def test_a_moved_seam_is_reported_not_run_unprotected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(TCPTransport, "serializer")
    with pytest.raises(seam.SeamMoved, match="serializer"):
        seam.verify()


def test_a_signed_frame_round_trips() -> None:
    codec = seam.SignedPickle(b"k" * 32)
    assert codec.loads(codec.dumps({"a": (1, "b")})) == {"a": (1, "b")}


def test_an_unsigned_pickle_is_dropped_unread(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    before = seam.dropped_frames()
    with pytest.raises(seam.ForgedFrame):
        seam.SignedPickle(b"k" * 32).loads(pickle.dumps(Payload(marker)))
    assert not marker.exists()
    assert seam.dropped_frames() == before + 1


def test_a_frame_signed_with_another_key_is_dropped_unread(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    forged = seam.SignedPickle(b"x" * 32).dumps(Payload(marker))
    with pytest.raises(seam.ForgedFrame):
        seam.SignedPickle(b"k" * 32).loads(forged)
    assert not marker.exists()


def test_a_tampered_frame_is_dropped_unread(tmp_path: Path) -> None:
    codec = seam.SignedPickle(b"k" * 32)
    frame = bytearray(codec.dumps("hello"))
    frame[-3] ^= 1
    with pytest.raises(seam.ForgedFrame):
        codec.loads(bytes(frame))


def test_thespians_acknowledgements_pass_without_unpickling() -> None:
    codec = seam.SignedPickle(b"k" * 32)
    for sent, packet in (
        (streamBuffer.ackMsg, streamBuffer.ackPacket),
        (streamBuffer.ackDataErrMsg, streamBuffer.ackDataErrPacket),
    ):
        assert codec.loads(sent.split(b">", 1)[1]) == packet


def test_a_frame_announced_over_the_limit_is_refused_before_it_is_read() -> None:
    buffer = seam.BoundedReceiveBuffer(seam.SignedPickle(b"k" * 32).loads)
    with pytest.raises(seam.FrameTooLarge):
        buffer.addMore(b"%d>" % (seam.MAX_FRAME + 1) + b"x" * 100)


def test_a_frame_within_the_limit_is_read_whole() -> None:
    codec = seam.SignedPickle(b"k" * 32)
    data = streamBuffer.toSendBuffer(("addr", "msg"), codec.dumps)
    buffer = seam.BoundedReceiveBuffer(codec.loads)
    buffer.addMore(data[:10])
    buffer.addMore(data[10:])
    assert buffer.completed() == (("addr", "msg"), b"")

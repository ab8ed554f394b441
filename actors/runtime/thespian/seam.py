"""The one place aiway changes Thespian: signed frames, bounded frames, bound where announced.

Thespian 4.0.1's TCP transport pickles every frame with a module-level
``serializer`` (``serializer.dumps``/``serializer.loads``, also through
``ReceiveBuffer(serializer.loads)``), and binds every listener to all
interfaces (``IPActorAddress.bindname = ('', port)``) whatever address it
announces. ``install(key)`` replaces three things, in this process and every
process it forks afterwards:

* ``TCPTransport.serializer`` becomes ``SignedPickle``: each frame is
  ``MAGIC + HMAC-SHA256(key, pickle) + pickle``; a frame whose tag does not
  match (``hmac.compare_digest``) is never unpickled: it is dropped, counted
  (``dropped_frames``) and logged (the first few, then every 1000th). Thespian
  then answers the peer with its data-error ack and closes the connection.
* ``TCPTransport.ReceiveBuffer`` refuses a frame announced larger than
  ``MAX_FRAME`` before reading it, so an unauthenticated peer costs at most
  that much memory per connection.
* ``IPActorAddress.bindArgs`` binds the address the system announces
  (``THESPIAN_BASE_IPADDR``: 127.0.0.1 unless ``--ip`` names an interface).

``verify()`` checks that those attributes still exist with the shape this
module relies on; ``install`` calls it and raises ``SeamMoved`` if a Thespian
upgrade moved them, rather than run unprotected.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import os
import pickle
import threading
from datetime import timedelta
from pathlib import Path
from types import CodeType

from thespian.system.admin import convention
from thespian.system.transport import IPBase, TCPTransport, streamBuffer

from aiway.actors.errors import AiwayError
from aiway.actors.runtime.thespian.secret import SECRET_FILE_ENV, load_secret

log = logging.getLogger(__name__)

#: what starts every signed frame (the format's version is in it)
MAGIC = b"aiway-hmac-sha256-1:"
_TAG = hashlib.sha256().digest_size
#: the largest frame accepted from a peer (bytes after the length prefix)
MAX_FRAME = 16 * 1024 * 1024
#: drops logged one by one before the log only notes every 1000th
LOGGED_DROPS = 8

# Thespian's transport-level acknowledgements are plain pickles of two constant
# strings, sent by the receiving side; they are recognised byte for byte (never
# unpickled), so they need no signature.
_ACKS: dict[bytes, str] = {
    streamBuffer.ackMsg.split(b">", 1)[1]: streamBuffer.ackPacket,
    streamBuffer.ackDataErrMsg.split(b">", 1)[1]: streamBuffer.ackDataErrPacket,
}


class SeamMoved(AiwayError, RuntimeError):
    """Thespian no longer has the attributes aiway patches: upgrade aiway's seam with it."""


class ForgedFrame(AiwayError, ValueError):
    """A frame without a valid signature (it was dropped, unread)."""


class FrameTooLarge(AiwayError, ValueError):
    """A peer announced a frame larger than ``MAX_FRAME``."""


_drops = 0
_drops_lock = threading.Lock()


def dropped_frames() -> int:
    """Frames this process dropped unread since it started (bad signature or too large)."""
    return _drops


def _dropped(reason: str) -> None:
    global _drops
    with _drops_lock:
        _drops += 1
        count = _drops
    if count <= LOGGED_DROPS or count % 1000 == 0:
        log.warning(
            "dropped a Thespian frame (%s) in process %d; %d dropped so far",
            reason,
            os.getpid(),
            count,
        )


class SignedPickle:
    """Thespian's ``serializer``: pickle, with an HMAC-SHA256 checked before any unpickling."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def dumps(self, obj: object) -> bytes:
        body = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        return MAGIC + self._tag(body) + body

    def loads(self, data: bytes) -> object:
        ack = _ACKS.get(bytes(data))
        if ack is not None:
            return ack
        head = len(MAGIC) + _TAG
        if len(data) < head or not data.startswith(MAGIC):
            _dropped(f"{len(data)} bytes, unsigned")
            raise ForgedFrame("an unsigned Thespian frame was dropped")
        body = data[head:]
        if not hmac.compare_digest(data[len(MAGIC) : head], self._tag(body)):
            _dropped(f"{len(data)} bytes, bad signature")
            raise ForgedFrame("a Thespian frame with a bad signature was dropped")
        return pickle.loads(body)


class BoundedReceiveBuffer(streamBuffer.ReceiveBuffer):  # type: ignore[misc]
    """Thespian's ``ReceiveBuffer`` that refuses a frame longer than ``MAX_FRAME``."""

    def addMore(self, buf: bytes) -> None:
        super().addMore(buf)
        size: int | None = vars(self).get("_size")
        if size is not None and size > MAX_FRAME:
            self._size, self._buf, self._extra = 0, b"", b""
            _dropped(f"announced {size} bytes, over {MAX_FRAME}")
            raise FrameTooLarge(f"a peer announced a {size}-byte frame (limit {MAX_FRAME})")


def _bind_announced(self: IPBase.IPActorAddress) -> tuple[object, ...]:
    return (self.sockname,)


def _names(code: CodeType) -> set[str]:
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            found |= _names(const)
    return found


def verify() -> None:
    """Raise ``SeamMoved`` unless Thespian still has what ``install`` replaces, as expected."""
    problems: list[str] = []
    serializer = getattr(TCPTransport, "serializer", None)
    if not (
        callable(getattr(serializer, "dumps", None))
        and callable(getattr(serializer, "loads", None))
    ):
        problems.append("TCPTransport.serializer (with dumps and loads) is gone")
    incoming = getattr(TCPTransport, "TCPIncoming_Common", None)
    if incoming is None or not {"ReceiveBuffer", "serializer"} <= _names(
        incoming.__init__.__code__
    ):
        problems.append("TCPIncoming_Common no longer builds ReceiveBuffer(serializer.loads)")
    transport = getattr(TCPTransport, "TCPTransport", None)
    if transport is None or "serializer" not in _names(transport.serializer.__code__):
        problems.append("TCPTransport.TCPTransport.serializer no longer uses serializer.dumps")
    buffer = getattr(TCPTransport, "ReceiveBuffer", None)
    if not (isinstance(buffer, type) and issubclass(buffer, streamBuffer.ReceiveBuffer)):
        problems.append("TCPTransport.ReceiveBuffer is not streamBuffer.ReceiveBuffer")
    elif "_size" not in inspect.getsource(streamBuffer.ReceiveBuffer.__init__):
        problems.append("ReceiveBuffer no longer keeps the announced size in _size")
    address = getattr(IPBase, "IPActorAddress", None)
    if address is None or not isinstance(
        inspect.getattr_static(address, "bindArgs", None), property
    ):
        problems.append("IPBase.IPActorAddress.bindArgs is no longer a property")
    elif "self.sockname" not in inspect.getsource(address.__init__):
        problems.append("IPActorAddress no longer keeps its announced address in sockname")
    for name in ("CONVENTION_REREGISTRATION_PERIOD", "CONVENTION_RESTART_PERIOD"):
        if not isinstance(getattr(convention, name, None), timedelta):
            problems.append(f"thespian.system.admin.convention.{name} is gone")
    if problems:
        raise SeamMoved(
            "Thespian's transport changed; aiway will not run it unprotected: "
            + "; ".join(problems)
        )


_installed: bytes | None = None


def install(key: bytes) -> None:
    """Sign and check every Thespian TCP frame of this process with ``key``; bind as announced.

    Call it before the system opens (its processes are forked from this one
    and inherit it). Installing again replaces the key.
    """
    global _installed
    if not key:
        raise ValueError("an empty key signs nothing")
    if not isinstance(TCPTransport.serializer, SignedPickle):
        verify()
    TCPTransport.serializer = SignedPickle(key)
    TCPTransport.ReceiveBuffer = BoundedReceiveBuffer
    IPBase.IPActorAddress.bindArgs = property(_bind_announced)
    _installed = key


def installed() -> bool:
    """True when this process signs its Thespian frames."""
    return _installed is not None


def install_from_file(path: Path) -> None:
    """Load the secret at ``path`` (created if missing), install it, and tell child processes.

    Child processes forked later inherit the patch; one started another way
    (spawn) finds the file through ``AIWAY_THESPIAN_SECRET_FILE`` in its
    environment (never on a command line) when it imports the cell or the
    guardian (``install_inherited``).
    """
    install(load_secret(path))
    os.environ[SECRET_FILE_ENV] = str(path)


def install_inherited() -> None:
    """In a Thespian child process: install the secret named by the environment, if any."""
    if _installed is None:
        path = os.environ.get(SECRET_FILE_ENV)
        if path:
            install(load_secret(Path(path), create=False))


def rejoin_every(seconds: float) -> None:
    """Members re-register with their leader every ``seconds`` (this process and its forks).

    Call it before the system opens, on the leader and on every member alike:
    a leader expects a registration at least every three periods.
    """
    if seconds <= 0:
        raise ValueError("the rejoin period must be positive")
    verify()
    period = timedelta(seconds=seconds)
    convention.CONVENTION_REREGISTRATION_PERIOD = period
    convention.CONVENTION_RESTART_PERIOD = period

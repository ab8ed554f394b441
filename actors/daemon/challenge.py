"""Challenge and response over TCP: both ends prove they know the token, neither sends it.

A TCP peer may be anyone, and a surface may reach a squatter that bound the
port while the daemon was down, so the token never crosses the wire. The
daemon opens with a ``Challenge`` frame carrying a fresh random nonce. The
surface answers with its ``Handshake``, whose ``token`` field carries
``hmac-sha256-v1:<client nonce>:<proof>``: an HMAC-SHA256, keyed by the token,
of both nonces. The daemon checks it (``hmac.compare_digest``) and, before its
``Welcome``, sends a ``ServerProof``: the HMAC of the same nonces under
another label. The surface checks that before it sends anything else. A
squatter learns one HMAC over a nonce it chose and a nonce the surface chose,
which no later challenge from the real daemon will ask for again.

These two frames are JSON objects with a ``type`` like every other frame, but
they belong to the link's authentication, not to the session's protocol, so
the converter does not know them: each end reads them here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import orjson

from aiway.actors.protocol import ProtocolError

SCHEME = "hmac-sha256-v1"
"""The name of this exchange, first in a response, so a later one can be told apart."""

CHALLENGE = "Challenge"
SERVER_PROOF = "ServerProof"
NONCE_BYTES = 32
_HEX_CHARS = frozenset("0123456789abcdef")


def new_nonce() -> str:
    """A fresh random nonce, hex."""
    return secrets.token_hex(NONCE_BYTES)


def challenge_payload(nonce: str) -> bytes:
    """The daemon's first frame to a TCP peer."""
    return orjson.dumps({"type": CHALLENGE, "scheme": SCHEME, "nonce": nonce})


def proof_payload(proof: str) -> bytes:
    """The daemon's proof that it knows the token, sent before its ``Welcome``."""
    return orjson.dumps({"type": SERVER_PROOF, "proof": proof})


def frame_type(payload: bytes) -> tuple[str | None, dict[str, object]]:
    """A frame's ``type`` and its JSON object; raises ``ProtocolError`` when it is not one."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    return (kind if isinstance(kind, str) else None), data


def read_challenge(data: dict[str, object]) -> str:
    """The nonce of a ``Challenge`` object; raises ``ProtocolError`` when it is not one of ours."""
    if data.get("scheme") != SCHEME:
        raise ProtocolError(f"the daemon asks for an unknown challenge scheme (not {SCHEME})")
    return _nonce(data.get("nonce"), "the challenge's nonce")


def read_server_proof(data: dict[str, object]) -> str:
    """The proof of a ``ServerProof`` object."""
    proof = data.get("proof")
    if not isinstance(proof, str) or len(proof) != 64:
        raise ProtocolError("the daemon's proof is not a 64-character hex string")
    return proof


def client_proof(token: str, server_nonce: str, client_nonce: str) -> str:
    """What the surface sends: HMAC-SHA256 of both nonces, keyed by the token."""
    return _mac(token, b"aiway surface", server_nonce, client_nonce)


def server_proof(token: str, server_nonce: str, client_nonce: str) -> str:
    """What the daemon sends back: the same nonces under the daemon's own label."""
    return _mac(token, b"aiway daemon", server_nonce, client_nonce)


def pack_response(client_nonce: str, proof: str) -> str:
    """The ``token`` field of a surface's ``Handshake`` over TCP."""
    return f"{SCHEME}:{client_nonce}:{proof}"


def unpack_response(text: str | None) -> tuple[str, str] | None:
    """``(client nonce, proof)`` from a handshake's ``token`` field; None if it is not one."""
    if text is None or len(text) > 256:
        return None
    scheme, _, rest = text.partition(":")
    nonce, _, proof = rest.partition(":")
    if scheme != SCHEME:
        return None
    try:
        return _nonce(nonce, "nonce"), _hex(proof, 64)
    except ProtocolError:
        return None


def proofs_match(given: str, expected: str) -> bool:
    """Constant-time comparison of two proofs."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _mac(token: str, label: bytes, server_nonce: str, client_nonce: str) -> str:
    message = b"|".join((label, server_nonce.encode(), client_nonce.encode()))
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def _nonce(value: object, what: str) -> str:
    return _hex(value, NONCE_BYTES * 2, what)


def _hex(value: object, length: int, what: str = "proof") -> str:
    if not isinstance(value, str) or len(value) != length or set(value) - _HEX_CHARS:
        raise ProtocolError(f"{what} must be {length} lowercase hex characters")
    return value
